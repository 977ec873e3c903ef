package packet

import (
	"testing"
)

// identity is the cheapest Anonymizer, so benchmarks measure the rewrite.
type identity struct{}

func (identity) Anonymize4(a [4]byte) [4]byte    { return a }
func (identity) Anonymize16(a [16]byte) [16]byte { return a }

// TestZeroAllocs checks that decoding and anonymizing typical packets does
// not allocate once the Decoder is warm.
func TestZeroAllocs(t *testing.T) {
	for _, c := range decodeCases() {
		if c.want.Malformed || c.want.Truncated {
			continue // gopacket builds its errors with fmt.Errorf: not the hot path
		}
		t.Run(c.name, func(t *testing.T) {
			d, err := NewDecoder(c.link)
			if err != nil {
				t.Fatalf("NewDecoder() error:\n%+v", err)
			}
			frame := append([]byte(nil), c.data...)
			ci := captureInfo(frame, c.wireLen)
			var s Summary
			allocs := testing.AllocsPerRun(200, func() {
				d.Decode(frame, ci, &s)
				d.Anonymize(frame, &s, xorAnon{})
			})
			if allocs != 0 {
				t.Errorf("Decode+Anonymize allocates %.1f times per packet, want 0", allocs)
			}
		})
	}
	// And on every sample packet that decodes without error.
	for _, c := range samplePcaps(t) {
		d, _ := NewDecoder(c.linkType)
		var s Summary
		for i, p := range c.packets {
			d.Decode(p.data, p.ci, &s)
			if s.Malformed || s.Truncated {
				continue
			}
			frame := append([]byte(nil), p.data...)
			if allocs := testing.AllocsPerRun(20, func() {
				d.Decode(frame, p.ci, &s)
				d.Anonymize(frame, &s, xorAnon{})
			}); allocs != 0 {
				t.Errorf("%s packet %d: Decode+Anonymize allocates %.1f times, want 0", c.name, i+1, allocs)
			}
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	c := decodeCases()[0] // Ethernet/IPv4/TCP
	d, err := NewDecoder(c.link)
	if err != nil {
		b.Fatalf("NewDecoder() error:\n%+v", err)
	}
	ci := captureInfo(c.data, 0)
	var s Summary
	b.ReportAllocs()
	b.SetBytes(int64(len(c.data)))
	for b.Loop() {
		d.Decode(c.data, ci, &s)
	}
	if s.SrcPort != 40000 {
		b.Fatalf("SrcPort = %d, want 40000", s.SrcPort)
	}
}

func BenchmarkDecodeAnonymize(b *testing.B) {
	for _, i := range []int{0, 15} { // Ethernet/IPv4/TCP, ICMP error with a quote
		c := decodeCases()[i]
		b.Run(c.name, func(b *testing.B) {
			d, err := NewDecoder(c.link)
			if err != nil {
				b.Fatalf("NewDecoder() error:\n%+v", err)
			}
			frame := append([]byte(nil), c.data...)
			ci := captureInfo(frame, 0)
			var s Summary
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				d.Decode(frame, ci, &s)
				d.Anonymize(frame, &s, identity{})
			}
		})
	}
}

func BenchmarkDecodeSamples(b *testing.B) {
	c := readPcap(b, "testdata/pcaps/tcpreplay__test.pcap")
	d, err := NewDecoder(c.linkType)
	if err != nil {
		b.Fatalf("NewDecoder() error:\n%+v", err)
	}
	var s Summary
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range c.packets {
			d.Decode(p.data, p.ci, &s)
			d.Anonymize(p.data, &s, identity{})
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(c.packets)), "ns/packet")
}
