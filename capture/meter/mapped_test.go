package meter

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/transform/flow"
)

// truncatingReader reads a mapped capture.Source and truncates its file
// after the after-th packet, as another process could while it is read.
type truncatingReader struct {
	t        *testing.T
	src      *capture.Source
	path     string
	n, after int
}

func (r *truncatingReader) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	if r.n++; r.n == r.after {
		if err := os.Truncate(r.path, 64<<10); err != nil {
			r.t.Error(err)
		}
	}
	return r.src.ZeroCopyReadPacketData()
}

func (r *truncatingReader) MappedFault(addr uintptr) error { return r.src.MappedFault(addr) }

// TestRunMappedFileTruncated checks that a capture file truncated while
// the meter reads it through a mapping (capture.Source.MapFile) ends the
// run with an error that names the file, directly and through a
// Prefetcher, where the fault (SIGBUS) would crash the process.
func TestRunMappedFileTruncated(t *testing.T) {
	for _, ahead := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "shrinking.pcap")
		writeFrames(t, path, 4000, 1000)
		src, err := capture.OpenFile(path, "")
		if err != nil {
			t.Fatal(err)
		}
		if !src.MapFile() {
			t.Fatal("MapFile() = false")
		}
		var r Reader = &truncatingReader{t: t, src: src, path: path, after: 100}
		if ahead {
			p, err := NewPrefetcher(context.Background(), DefaultPrefetchConfiguration(), r)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			r = p
		}
		m, err := New(Configuration{Flows: ptr(flow.DefaultConfiguration())}, layers.LinkTypeEthernet, Sinks{})
		if err != nil {
			t.Fatal(err)
		}
		err = m.Run(context.Background(), r)
		if err == nil || !strings.Contains(err.Error(), "changed while it was read") || !strings.Contains(err.Error(), path) {
			t.Errorf("read ahead %t: Run() = %v, want the file changed", ahead, err)
		}
		if n := m.Stats().Packets; n < 60 || n >= 4000 {
			t.Errorf("read ahead %t: %d packets metered before the fault, want those of the first 64 KiB", ahead, n)
		}
		src.Close()
	}
}

// writeFrames writes a pcap file of n Ethernet frames of size bytes.
func writeFrames(t *testing.T, path string, n, size int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, size)
	copy(frame[12:], []byte{0x08, 0x00, 0x45})
	for i := range n {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, int64(i)*1000), CaptureLength: size, Length: size}
		if err := w.WritePacket(ci, frame); err != nil {
			t.Fatal(err)
		}
	}
}
