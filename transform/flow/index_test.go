package flow

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestIndexMatchesMap runs random sequences of inserts, lookups and
// deletes through the table's open-addressing index and through a Go map,
// and checks after every step that both agree, and regularly that the
// index's structure holds (checkIndex). The key space is small next to
// the operation count, so lookups hit and miss, probe runs grow long,
// wrap around the end of the slot array and are cut by deletions; the
// phases grow the index from empty to MaxFlows, churn at that size and
// shrink it back to empty.
func TestIndexMatchesMap(t *testing.T) {
	cases := []struct {
		name     string
		maxFlows int
		space    int // distinct keys
		ops      int
	}{
		{"one slot array, dense", 32, 64, 20000},
		{"one slot array, sparse", 20, 5000, 20000},
		{"growing to 4096 slots", 2000, 3000, 60000},
		{"IPv6 keys, growing", 700, 1500, 30000},
	}
	for ci, tc := range cases {
		for seed := range uint64(4) {
			t.Run(fmt.Sprintf("%s/seed %d", tc.name, seed), func(t *testing.T) {
				rnd := rand.New(rand.NewPCG(seed, uint64(ci)))
				cfg := DefaultConfiguration()
				cfg.Biflow = false // the index key is the key itself
				cfg.MaxFlows = tc.maxFlows
				tbl, err := New(cfg, func(*Record) {})
				if err != nil {
					t.Fatalf("New() error:\n%+v", err)
				}
				key := func(n int) Key {
					k := Key{Proto: 17, IPVersion: 4, SrcPort: uint16(n % 7), DstPort: 53}
					binary.BigEndian.PutUint32(k.Src[:4], 10<<24|uint32(n))
					if ci == 3 {
						k.IPVersion = 6
						binary.BigEndian.PutUint64(k.Src[8:], uint64(n)*0x9e3779b97f4a7c15)
						k.Dst[0] = 0x20
					}
					return k
				}
				ref := map[Key]int32{}
				var free []int32
				for op := range tc.ops {
					// Phases: grow (insert-heavy), churn, shrink (delete-heavy).
					insertShare := 70
					switch {
					case op > tc.ops*2/3:
						insertShare = 25
					case op > tc.ops/3:
						insertShare = 50
					}
					k := key(rnd.IntN(tc.space))
					h := tbl.index.hash(&k)
					i, ok := tbl.lookup(&k, h)
					want, wantOK := ref[k]
					if ok != wantOK || ok && i != want {
						t.Fatalf("op %d: lookup(%v) = %d, %v; the map says %d, %v", op, k.SrcAddr(), i, ok, want, wantOK)
					}
					r := rnd.IntN(100)
					switch {
					case !ok && r < insertShare && len(ref) < tc.maxFlows:
						if n := len(free); n > 0 {
							i = free[n-1]
							free = free[:n-1]
						} else {
							tbl.slab = append(tbl.slab, entry{})
							i = int32(len(tbl.slab) - 1)
						}
						tbl.slab[i] = entry{mkey: k, dstPort: k.DstPort, packets: 1, inActive: true}
						tbl.index.insert(h, i)
						ref[k] = i
					case ok && r >= insertShare:
						tbl.index.deleteAt(tbl.index.position(h, i))
						tbl.slab[i] = entry{}
						free = append(free, i)
						delete(ref, k)
					}
					if tbl.Len() != len(ref) {
						t.Fatalf("op %d: index holds %d keys, the map %d", op, tbl.Len(), len(ref))
					}
					if op%500 == 0 || op == tc.ops-1 {
						checkIndex(t, tbl)
						for k, want := range ref {
							if i, ok := tbl.lookup(&k, tbl.index.hash(&k)); !ok || i != want {
								t.Fatalf("op %d: lookup(%v) = %d, %v, want %d", op, k.SrcAddr(), i, ok, want)
							}
						}
					}
				}
				if got, limit := len(tbl.index.slots), slotsFor(tc.maxFlows); got > limit {
					t.Errorf("%d slots, more than the %d that hold MaxFlows at half load", got, limit)
				}
			})
		}
	}
}

