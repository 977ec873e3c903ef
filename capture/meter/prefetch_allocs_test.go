//go:build !race

package meter

import (
	"context"
	"testing"
)

// TestPrefetcherAllocs: once its batches have grown, the prefetcher reads,
// copies or hands over in place, and hands over packets without
// allocating, on either side.
func TestPrefetcherAllocs(t *testing.T) {
	for _, r := range []Reader{&scriptReader{n: -1}, &aheadReader{back: make([]byte, 100_000), n: -1}} {
		p, err := NewPrefetcher(context.Background(), DefaultPrefetchConfiguration(), r)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		for range 100_000 { // every batch has been filled and grown
			if _, _, err := p.ZeroCopyReadPacketData(); err != nil {
				t.Fatal(err)
			}
		}
		allocs := testing.AllocsPerRun(50_000, func() {
			if _, _, err := p.ZeroCopyReadPacketData(); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%T: %v allocations per packet, want 0", r, allocs)
		}
	}
}
