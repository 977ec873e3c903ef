package meter

import (
	"context"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"

	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/transform/flow"
	"github.com/gimsproject/gims/transform/ipfix"
)

// BenchmarkTrace runs a whole capture file through the offline meter's
// path (the file read through a mapping, decode, biflows, IPFIX encoding
// to a discarded file), as gims-capd -r does; one op is one pass over the file. The file
// is $GIMS_BENCH_TRACE (bench/offline.sh generates bench/out/trace.pcap);
// without it the benchmark has nothing to read and is skipped. Set
// $GIMS_BENCH_KEY (any value) to anonymize too (flow records only, as
// gims-capd -r without -w), and $GIMS_BENCH_WRITE (any value) to give the
// meter a packet sink that drops the packets, with a record buffer as
// gims-capd -w has (recordDiscard), so that every packet is sanitized as
// with -w. Use it with -cpuprofile to see where
// the offline meter spends its time.
//
// The file is read with read(2), as gims-capd reads it; $GIMS_BENCH_MMAP
// (any value) maps it, as gims-capd -mmap does.
// $GIMS_BENCH_READAHEAD (any value) reads through a Prefetcher, as
// gims-capd -r -read-ahead does; $GIMS_BENCH_READONLY (any value) only
// reads the file, without a meter: the reading stage alone, which
// read-ahead moves to another core. Besides wall time per packet, the
// benchmark reports the process's CPU time (user + system, from
// getrusage) per packet, the figure that a shared machine disturbs least.
func BenchmarkTrace(b *testing.B) {
	path := os.Getenv("GIMS_BENCH_TRACE")
	if path == "" {
		b.Skip("GIMS_BENCH_TRACE names no capture file")
	}
	cfg := Configuration{Flows: ptr(flow.DefaultConfiguration())}
	if os.Getenv("GIMS_BENCH_KEY") != "" {
		cfg.Key = &testKey
	}
	var sink *recordDiscard
	if os.Getenv("GIMS_BENCH_WRITE") != "" {
		sink = newRecordDiscard()
	}
	readAhead := os.Getenv("GIMS_BENCH_READAHEAD") != ""
	readOnly := os.Getenv("GIMS_BENCH_READONLY") != ""
	mmap := os.Getenv("GIMS_BENCH_MMAP") != ""
	b.ReportAllocs()
	var packets uint64
	cpu0 := cpuTime(b)
	for b.Loop() {
		src, err := capture.OpenFile(path, "")
		if err != nil {
			b.Fatal(err)
		}
		if mmap {
			src.MapFile()
		}
		if readOnly {
			for {
				if _, _, err := src.ZeroCopyReadPacketData(); err != nil {
					break
				}
				packets++
			}
			src.Close()
			continue
		}
		var r Reader = src
		var p *Prefetcher
		if readAhead {
			if p, err = NewPrefetcher(context.Background(), DefaultPrefetchConfiguration(), src); err != nil {
				b.Fatal(err)
			}
			r = p
		}
		exp, err := ipfix.New(ipfix.DefaultConfiguration(), ipfix.NewFileTransport(io.Discard))
		if err != nil {
			b.Fatal(err)
		}
		sinks := Sinks{Flows: func(r *flow.Record) { _ = exp.Add(r) }}
		if sink != nil {
			sinks.Packets, sinks.Records = sink, &sink.rb
		}
		m, err := New(cfg, src.LinkType(), sinks)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Run(context.Background(), r); err != nil {
			b.Fatal(err)
		}
		if p != nil {
			p.Close()
		}
		if err := m.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := exp.Close(); err != nil {
			b.Fatal(err)
		}
		src.Close()
		packets += m.Stats().Packets
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(packets), "ns/packet")
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(packets), "cpu-ns/packet")
}

// cpuTime returns the process's user and system CPU time so far, in
// nanoseconds.
func cpuTime(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// recordDiscard is a Packets sink with a record buffer (Sinks.Records), as
// capture/output's pcap writer has, that drops the records whenever the
// buffer fills: the meter's direct path as with -w, without a file.
type recordDiscard struct {
	buf []byte
	n   int
	rb  RecordBuffer
}

func newRecordDiscard() *recordDiscard {
	d := &recordDiscard{buf: make([]byte, 1<<20)}
	d.rb = RecordBuffer{Buf: d.buf, N: &d.n}
	return d
}

func (d *recordDiscard) WritePacket(gopacket.CaptureInfo, []byte) error { d.n = 0; return nil }

func (d *recordDiscard) WriteRecord(time.Time, int, []byte) error { d.n = 0; return nil }
