package job

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/capture/output"
)

// BenchmarkReadPacket measures what a job's reader adds to every packet
// (the periodic-work and pause checks) on top of libpcap reading a file.
func BenchmarkReadPacket(b *testing.B) {
	const path = "testdata/pcaps/tcpreplay__test.pcap"
	open := func() *capture.Source {
		src, err := capture.OpenFile(path, "")
		if err != nil {
			b.Fatal(err)
		}
		return src
	}
	// A writer with no outputs: the reader checks it for a failed write.
	out, err := output.New(output.DefaultConfiguration(), output.Dependencies{})
	if err != nil {
		b.Fatal(err)
	}
	seg := &segment{src: open(), out: out, file: true}
	r := &reader{seg: seg, ctx: context.Background()}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, _, err := r.ZeroCopyReadPacketData(); errors.Is(err, io.EOF) {
			b.StopTimer()
			seg.src.Close()
			seg.src = open()
			b.StartTimer()
		} else if err != nil {
			b.Fatal(err)
		}
	}
	seg.src.Close()
}
