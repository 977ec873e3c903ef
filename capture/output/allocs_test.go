//go:build !race

// Allocation tests build only without the race detector (see
// capture/meter/allocs_test.go).

package output

import (
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

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

// TestDirectAllocs checks that the meter's direct path into the pcap
// buffer costs no allocation per packet, across the parts of a rotation
// by time (a part every 100 packets).
func TestDirectAllocs(t *testing.T) {
	cfg := files(t.TempDir())
	cfg.Counters, cfg.Flows = "", ""
	cfg.RotateEvery = 100 * time.Millisecond
	w := openWriter(t, cfg)
	defer w.Close()
	m, err := meter.New(meter.DefaultConfiguration(), layers.LinkTypeEthernet, w.Sinks())
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 80)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		w.Advance(at)
		m.Process(data, gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(data), Length: len(data)})
		i++
	})
	// A new part's file and writer are allocations of their own, once
	// per 100 packets: AllocsPerRun's average is a whole number, and
	// they do not make one.
	if allocs != 0 {
		t.Errorf("%.0f allocations per packet, want 0", allocs)
	}
	if w.direct.Buf == nil {
		t.Error("the direct path is off in the middle of a part")
	}
}
