package packet

import "unsafe"

// prefetch2 asks the processor to bring the cache lines at p and q into
// its caches, without waiting for them (PREFETCHT0; one call for the two
// addresses of a flow key).
//
//go:noescape
func prefetch2(p, q unsafe.Pointer)
