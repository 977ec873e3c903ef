package flow

import "github.com/gimsproject/gims/internal/tablemem"

// Sizes from which the table's arrays leave the Go heap. A table that
// grows past a few thousand flows moves its slab and links into address
// space set aside for MaxFlows entries (tablemem.Reserve): they then grow
// in place, with no copy and no garbage, on huge pages where the system
// has them. On the tiny-packet trace (120k flows) the slab's doubling
// copies and the page faults of a 4 KiB-paged heap were about a tenth of
// the meter's CPU, and the TLB misses of a random access into 12 MiB of
// small pages a good part of a new flow's cost. Small tables (tests, a
// quiet link) stay on the heap: a mapping each would be wasted.
const (
	offHeapEntries = 4096    // slab entries
	offHeapSlots   = 1 << 17 // index slots (1 MiB)
)

// offHeap holds the functions that give the table's off-heap arrays back;
// nil where an array is on the heap.
type offHeap struct {
	slab, links, index func()
}

// release gives every off-heap array back (the table's cleanup).
func (m *offHeap) release() {
	for _, f := range []func(){m.slab, m.links, m.index} {
		if f != nil {
			f()
		}
	}
	*m = offHeap{}
}

// slots returns a zeroed slot array of n slots for the index, off the
// heap from offHeapSlots, and the function that gives it back (nil for a
// heap array).
func (m *offHeap) slots(n int) ([]uint64, func()) {
	if n >= offHeapSlots {
		if s, release, ok := tablemem.Reserve[uint64](n); ok {
			return s[:n], release
		}
	}
	return make([]uint64, n), nil
}

// growSlab makes room for more entries in the slab and links: it moves
// them into space reserved for MaxFlows entries once they reach
// offHeapEntries (or grows them like append where that cannot be had).
func (t *Table) growSlab() {
	if t.mem != nil && t.mem.slab == nil && cap(t.slab) >= offHeapEntries/2 {
		slab, rs, ok := tablemem.Reserve[entry](t.maxFlows)
		if ok {
			links, rl, ok := tablemem.Reserve[[2]link](t.maxFlows)
			if ok {
				t.slab = append(slab, t.slab...)
				t.links = append(links, t.links...)
				t.mem.slab, t.mem.links = rs, rl
				return
			}
			rs()
		}
	}
	// Grow like append, but never past MaxFlows entries.
	n := min(max(2*cap(t.slab), 64), t.maxFlows)
	t.slab = append(make([]entry, 0, n), t.slab...)
	t.links = append(make([][2]link, 0, n), t.links...)
}
