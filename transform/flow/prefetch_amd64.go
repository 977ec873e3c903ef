package flow

// prefetch asks the processor to bring the cache line at address p into
// its caches without waiting for it (PREFETCHT0): it never faults, whatever
// the address, and changes nothing a program can read. Go has no prefetch
// a package outside the runtime can use, so it is one instruction of
// assembly behind a call.
func prefetch(p uintptr)
