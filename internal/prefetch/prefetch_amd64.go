package prefetch

// Line prefetches the cache line at address p (the flow table: the next
// packet's index slot).
//
//go:noescape
func Line(p uintptr)

// Lines prefetches the cache lines at addresses p and q in one call (the
// memo entries of a flow record's two addresses).
//
//go:noescape
func Lines(p, q uintptr)
