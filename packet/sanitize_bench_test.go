package packet

import (
	"os"
	"testing"

	"github.com/google/gopacket/layers"

	"github.com/gimsproject/gims/internal/advcap"
)

// sanitizeBenchFrames are the frames the benchmarks sanitize.
func sanitizeBenchFrames() []advFrame {
	a4, b4 := [4]byte{192, 0, 2, 1}, [4]byte{198, 51, 100, 7}
	a := [6]byte{0x02, 0, 0, 0, 0, 1}
	b := [6]byte{0x02, 0, 0, 0, 0, 2}
	tcp := advcap.IPv4Pkt(a4, b4, 6, nil, advcap.TCPSeg(a4[:], b4[:], 40000, 443,
		[]byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}, make([]byte, 1200)))
	vx := advcap.Cat([]byte{8, 0, 0, 0, 0, 0x12, 0x34, 0}, advcap.EthFrame(b, a, 0x0800, tcp))
	return []advFrame{
		{name: "ethernet-ipv4-tcp", link: 1, data: advcap.EthFrame(b, a, 0x0800, tcp)},
		{name: "icmp-error", link: 1, data: advcap.EthFrame(b, a, 0x0800,
			advcap.IPv4Pkt(b4, a4, 1, nil, advcap.ICMP4Msg(3, 3, []byte{0, 0, 0, 0}, advcap.IPv4DNS(a4, b4))))},
		{name: "vxlan", link: 1, data: advcap.EthFrame(b, a, 0x0800, advcap.IPv4Pkt(b4, a4, 17, nil, advcap.UDPSeg(b4[:], a4[:], 50000, 4789, vx)))},
	}
}

// BenchmarkSanitize sanitizes typical frames with payload strip and MAC
// keyed, with the real mappers (warm caches) and with the identity
// mappings that BenchmarkDecodeAnonymize uses. Each iteration first
// restores the headers of the frame (its first 160 bytes: Sanitize with
// PayloadStrip writes nothing after them).
func BenchmarkSanitize(b *testing.B) {
	c, m := testMappers(b)
	for _, f := range sanitizeBenchFrames() {
		for _, mappers := range []struct {
			name string
			ip   Anonymizer
			mac  MACAnonymizer
		}{{"cryptopan", c, m}, {"identity", identity{}, identityMAC{}}} {
			b.Run(f.name+"/"+mappers.name, func(b *testing.B) {
				s, err := NewSanitizer(layers.LinkTypeEthernet, SanitizerConfig{IP: mappers.ip, MACs: mappers.mac})
				if err != nil {
					b.Fatalf("NewSanitizer() error:\n%+v", err)
				}
				frame := make([]byte, len(f.data))
				b.ReportAllocs()
				b.SetBytes(int64(len(frame)))
				copy(frame, f.data)
				hdr := min(len(frame), 160)
				for b.Loop() {
					copy(frame[:hdr], f.data[:hdr])
					if keep, _ := s.Sanitize(frame); keep == 0 {
						b.Fatal("frame dropped")
					}
				}
			})
		}
	}
}

// BenchmarkSanitizeSamples sanitizes every packet of the repository's
// trace, as BenchmarkDecodeSamples decodes and anonymizes it.
func BenchmarkSanitizeSamples(b *testing.B) {
	c := readPcap(b, "testdata/pcaps/tcpreplay__test.pcap")
	ip, mac := testMappers(b)
	s, err := NewSanitizer(c.linkType, SanitizerConfig{IP: ip, MACs: mac})
	if err != nil {
		b.Fatalf("NewSanitizer() error:\n%+v", err)
	}
	frames := make([][]byte, len(c.packets))
	for i, p := range c.packets {
		frames[i] = make([]byte, len(p.data))
	}
	b.ReportAllocs()
	for b.Loop() {
		for i, p := range c.packets {
			copy(frames[i], p.data)
			s.Sanitize(frames[i])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(c.packets)), "ns/packet")
}

type identityMAC struct{}

func (identityMAC) AnonymizeMAC(m [6]byte) [6]byte { return m }

// BenchmarkDecodeThen compares what the meter does per written packet:
// Decode then Anonymize (the IP-only rewriting of today) against Decode
// then Sanitize, both with the real mappers, on the benchmark frames.
func BenchmarkDecodeThen(b *testing.B) {
	c, m := testMappers(b)
	for _, f := range sanitizeBenchFrames() {
		d, err := NewDecoder(layers.LinkTypeEthernet)
		if err != nil {
			b.Fatalf("NewDecoder() error:\n%+v", err)
		}
		s, err := NewSanitizer(layers.LinkTypeEthernet, SanitizerConfig{IP: c, MACs: m})
		if err != nil {
			b.Fatalf("NewSanitizer() error:\n%+v", err)
		}
		frame := append([]byte(nil), f.data...)
		ci := captureInfo(frame, 0)
		hdr := min(len(frame), 160)
		var sum Summary
		b.Run(f.name+"/anonymize", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				copy(frame[:hdr], f.data[:hdr])
				d.Decode(frame, ci, &sum)
				d.Anonymize(frame, &sum, c)
			}
		})
		b.Run(f.name+"/sanitize", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				copy(frame[:hdr], f.data[:hdr])
				d.Decode(frame, ci, &sum)
				s.Sanitize(frame)
			}
		})
	}
}

// BenchmarkSanitizeTrace sanitizes the first 200000 packets of
// $GIMS_BENCH_TRACE (bench/offline.sh generates bench/out/trace.pcap)
// held in memory, payload strip and MAC keyed, one op per packet: the
// cost of Sanitize alone on a realistic mix, memos and caches warm after
// the first pass. Skipped without the variable.
func BenchmarkSanitizeTrace(b *testing.B) {
	path := os.Getenv("GIMS_BENCH_TRACE")
	if path == "" {
		b.Skip("GIMS_BENCH_TRACE names no capture file")
	}
	c := readPcap(b, path)
	pkts := c.packets[:min(len(c.packets), 200000)]
	ip, mac := testMappers(b)
	s, err := NewSanitizer(c.linkType, SanitizerConfig{IP: KeepReserved(ip), MACs: mac})
	if err != nil {
		b.Fatalf("NewSanitizer() error:\n%+v", err)
	}
	hdr := make([][]byte, len(pkts))
	for i, p := range pkts {
		hdr[i] = append([]byte(nil), p.data[:min(len(p.data), 160)]...)
	}
	// Each frame is sanitized in one buffer that holds its headers (as
	// the meter's frames are in the CPU caches, just decoded), and its
	// length (the bytes after the headers are not read with payload
	// strip).
	buf := make([]byte, DefaultSnaplen)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		frame := buf[:min(len(pkts[i].data), len(buf))]
		copy(frame, hdr[i])
		s.Sanitize(frame)
		if i++; i == len(pkts) {
			i = 0
		}
	}
}