// TestIndexBackwardShift checks deletion in a run of colliding keys that
// wraps around the end of the slot array: after deleting any one of them,
// the others are still found, in a table built by hand with chosen home
// slots (the hash bits of each slot say where its key belongs).
func TestIndexBackwardShift(t *testing.T) {
	// Slots (64): keys with homes 62, 62, 63, 0, 62, 1 fill 62, 63, 0, 1, 2, 3.
	homes := []uint64{62, 62, 63, 0, 62, 1}
	for del := range homes {
		t.Run(fmt.Sprintf("delete key %d", del), func(t *testing.T) {
			x := flowIndex{maxSlots: minSlots}
			for i, home := range homes {
				x.insert(home|uint64(i+1)<<8, int32(i)) // distinct hash bits, chosen home
			}
			want := map[int32]uint64{}
			for i, home := range homes {
				want[int32(i)] = home | uint64(i+1)<<8
			}
			x.deleteAt(x.position(want[int32(del)], int32(del)))
			delete(want, int32(del))
			if x.n != len(want) {
				t.Fatalf("%d keys after delete, want %d", x.n, len(want))
			}
			for i, h := range want {
				// Each remaining key is found from its home before an
				// empty slot.
				found := false
				for pos := h & x.mask; x.slots[pos] != 0; pos = (pos + 1) & x.mask {
					if slotIndex(x.slots[pos]) == i {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("key %d (home %d) lost after deleting key %d: slots %v", i, h&x.mask, del, x.slots[60:64])
				}
			}
		})
	}
}

// TestIndexKeyDirection holds the entry's index key and direction to
// their definition, on keys that share addresses, ports and ICMP types in
// every combination: a flow whose first packet had key r finds a packet
// with key k when t.mapKey(k) == t.mapKey(r), gives back r as its
// record's key, and counts k forward exactly when k goes from r.Src (and,
// but for ICMP, r.SrcPort).
func TestIndexKeyDirection(t *testing.T) {
	addrs := [][16]byte{{10, 0, 0, 1}, {10, 0, 0, 2}, {0x20, 1, 15: 1}}
	ports := []uint16{0, 53, 8 << 8, 0 << 8, 128 << 8, 129 << 8, 3<<8 | 1}
	var keys []Key
	for _, proto := range []uint8{6, 17, 1, 58} {
		for _, src := range addrs {
			for _, dst := range addrs {
				for _, sp := range ports[:3] {
					for _, dp := range ports {
						for _, vlan := range []uint16{0, 7} {
							keys = append(keys, Key{Src: src, Dst: dst, SrcPort: sp, DstPort: dp, VLAN: vlan, Proto: proto, IPVersion: 4})
						}
					}
				}
			}
		}
	}
	for _, biflow := range []bool{true, false} {
		tbl := &Table{biflow: biflow}
		for _, r := range keys {
			mr := r
			swapped := tbl.canonical(&mr)
			e := entry{mkey: mr, swapped: swapped, dstPort: r.DstPort}
			if got := e.recordKey(); got != r {
				t.Fatalf("biflow %v: record key %+v, want the first packet's %+v", biflow, got, r)
			}
			for _, k := range keys {
				mk := k
				swapped := tbl.canonical(&mk)
				if got, want := sameKey(&e.mkey, &mk), tbl.mapKey(k) == tbl.mapKey(r); got != want {
					t.Fatalf("biflow %v: sameKey for record %+v and packet %+v = %v, want %v", biflow, r, k, got, want)
				}
				if !sameKey(&e.mkey, &mk) {
					continue
				}
				want := !biflow || k.Src == r.Src && (isICMP(k.Proto) || k.SrcPort == r.SrcPort)
				if got := swapped == e.swapped; got != want {
					t.Fatalf("biflow %v: record %+v, packet %+v: forward %v, want %v", biflow, r, k, got, want)
				}
			}
		}
	}
}

// TestSlotsFor pins the index size for a MaxFlows: the smallest power of
// two, at least minSlots, that holds MaxFlows keys at most half full.
func TestSlotsFor(t *testing.T) {
	cases := []struct{ maxFlows, want int }{
		{1, 64}, {32, 64}, {33, 128}, {1000, 2048}, {1 << 20, 1 << 21}, {1<<20 + 1, 1 << 22}, {1 << 28, 1 << 29},
	}
	for _, tc := range cases {
		if got := slotsFor(tc.maxFlows); got != tc.want {
			t.Errorf("slotsFor(%d) = %d, want %d", tc.maxFlows, got, tc.want)
		}
	}
}
