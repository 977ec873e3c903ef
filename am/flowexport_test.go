package am

import (
	"bufio"
	"os"
	"runtime"
	"testing"

	"github.com/google/gopacket/pcapgo"

	"github.com/gimsproject/gims/packet"
)

// BenchmarkPcapCut cuts the packets of one flow (the first packet's) out
// of a pcap, as query.pcap does: $FLOWQUERY_PCAP (bench/flowquery.sh's
// trace, 1 GB at FQ_FLOWS=500000) or the repository's small trace. It
// reports the throughput and the heap in use at the end, which stays
// flat whatever the pcap's size.
func BenchmarkPcapCut(b *testing.B) {
	path := os.Getenv("FLOWQUERY_PCAP")
	if path == "" {
		path = "../cmd/gims-capd/testdata/pcaps/tcpreplay__test.pcap"
	}
	info, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(info.Size())
	var kept int
	for range b.N {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		r, err := pcapgo.NewReader(bufio.NewReaderSize(f, 1<<16))
		if err != nil {
			b.Fatal(err)
		}
		dec, err := packet.NewDecoder(r.LinkType())
		if err != nil {
			b.Fatal(err)
		}
		cut := &flowCut{flows: map[flowKey][]window{}, frags: map[fragKey][]window{}}
		var s packet.Summary
		for s.IPVersion == 0 || !s.HasPorts {
			data, ci, err := r.ReadPacketData()
			if err != nil {
				b.Fatal(err)
			}
			dec.Decode(data, ci, &s)
		}
		k := canonicalKey(s.Src, s.Dst, s.SrcPort, s.DstPort, s.VLAN, s.Proto)
		cut.flows[k] = []window{{start: 0, end: 1 << 62}}
		f.Seek(0, 0)
		src := &pcapSource{cut: cut, dec: dec}
		if src.r, err = pcapgo.NewReader(bufio.NewReaderSize(f, 1<<16)); err != nil {
			b.Fatal(err)
		}
		w := pcapgo.NewWriter(discard{})
		w.WriteFileHeader(65535, r.LinkType())
		kept = 0
		for {
			if err := src.next(); err != nil {
				b.Fatal(err)
			}
			if !src.ok {
				break
			}
			w.WritePacket(src.ci, src.data)
			kept++
		}
		f.Close()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(kept), "packets-kept")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
