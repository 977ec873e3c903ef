// Package prefetch asks the processor to bring cache lines into its caches
// ahead of use, without waiting for them (x86-64 PREFETCHT0). Go has no
// prefetch a package outside the runtime can use, so each is one
// instruction of assembly behind a call; other architectures get calls
// that do nothing.
//
// A prefetch never faults, whatever the address, and changes nothing a
// program can read: callers may pass any address, including a stale or a
// computed one, which is why the arguments are uintptrs.
package prefetch
