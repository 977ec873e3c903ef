//go:build !race

// Allocation tests build only without the race detector: under it
// sync.Pool drops items at random, so allocation counts mean nothing.

package packet

import (
	"fmt"
	"testing"
)

// TestSanitizeZeroAllocs checks that sanitizing does not allocate, for
// every adversarial frame, every benchmark frame, every frame of the sample
// captures and every payload mode.
func TestSanitizeZeroAllocs(t *testing.T) {
	frames := append(adversarialFrames(), sanitizeBenchFrames()...)
	for _, c := range samplePcaps(t) {
		for i, p := range c.packets {
			frames = append(frames, advFrame{name: fmt.Sprintf("%s packet %d", c.name, i+1), link: c.link, data: p.data})
		}
	}
	for _, p := range []PayloadMode{PayloadStrip, PayloadZero, PayloadKeep} {
		for _, f := range frames {
			s := newTestSanitizer(t, linkTypeOf(f.link), p, MACKeyed)
			frame := make([]byte, len(f.data))
			run := func() {
				copy(frame, f.data)
				s.Sanitize(frame)
			}
			run() // warm the caches and pools
			if allocs := testing.AllocsPerRun(10, run); allocs != 0 {
				t.Errorf("%s, payload %s: %.1f allocations per frame, want 0", f.name, p, allocs)
			}
		}
	}
}
