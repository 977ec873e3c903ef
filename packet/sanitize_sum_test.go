package packet

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
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
