//go:build !race

// Allocation tests build only without the race detector (see
// capture/meter/allocs_test.go).

package output

import (
	"testing"
	"time"

	"github.com/google/gopacket"

	"github.com/gimsproject/gims/capture/meter"
)

// TestRotationAllocs checks that rotation costs no allocation per packet
// or flow: Advance and the size check before each write, between the
// rotations themselves.
func TestRotationAllocs(t *testing.T) {
	cfg := files(t.TempDir())
	cfg.Counters = ""
	cfg.RotateEvery, cfg.RotateBytes = time.Hour, 1<<40
	w := openWriter(t, cfg)
	defer w.Close()
	s := w.Sinks()
	data := make([]byte, 80)
	r := mkFlow(1)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		w.Advance(at)
		_ = s.Packets.WritePacket(gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(data), Length: len(data)}, data)
		_ = s.Packets.(meter.RecordWriter).WriteRecord(at, len(data)+1, data) // the meter's call
		s.Flows(r)
		i++
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per packet and flow, want 0", allocs)
	}
}
