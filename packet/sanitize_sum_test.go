package packet

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/google/gopacket/layers"
)

// TestAdjustSumMatchesSteps checks the fast path's one update of a
// checksum by the sum of the differences of both addresses against the
// walk's update by each difference in turn (adjust, skipping 0 and
// 0xffff as applyDelta does), on edge values and random ones.
func TestAdjustSumMatchesSteps(t *testing.T) {
	edges := []uint16{0, 1, 2, 0x7fff, 0x8000, 0xfffd, 0xfffe, 0xffff}
	rng := rand.New(rand.NewPCG(1, 2))
	vals := func() []uint16 {
		v := append([]uint16(nil), edges...)
		for range 40 {
			v = append(v, uint16(rng.Uint32()))
		}
		return v
	}
	hcs, ds := vals(), vals()
	step := func(hc, d uint16, kind sumKind) uint16 {
		if d == 0 || d == 0xffff {
			return hc
		}
		n, _ := adjust(hc, d, kind)
		return n
	}
	for _, hc := range hcs {
		for _, d1 := range ds {
			for _, d2 := range ds {
				sum := fold64(uint64(d1) + uint64(d2))
				if got, want := adjustSum(hc, sum), step(step(hc, d1, sumPlain), d2, sumPlain); got != want {
					t.Fatalf("plain %#04x + %#04x + %#04x: adjustSum %#04x, steps %#04x", hc, d1, d2, got, want)
				}
				if got, want := adjustSumUDP(hc, sum), step(step(hc, d1, sumUDP), d2, sumUDP); got != want {
					t.Fatalf("UDP %#04x + %#04x + %#04x: adjustSumUDP %#04x, steps %#04x", hc, d1, d2, got, want)
				}
			}
		}
	}
}

// TestFold64 checks fold64 against the sum of the 16-bit words modulo
// 0xffff on sums of up to eight 64-bit words.
func TestFold64(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		x := rng.Uint64() >> rng.UintN(64)
		got := fold64(x)
		want := uint16(x % 0xffff)
		if got%0xffff != want {
			t.Fatalf("fold64(%#x) = %#04x, want ≡ %#04x mod 0xffff", x, got, want)
		}
		if x != 0 && got == 0 {
			t.Fatalf("fold64(%#x) = 0", x)
		}
	}
	if fold64(^uint64(0)) != 0xffff {
		t.Fatalf("fold64(max) = %#04x", fold64(^uint64(0)))
	}
}

// TestMemoAnonymizer checks that MemoAnonymizer maps as KeepReserved of
// its cipher, reserved addresses included, on first sightings and on
// memo hits (each address twice, and enough of them to evict).
func TestMemoAnonymizer(t *testing.T) {
	c, _ := testMappers(t)
	want := KeepReserved(c)
	for _, a := range []Anonymizer{c, KeepReserved(c)} {
		m := MemoAnonymizer(a)
		rng := rand.New(rand.NewPCG(5, 6))
		v4 := [][4]byte{{}, {255, 255, 255, 255}, {10, 0, 0, 1}}
		v6 := [][16]byte{{}, {0x20, 0x01, 0x0d, 0xb8, 15: 1}}
		for range 40000 {
			var a4 [4]byte
			var a16 [16]byte
			binary.BigEndian.PutUint32(a4[:], rng.Uint32()&0xffff03ff)
			binary.BigEndian.PutUint64(a16[:8], 0x20010db8_00000000|rng.Uint64()&0xff)
			binary.BigEndian.PutUint64(a16[8:], rng.Uint64()&0x3fff)
			v4, v6 = append(v4, a4), append(v6, a16)
		}
		for pass := range 2 {
			for _, x := range v4 {
				if got, w := m.Anonymize4(x), want.Anonymize4(x); got != w {
					t.Fatalf("pass %d: Anonymize4(%v) = %v, want %v", pass, x, got, w)
				}
			}
			for _, x := range v6 {
				if got, w := m.Anonymize16(x), want.Anonymize16(x); got != w {
					t.Fatalf("pass %d: Anonymize16(%x) = %x, want %x", pass, x, got, w)
				}
			}
		}
	}
}

