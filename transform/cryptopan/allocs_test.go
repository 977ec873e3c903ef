//go:build !race

// Allocation tests build only without the race detector: under it sync.Pool
// drops items at random, so allocation counts mean nothing. `make test`
// runs the packages with such files a second time without -race.

package cryptopan

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestAllocs checks that anonymizing an address does not allocate, warm or
// cold cache, once the pool holds a buffer.
func TestAllocs(t *testing.T) {
	c := newTestCipher(t, DefaultConfiguration())
	rng := rand.New(rand.NewPCG(8, 9))
	a4, a6 := [4]byte{10, 1, 2, 3}, [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}
	cases := []struct {
		pos string
		f   func()
	}{
		{"IPv4 warm", func() { c.Anonymize4(a4) }},
		{"IPv4 cold", func() {
			x := rng.Uint32()
			c.Anonymize4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
		}},
		{"IPv6 warm", func() { c.Anonymize16(a6) }},
		{"IPv6 cold", func() {
			a := a6
			a[15], a[9] = byte(rng.Uint32()), byte(rng.Uint32())
			c.Anonymize16(a)
		}},
		{"netip", func() { c.AnonymizeAddr(netip.AddrFrom4(a4)) }},
	}
	for _, tc := range cases {
		t.Run(tc.pos, func(t *testing.T) {
			tc.f() // fill the pool
			if got := testing.AllocsPerRun(200, tc.f); got != 0 {
				t.Errorf("%s: %v allocations per address, want 0", tc.pos, got)
			}
		})
	}
}
