package meter

import (
	"context"
	"io"
	"os"
	"testing"

	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/transform/flow"
	"github.com/gimsproject/gims/transform/ipfix"
)

// BenchmarkTrace runs a whole capture file through the offline meter's
// path (libpcap reading, decode, biflows, IPFIX encoding to a discarded
// file), as gims-capd -r does; one op is one pass over the file. The file
// is $GIMS_BENCH_TRACE (bench/offline.sh generates bench/out/trace.pcap);
// without it the benchmark has nothing to read and is skipped. Set
// $GIMS_BENCH_KEY (any value) to anonymize too (flow records only, as
// gims-capd -r without -w), and $GIMS_BENCH_WRITE (any value) to give the
// meter a packet sink that drops the packets, so that every packet is
// anonymized (in place, as Run does). Use it with -cpuprofile to see where
// the offline meter spends its time.
func BenchmarkTrace(b *testing.B) {
	path := os.Getenv("GIMS_BENCH_TRACE")
	if path == "" {
		b.Skip("GIMS_BENCH_TRACE names no capture file")
	}
	cfg := Configuration{Flows: ptr(flow.DefaultConfiguration())}
	if os.Getenv("GIMS_BENCH_KEY") != "" {
		cfg.Key = &testKey
	}
	var sink PacketWriter
	if os.Getenv("GIMS_BENCH_WRITE") != "" {
		sink = discardWriter{}
	}
	b.ReportAllocs()
	var packets uint64
	for b.Loop() {
		src, err := capture.OpenFile(path, "")
		if err != nil {
			b.Fatal(err)
		}
		exp, err := ipfix.New(ipfix.DefaultConfiguration(), ipfix.NewFileTransport(io.Discard))
		if err != nil {
			b.Fatal(err)
		}
		m, err := New(cfg, src.LinkType(), Sinks{Packets: sink, Flows: func(r *flow.Record) { _ = exp.Add(r) }})
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Run(context.Background(), src); err != nil {
			b.Fatal(err)
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
}
