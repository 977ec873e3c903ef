package flow

import "unsafe"

// prefetch asks the processor to bring the cache line at p into its caches
// without waiting for it (PREFETCHT0): it never faults and changes nothing
// a program can read. Go has no prefetch a package outside the runtime can
// use, so it is one instruction of assembly behind a call.
//
//go:noescape
func prefetch(p unsafe.Pointer)
