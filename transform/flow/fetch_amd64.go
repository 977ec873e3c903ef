package flow

// fetchSlots starts loading slots[ps[j].h&mask] for every j, with a
// prefetch instruction each: the processor does not wait for them, so
// the misses of a batch overlap with each other and with the work before
// the packets' lookups. ps and slots are not empty, and mask is
// len(slots)-1.
func fetchSlots(slots []uint64, mask uint64, ps []Prepared) {
	prefetchSlots(&slots[0], mask, &ps[0], len(ps))
}

// prefetchSlots is fetchSlots in assembly: PREFETCHT0 of
// slots[ps[j].h&mask] for j < n, n > 0.
//
//go:noescape
func prefetchSlots(slots *uint64, mask uint64, ps *Prepared, n int)
