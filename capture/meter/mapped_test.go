package meter

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/transform/flow"
)

// truncatingReader reads a mapped capture.Source, or a Prefetcher that
// reads one, and truncates its file after the after-th packet, as another
// process could while it is read.
type truncatingReader struct {
	t        *testing.T
	src      MappedReader
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
// run with an error that names the file, where the fault (SIGBUS) would
// crash the process: read directly, through a Prefetcher that copies the
// packets (the fault is the prefetcher's), and through one that hands out
// the packets in the mapping (the meter's: the file is truncated once the
// prefetcher has read all of it).
func TestRunMappedFileTruncated(t *testing.T) {
	for _, ahead := range []string{"none", "copied", "in place"} {
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
		switch ahead {
		case "copied":
			p, err := NewPrefetcher(context.Background(), DefaultPrefetchConfiguration(), r)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			r = p
		case "in place":
			p, err := NewPrefetcher(context.Background(), PrefetchConfiguration{BatchBytes: 1 << 20, BatchPackets: 4000, Batches: 2}, src)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			r = &truncatingReader{t: t, src: p, path: path, after: 100}
		}
		m, err := New(Configuration{Flows: ptr(flow.DefaultConfiguration())}, layers.LinkTypeEthernet, Sinks{})
		if err != nil {
			t.Fatal(err)
		}
		err = m.Run(context.Background(), r)
		if err == nil || !strings.Contains(err.Error(), "changed while it was read") || !strings.Contains(err.Error(), path) {
			t.Errorf("read ahead %s: Run() = %v, want the file changed", ahead, err)
		}
		if n := m.Stats().Packets; n < 60 || n >= 4000 {
			t.Errorf("read ahead %s: %d packets metered before the fault, want those of the first 64 KiB", ahead, n)
		} else if ahead == "in place" && n < 99 {
			t.Errorf("read ahead in place: %d packets metered before the fault, want the 99 read before the truncation", n)
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

// TestPrefetcherMappedMatchesRun runs every sample pcap, mapped
// (capture.Source.MapFile), through a meter that reads it directly and
// through a Prefetcher that hands out the packets in the mapping, with
// the default batches and with batches of three packets, with a key and
// a packet sink: the written packets, flows and totals are the same. So
// they are for a file that grows after it was mapped.
func TestPrefetcherMappedMatchesRun(t *testing.T) {
	files, err := filepath.Glob("../../packet/testdata/pcaps/*.pcap")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample captures: %v", err)
	}
	type result struct {
		w     fuzzWriter
		flows []flow.Record
		stats Stats
	}
	// run meters path, mapped, directly or through a prefetcher; rest, if
	// any, is appended to the file once it is mapped (read with read(2)).
	run := func(t *testing.T, path string, pc *PrefetchConfiguration, rest []byte) (res result, mapped bool) {
		src, err := capture.OpenFile(path, "")
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if !src.MapFile() {
			return res, false // a file libpcap reads
		}
		if rest != nil {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(rest); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
		m, err := New(Configuration{Key: &testKey, Flows: ptr(flow.DefaultConfiguration())}, src.LinkType(), Sinks{
			Packets: &res.w,
			Flows:   func(r *flow.Record) { res.flows = append(res.flows, *r) },
		})
		if err != nil {
			t.Fatal(err)
		}
		var r Reader = src
		if pc != nil {
			p, err := NewPrefetcher(context.Background(), *pc, src)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			r = p
		}
		if err := m.Run(context.Background(), r); err != nil {
			t.Fatalf("Run() error:\n%+v", err)
		}
		if err := m.Flush(); err != nil {
			t.Fatal(err)
		}
		res.stats = m.Stats()
		return res, true
	}
	tested := 0
	for _, path := range files {
		want, mapped := run(t, path, nil, nil)
		if !mapped {
			continue
		}
		tested++
		for _, pc := range []PrefetchConfiguration{DefaultPrefetchConfiguration(), {BatchBytes: 100, BatchPackets: 3, Batches: 2}} {
			got, _ := run(t, path, &pc, nil)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s, batches of %d: %d packets written, %d flows, %+v; read directly %d, %d, %+v",
					filepath.Base(path), pc.BatchPackets, len(got.w.packets), len(got.flows), got.stats, len(want.w.packets), len(want.flows), want.stats)
			}
		}
	}
	if tested < len(files)/2 {
		t.Errorf("%d of %d sample files mapped", tested, len(files))
	}

	// A file that grows once mapped: the packets past the mapping are
	// read with read(2) and copied into the batches, the others not.
	whole, err := os.ReadFile("../../packet/testdata/pcaps/zeek__http-get.pcap")
	if err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(t.TempDir(), "full.pcap")
	if err := os.WriteFile(full, whole, 0o600); err != nil {
		t.Fatal(err)
	}
	want, _ := run(t, full, nil, nil)
	for _, pc := range []PrefetchConfiguration{DefaultPrefetchConfiguration(), {BatchBytes: 100, BatchPackets: 3, Batches: 2}} {
		growing := filepath.Join(t.TempDir(), "growing.pcap")
		if err := os.WriteFile(growing, whole[:len(whole)/2], 0o600); err != nil {
			t.Fatal(err)
		}
		got, _ := run(t, growing, &pc, whole[len(whole)/2:])
		if !reflect.DeepEqual(got, want) || len(got.w.packets) == 0 {
			t.Errorf("file grown once mapped, batches of %d: %d packets written, %d flows, %+v; the whole file %d, %d, %+v",
				pc.BatchPackets, len(got.w.packets), len(got.flows), got.stats, len(want.w.packets), len(want.flows), want.stats)
		}
	}
}
