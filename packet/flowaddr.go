package packet

import (
	"encoding/binary"
	"runtime"
	"unsafe"

	"github.com/gimsproject/gims/internal/prefetch"
	"github.com/gimsproject/gims/internal/tablemem"
)

// PairAnonymizer is an Anonymizer that also maps the two addresses of a
// flow key in place: what a meter does with every flow record it exports
// under a key. A Sanitizer is one, and so is what MemoAnonymizer returns.
type PairAnonymizer interface {
	Anonymizer
	// AnonymizePair maps src and dst in place as Anonymize4 (v4: each
	// address in the first 4 bytes of its array, the rest untouched) or
	// Anonymize16 maps them.
	AnonymizePair(v4 bool, src, dst *[16]byte)
	// AnonymizePairs maps the pairs of a batch of flow records in place, as
	// AnonymizePair maps each, prefetching the memo entries of the whole
	// batch first: the cache misses of the batch (the memo entries of a
	// capture's hosts are out of the cache by the time their flows end)
	// overlap instead of coming one after the other. (No prefetch where
	// internal/prefetch has no instruction for the architecture.)
	AnonymizePairs(pairs []AddrPair)
}

// AddrPair points to the two addresses of a flow key, for
// AnonymizePairs: V4 as AnonymizePair's v4. (Pointers, not the addresses:
// copying 33-byte values in and out of a batch cost more than the
// lookups, in stores that split cache lines.)
type AddrPair struct {
	Src, Dst *[16]byte
	V4       bool
}

// AnonymizePair maps the two addresses of a flow key in place, through
// the memos, as Anonymize4 or Anonymize16 map each: one call per flow
// record where the two methods take two calls through an interface, each
// copying its address in and out. Like Sanitize, it is not safe for
// concurrent use.
func (s *Sanitizer) AnonymizePair(v4 bool, src, dst *[16]byte) {
	if v4 {
		binary.BigEndian.PutUint32(src[:4], s.map4(binary.BigEndian.Uint32(src[:4])))
		binary.BigEndian.PutUint32(dst[:4], s.map4(binary.BigEndian.Uint32(dst[:4])))
		return
	}
	v0, v1 := s.map16(binary.BigEndian.Uint64(src[:8]), binary.BigEndian.Uint64(src[8:]))
	binary.BigEndian.PutUint64(src[:8], v0)
	binary.BigEndian.PutUint64(src[8:], v1)
	v0, v1 = s.map16(binary.BigEndian.Uint64(dst[:8]), binary.BigEndian.Uint64(dst[8:]))
	binary.BigEndian.PutUint64(dst[:8], v0)
	binary.BigEndian.PutUint64(dst[8:], v1)
}

// AnonymizePairs maps the pairs (see PairAnonymizer).
func (s *Sanitizer) AnonymizePairs(pairs []AddrPair) {
	for i := range pairs {
		p := &pairs[i]
		if p.V4 {
			prefetch.Lines(uintptr(unsafe.Pointer(&s.memo.v4[set4(binary.BigEndian.Uint32(p.Src[:4]))])),
				uintptr(unsafe.Pointer(&s.memo.v4[set4(binary.BigEndian.Uint32(p.Dst[:4]))])))
		} else {
			prefetch.Lines(uintptr(unsafe.Pointer(&s.memo.v6[set16(binary.BigEndian.Uint64(p.Src[:8]), binary.BigEndian.Uint64(p.Src[8:]))])),
				uintptr(unsafe.Pointer(&s.memo.v6[set16(binary.BigEndian.Uint64(p.Dst[:8]), binary.BigEndian.Uint64(p.Dst[8:]))])))
		}
	}
	for i := range pairs {
		p := &pairs[i]
		s.AnonymizePair(p.V4, p.Src, p.Dst)
	}
}

// Sizes of MemoAnonymizer's memos, in sets of 2 ways: 65536 IPv4
// addresses (512 KiB) and 32768 IPv6 addresses (1 MiB), as many as the
// cipher's own address caches hold by default. They are the only address
// memo of a capture that writes no packets (the meter then builds its
// cipher without address caches), so they are sized for all its hosts: a
// Sanitizer's memos (16384 and 8192 addresses) evicted each other's hosts
// on a trace of a few thousand IPv6 hosts, each eviction a lookup in the
// cipher's shared caches (a seqlocked, 4-way bucket of 160 bytes).
const (
	flowMemo4Bits  = 15
	flowMemo16Bits = 14
)

// MemoAnonymizer returns a PairAnonymizer that maps addresses as
// KeepReserved(a) does, through memos of its own (1.5 MiB allocated now,
// outside the Go heap; see flowMemo4Bits): for the flow records of a
// capture that writes no packets, whose addresses repeat from flow to
// flow. It is not safe for concurrent use.
func MemoAnonymizer(a Anonymizer) PairAnonymizer {
	k, ok := a.(keepReserved)
	if !ok {
		k = keepReserved{a}
	}
	memos, release := hugeTable[flowMemos](1)
	m := &memoAnonymizer{ip: k, v4: &memos[0].v4, v6: &memos[0].v6}
	runtime.AddCleanup(m, func(release func()) { release() }, release)
	return m
}

