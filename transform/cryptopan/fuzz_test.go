package cryptopan

import (
	"encoding/binary"
	"testing"
)

// fuzzConfig has caches small enough that fuzzing inputs evict each other.
var fuzzConfig = Configuration{AddrCache4: 8, PrefixCache4: 8, AddrCache6: 8, PrefixCache6: 8}

// FuzzAnonymize4 checks the cached path against the reference on pairs of
// IPv4 addresses, and that the pair keeps its shared prefix length.
func FuzzAnonymize4(f *testing.F) {
	f.Add(uint32(0x18050050), uint32(0x180d3ee7)) // 24.5.0.80, 24.13.62.231
	f.Add(uint32(0), uint32(0xffffffff))
	f.Add(uint32(0x0a000001), uint32(0x0a000002))
	c := newTestCipher(f, fuzzConfig)
	ref := newReference(f, sampleKey(f))
	f.Fuzz(func(t *testing.T, x, y uint32) {
		var a, b [4]byte
		binary.BigEndian.PutUint32(a[:], x)
		binary.BigEndian.PutUint32(b[:], y)
		ea, eb := c.Anonymize4(a), c.Anonymize4(b)
		if want := ref.anonymize4(a); ea != want {
			t.Fatalf("Anonymize4(%v) = %v, want %v", a, ea, want)
		}
		if want := ref.anonymize4(b); eb != want {
			t.Fatalf("Anonymize4(%v) = %v, want %v", b, eb, want)
		}
		if got, want := commonPrefix(ea[:], eb[:]), commonPrefix(a[:], b[:]); got != want {
			t.Fatalf("%v, %v share %d bits, %d once anonymized", a, b, want, got)
		}
	})
}

// FuzzAnonymize16 checks the cached path against the reference on pairs of
// IPv6 addresses given as their two 64-bit halves, and that the pair keeps
// its shared prefix length.
func FuzzAnonymize16(f *testing.F) {
	f.Add(uint64(0), uint64(1), uint64(0), uint64(2))
	f.Add(uint64(0x20010db800000000), uint64(1), uint64(0x20010db800010000), uint64(1))
	f.Add(uint64(0xfe80000000000000), uint64(0x021122fffe334455), uint64(0xfe80000000000000), uint64(0x021122fffe334456))
	// Hosts numbered from the bottom of a /64 (the /112 and /120 levels).
	f.Add(uint64(0x20010db800c10003), uint64(0x10a0), uint64(0x20010db800c10003), uint64(0x10ff))
	f.Add(uint64(0x20010db800c10003), uint64(0x1_02a6), uint64(0x20010db800c10003), uint64(0x2_02a6))
	c := newTestCipher(f, fuzzConfig)
	ref := newReference(f, sampleKey(f))
	f.Fuzz(func(t *testing.T, ahi, alo, bhi, blo uint64) {
		var a, b [16]byte
		binary.BigEndian.PutUint64(a[:8], ahi)
		binary.BigEndian.PutUint64(a[8:], alo)
		binary.BigEndian.PutUint64(b[:8], bhi)
		binary.BigEndian.PutUint64(b[8:], blo)
		ea, eb := c.Anonymize16(a), c.Anonymize16(b)
		if want := ref.anonymize16(a); ea != want {
			t.Fatalf("Anonymize16(%x) = %x, want %x", a, ea, want)
		}
		if want := ref.anonymize16(b); eb != want {
			t.Fatalf("Anonymize16(%x) = %x, want %x", b, eb, want)
		}
		if got, want := commonPrefix(ea[:], eb[:]), commonPrefix(a[:], b[:]); got != want {
			t.Fatalf("%x, %x share %d bits, %d once anonymized", a, b, want, got)
		}
	})
}
