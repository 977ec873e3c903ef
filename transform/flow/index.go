package flow

import (
	"encoding/binary"
	"math"
	"math/bits"
	"math/rand/v2"
)

// flowIndex finds a live flow's slab slot from its index key (Table.mapKey).
// It is an open-addressing hash table with linear probing over a
// power-of-two array of slots, at most half full, with backward-shift
// deletion (no tombstones, so lookups never slow down with churn). A slot
// is one uint64: the low 32 bits of the key's hash in the upper half and
// the slab slot + 1 in the lower half, 0 for an empty slot. The key itself
// is not stored: a slot whose hash bits match is confirmed against the
// slab entry's key. Nothing in it is a pointer, so the garbage collector
// does not scan it, and the home position of a slot's key comes from its
// hash bits, so growing and deleting never read the slab.
//
// It grows by doubling, up to the size that holds MaxFlows keys at half
// load, and never shrinks: once a table has seen its peak of live flows,
// Add does not allocate.
type flowIndex struct {
	slots    []uint64
	mask     uint64 // len(slots) - 1
	n        int    // keys in the index
	maxSlots int    // the size that holds MaxFlows keys at half load
	seed     uint64
	mem      *offHeap // the Table's, to put large slot arrays off the heap; nil: on the heap
}

// minSlots is the size of the first slot array.
const minSlots = 64

func newFlowIndex(maxFlows int) flowIndex {
	// The seed is random per table so that a crafted trace cannot aim many
	// flows at one probe sequence.
	return flowIndex{maxSlots: slotsFor(maxFlows), seed: rand.Uint64()}
}

// slotsFor returns the power of two that holds n keys at most half full.
func slotsFor(n int) int {
	s := minSlots
	for s/2 < n && s <= math.MaxInt/2 {
		s *= 2
	}
	return s
}

// wyhash's constants (github.com/wangyi-fudan/wyhash).
const (
	wyp0 = 0xa0761d6478bd642f
	wyp1 = 0xe7037ed1a0b428db
	wyp2 = 0x8ebc6af09c88c6e3
	wyp3 = 0x589965cc75374cc3
)

// wymix multiplies a and b to 128 bits and folds the halves.
func wymix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// hash hashes the 40 bytes of k the way wyhash hashes a 40-byte string.
func (x *flowIndex) hash(k *Key) uint64 {
	a := binary.LittleEndian.Uint64(k.Src[0:8])
	b := binary.LittleEndian.Uint64(k.Src[8:16])
	c := binary.LittleEndian.Uint64(k.Dst[0:8])
	d := binary.LittleEndian.Uint64(k.Dst[8:16])
	return x.hashWords(a, b, c, d, keyTail(k.SrcPort, k.DstPort, k.VLAN, k.Proto, k.IPVersion))
}

// keyTail packs a key's last 8 bytes (ports, VLAN, protocol, version) into
// the little-endian word hash reads there.
func keyTail(srcPort, dstPort, vlan uint16, proto, version uint8) uint64 {
	return uint64(srcPort) | uint64(dstPort)<<16 | uint64(vlan)<<32 |
		uint64(proto)<<48 | uint64(version)<<56
}

// hashWords is hash of the key whose five little-endian words are a, b
// (Src), c, d (Dst) and e (keyTail): AddLate hashes the words it holds in
// registers instead of reading back the key it has just stored.
func (x *flowIndex) hashWords(a, b, c, d, e uint64) uint64 {
	h := wymix(a^wyp1, b^x.seed)
	h = wymix(c^wyp2, d^h)
	h = wymix(e^wyp3, h^wyp0)
	return wymix(h^wyp1, 40^wyp0)
}

// slotTag is the part of a hash kept in a slot.
func slotTag(h uint64) uint64 { return h & 0xffffffff }

// insert adds slab slot i under hash h; the key must not be in the index.
func (x *flowIndex) insert(h uint64, i int32) {
	if 2*(x.n+1) > len(x.slots) {
		x.grow()
	}
	tag := slotTag(h)
	pos := tag & x.mask
	for x.slots[pos] != 0 {
		pos = (pos + 1) & x.mask
	}
	x.slots[pos] = tag<<32 | uint64(uint32(i)+1)
	x.n++
}

// grow doubles the slot array (or allocates the first one), up to
// maxSlots; a full-size array is never outgrown, since the table holds at
// most MaxFlows keys.
func (x *flowIndex) grow() {
	n := minSlots
	if len(x.slots) > 0 {
		n = 2 * len(x.slots)
	}
	if n > x.maxSlots {
		if len(x.slots) > 0 {
			return
		}
		n = x.maxSlots
	}
	old := x.slots
	var release func() // the old array's, when it was off the heap
	if x.mem != nil {
		release = x.mem.index
		x.slots, x.mem.index = x.mem.slots(n)
	} else {
		x.slots = make([]uint64, n)
	}
	x.mask = uint64(n - 1)
	for _, s := range old {
		if s == 0 {
			continue
		}
		pos := (s >> 32) & x.mask
		for x.slots[pos] != 0 {
			pos = (pos + 1) & x.mask
		}
		x.slots[pos] = s
	}
	if release != nil {
		release()
	}
}

// position returns where slab slot i, whose key hashes to h, sits.
func (x *flowIndex) position(h uint64, i int32) uint64 {
	want := slotTag(h)<<32 | uint64(uint32(i)+1)
	pos := h & x.mask
	for x.slots[pos] != want {
		pos = (pos + 1) & x.mask
	}
	return pos
}

// deleteAt empties slot pos and shifts back the keys after it that would
// otherwise no longer be found (backward-shift deletion), so that every
// key stays reachable from its home position without crossing an empty
// slot.
func (x *flowIndex) deleteAt(pos uint64) {
	j := pos
	for {
		j = (j + 1) & x.mask
		s := x.slots[j]
		if s == 0 {
			break
		}
		// The key at j may fill the hole if its home is not in (pos, j].
		if (j-(s>>32))&x.mask >= (j-pos)&x.mask {
			x.slots[pos] = s
			pos = j
		}
	}
	x.slots[pos] = 0
	x.n--
}

// reset empties the index, keeping its memory.
func (x *flowIndex) reset() {
	clear(x.slots)
	x.n = 0
}

// slotIndex returns the slab slot stored in a non-empty slot value.
func slotIndex(s uint64) int32 { return int32(uint32(s) - 1) }
