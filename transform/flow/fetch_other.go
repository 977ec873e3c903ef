//go:build !amd64

package flow

// fetchSlots loads slots[ps[j].h&mask] for every j, in one loop of
// independent plain loads (kept in Prepared.hint, so that the compiler
// keeps them): their cache misses overlap with each other, though the
// processor waits for the last of them before it goes on. mask is
// len(slots)-1.
func fetchSlots(slots []uint64, mask uint64, ps []Prepared) {
	for j := range ps {
		ps[j].hint = slots[ps[j].h&mask]
	}
}
