//go:build !race

// Allocation tests build only without the race detector: under it
// sync.Pool drops items at random, so allocation counts mean nothing.

package macanon

import (
	"math/rand/v2"
	"testing"
)

// TestAllocs checks that mapping a MAC does not allocate, warm or cold
// cache, once the pool holds a buffer.
func TestAllocs(t *testing.T) {
	m := newTestMapper(t)
	rng := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct {
		pos string
		f   func()
	}{
		{"warm", func() { m.AnonymizeMAC([6]byte{0, 0x11, 0x22, 0x33, 0x44, 0x55}) }},
		{"cold", func() { m.AnonymizeMAC(toMAC(rng.Uint64() &^ (1 << 40))) }},
		{"group", func() { m.AnonymizeMAC([6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) }},
	} {
		tc.f()
		if got := testing.AllocsPerRun(200, tc.f); got != 0 {
			t.Errorf("%s: %v allocations per MAC, want 0", tc.pos, got)
		}
	}
}