// TestTCPOptionsKept checks the fast path's option check on the layouts
// it takes at a glance and on their near misses, which the general loop
// decides.
func TestTCPOptionsKept(t *testing.T) {
	syn := []byte{2, 4, 5, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 3, 3, 7}
	ts := []byte{1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8}
	mod := func(b []byte, i int, v byte) []byte {
		c := append([]byte(nil), b...)
		c[i] = v
		return c
	}
	cases := []struct {
		name string
		o    []byte
		want bool
	}{
		{"NOP NOP TS", ts, true},
		{"Linux SYN", syn, true},
		{"SYN, window scale of length 4", mod(syn, 18, 4), false},
		{"SYN, MSS of length 3", mod(syn, 1, 3), false},
		{"SYN, unknown option 30 for the NOP", mod(syn, 16, 30), false},
		{"SYN, end of options for the NOP", mod(syn, 16, 0), false},
		{"SYN, SACK permitted of length 3", mod(syn, 5, 3), false},
		{"TS, end of options then zeros", []byte{8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0}, true},
		{"none", nil, true},
	}
	for _, tc := range cases {
		if got := tcpOptionsKept(tc.o); got != tc.want {
			t.Errorf("%s (% x): %t, want %t", tc.name, tc.o, got, tc.want)
		}
	}
}

// countingAnonymizer counts the addresses it is asked to map.
type countingAnonymizer struct {
	a       Anonymizer
	n4, n16 int
}

func (c *countingAnonymizer) Anonymize4(x [4]byte) [4]byte    { c.n4++; return c.a.Anonymize4(x) }
func (c *countingAnonymizer) Anonymize16(x [16]byte) [16]byte { c.n16++; return c.a.Anonymize16(x) }

// TestMemoWays: four addresses that share a memo set (the suite's ipv6
// trace had 19,015 IPv6 memo misses for 4,656 addresses with two ways) all
// stay in the memo whatever the order they come back in (the
// mapper sees each once), each maps as the mapper does, and one more
// address pushes out the least recently used.
func TestMemoWays(t *testing.T) {
	const ways = 4
	c, _ := testMappers(t)
	want := KeepReserved(c)
	count := &countingAnonymizer{a: want}
	m, err := NewSanitizer(layers.LinkTypeEthernet, SanitizerConfig{IP: count, MAC: MACZero})
	if err != nil {
		t.Fatalf("NewSanitizer() error:\n%+v", err)
	}
	// Addresses that fall into set 0 of each memo (one more than its ways).
	var v4 [][4]byte
	for x := uint32(1); len(v4) < ways+1; x++ {
		if set4(x) == 0 {
			var a [4]byte
			binary.BigEndian.PutUint32(a[:], x)
			v4 = append(v4, a)
		}
	}
	var v6 [][16]byte
	for x := uint64(1); len(v6) < ways+1; x++ {
		if k0 := uint64(0x20010db8_00000000); set16(k0, x) == 0 {
			var a [16]byte
			binary.BigEndian.PutUint64(a[:8], k0)
			binary.BigEndian.PutUint64(a[8:], x)
			v6 = append(v6, a)
		}
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for round := range 200 {
		for _, i := range rng.Perm(ways) {
			if got, w := m.Anonymize4(v4[i]), want.Anonymize4(v4[i]); got != w {
				t.Fatalf("round %d: Anonymize4(%v) = %v, want %v", round, v4[i], got, w)
			}
		}
		for _, i := range rng.Perm(ways) {
			if got, w := m.Anonymize16(v6[i]), want.Anonymize16(v6[i]); got != w {
				t.Fatalf("round %d: Anonymize16(%x) = %x, want %x", round, v6[i], got, w)
			}
		}
	}
	if count.n4 != ways || count.n16 != ways {
		t.Fatalf("mapper asked for %d IPv4 and %d IPv6 addresses, want %d and %d (one per address)", count.n4, count.n16, ways, ways)
	}
	// Touch all but the first in order, then a new address: the first
	// (least recently used) goes, the others stay.
	for i := 1; i < ways; i++ {
		m.Anonymize4(v4[i])
	}
	for i := 1; i < ways; i++ {
		m.Anonymize16(v6[i])
	}
	m.Anonymize4(v4[ways])
	m.Anonymize16(v6[ways])
	for i := 1; i < ways; i++ {
		m.Anonymize4(v4[i])
	}
	for i := 1; i < ways; i++ {
		m.Anonymize16(v6[i])
	}
	if count.n4 != ways+1 || count.n16 != ways+1 {
		t.Fatalf("after one new address each: mapper asked for %d and %d, want %d and %d", count.n4, count.n16, ways+1, ways+1)
	}
	m.Anonymize4(v4[0])
	m.Anonymize16(v6[0])
	if count.n4 != ways+2 || count.n16 != ways+2 {
		t.Fatalf("the least recently used address: mapper asked for %d and %d, want %d and %d", count.n4, count.n16, ways+2, ways+2)
	}
}
