package output

import (
	"testing"
	"time"

	"github.com/google/gopacket"
)

// BenchmarkWritePacket measures a packet written to the pcap file, with
// and without rotation by time and size (Advance and the size check
// before each packet; parts of 64 MB, so rotations are rare).
func BenchmarkWritePacket(b *testing.B) {
	for _, tc := range []struct {
		name  string
		every time.Duration
		bytes int64
	}{{"plain", 0, 0}, {"rotating", time.Second, 64e6}} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := files(b.TempDir())
			cfg.Counters, cfg.Flows = "", ""
			cfg.RotateEvery, cfg.RotateBytes = tc.every, tc.bytes
			w, err := New(cfg, Dependencies{})
			if err != nil {
				b.Fatal(err)
			}
			if err := w.Open(b.Context()); err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			s := w.Sinks().Packets
			data := make([]byte, 80)
			b.ReportAllocs()
			b.SetBytes(int64(16 + len(data)))
			for i := 0; b.Loop(); i++ {
				at := t0.Add(time.Duration(i) * time.Microsecond)
				w.Advance(at)
				_ = s.WritePacket(gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(data), Length: len(data)}, data)
			}
		})
	}
}