// flowMemos are the memos of a MemoAnonymizer, allocated together: 1.5
// MiB, one huge page where the system has them.
type flowMemos struct {
	v4 [1 << flowMemo4Bits][2]uint64
	v6 [1 << flowMemo16Bits][2]memo16Entry
}

// memoAnonymizer holds memos shaped like a Sanitizer's before it got 4 ways
// (2-way sets, the most recently used way first, a zero entry right for
// 0.0.0.0 and ::), sized for every host of a capture instead.
type memoAnonymizer struct {
	ip keepReserved
	v4 *[1 << flowMemo4Bits][2]uint64 // address<<32 | mapped
	v6 *[1 << flowMemo16Bits][2]memo16Entry
}

func (m *memoAnonymizer) Anonymize4(a [4]byte) [4]byte {
	var r [4]byte
	binary.BigEndian.PutUint32(r[:], m.map4(binary.BigEndian.Uint32(a[:])))
	return r
}

func (m *memoAnonymizer) Anonymize16(a [16]byte) [16]byte {
	return ip16(m.map16(binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:])))
}

func (m *memoAnonymizer) AnonymizePair(v4 bool, src, dst *[16]byte) {
	if v4 {
		binary.BigEndian.PutUint32(src[:4], m.map4(binary.BigEndian.Uint32(src[:4])))
		binary.BigEndian.PutUint32(dst[:4], m.map4(binary.BigEndian.Uint32(dst[:4])))
		return
	}
	v0, v1 := m.map16(binary.BigEndian.Uint64(src[:8]), binary.BigEndian.Uint64(src[8:]))
	binary.BigEndian.PutUint64(src[:8], v0)
	binary.BigEndian.PutUint64(src[8:], v1)
	v0, v1 = m.map16(binary.BigEndian.Uint64(dst[:8]), binary.BigEndian.Uint64(dst[8:]))
	binary.BigEndian.PutUint64(dst[:8], v0)
	binary.BigEndian.PutUint64(dst[8:], v1)
}

func (m *memoAnonymizer) AnonymizePairs(pairs []AddrPair) {
	for i := range pairs {
		p := &pairs[i]
		if p.V4 {
			prefetch.Lines(uintptr(unsafe.Pointer(&m.v4[flowSet4(binary.BigEndian.Uint32(p.Src[:4]))])),
				uintptr(unsafe.Pointer(&m.v4[flowSet4(binary.BigEndian.Uint32(p.Dst[:4]))])))
		} else {
			prefetch.Lines(uintptr(unsafe.Pointer(&m.v6[flowSet16(binary.BigEndian.Uint64(p.Src[:8]), binary.BigEndian.Uint64(p.Src[8:]))])),
				uintptr(unsafe.Pointer(&m.v6[flowSet16(binary.BigEndian.Uint64(p.Dst[:8]), binary.BigEndian.Uint64(p.Dst[8:]))])))
		}
	}
	for i := range pairs {
		p := &pairs[i]
		m.AnonymizePair(p.V4, p.Src, p.Dst)
	}
}

// Set indexes of MemoAnonymizer's memos, hashed as a Sanitizer's.
func flowSet4(x uint32) uint32       { return (x * golden32) >> (32 - flowMemo4Bits) }
func flowSet16(k0, k1 uint64) uint64 { return ((k0*golden64 ^ k1) * mix64c) >> (64 - flowMemo16Bits) }

// map4 maps the IPv4 address x (big-endian) through the memo, as
// Sanitizer.map4 does.
func (m *memoAnonymizer) map4(x uint32) uint32 {
	set := &m.v4[flowSet4(x)]
	if e := set[0]; e>>32 == uint64(x) {
		return uint32(e)
	}
	if e := set[1]; e>>32 == uint64(x) {
		set[0], set[1] = e, set[0]
		return uint32(e)
	}
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], x)
	r := m.ip.Anonymize4(a)
	v := binary.BigEndian.Uint32(r[:])
	set[1], set[0] = set[0], uint64(x)<<32|uint64(v)
	return v
}

// map16 maps the IPv6 address k0:k1 (big-endian halves) through the memo.
func (m *memoAnonymizer) map16(k0, k1 uint64) (uint64, uint64) {
	set := &m.v6[flowSet16(k0, k1)]
	if e := &set[0]; e.k0 == k0 && e.k1 == k1 {
		return e.v0, e.v1
	}
	if e := set[1]; e.k0 == k0 && e.k1 == k1 {
		set[0], set[1] = e, set[0]
		return e.v0, e.v1
	}
	var a [16]byte
	binary.BigEndian.PutUint64(a[:8], k0)
	binary.BigEndian.PutUint64(a[8:], k1)
	r := m.ip.Anonymize16(a)
	v0, v1 := binary.BigEndian.Uint64(r[:8]), binary.BigEndian.Uint64(r[8:])
	set[1], set[0] = set[0], memo16Entry{k0, k1, v0, v1}
	return v0, v1
}

// hugeTable returns n zeroed values of T outside the Go heap, on a huge
// page where the system gives them (tablemem.Reserve), and the function
// that returns the memory.
func hugeTable[T any](n int) ([]T, func()) {
	if s, release, ok := tablemem.Reserve[T](n); ok {
		return s[:n], release
	}
	return tablemem.Make[T](n)
}
