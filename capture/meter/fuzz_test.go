package meter

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/gimsproject/gims/packet"
	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/cryptopan"
	"github.com/gimsproject/gims/transform/flow"
)

// fuzzLinkTypes are the link types a fuzz input may select (its first
// argument, modulo the length).
func fuzzLinkTypes() []layers.LinkType {
	return []layers.LinkType{
		layers.LinkTypeEthernet, layers.LinkTypeRaw, packet.LinkTypeLinuxSLL2, layers.LinkTypeLinuxSLL,
		layers.LinkTypeNull, layers.LinkTypeLoop, layers.LinkTypeIPv4, layers.LinkTypeIPv6,
		packet.LinkTypeRawDLT12, packet.LinkTypeRawDLT14,
	}
}

// fuzzPacket is one packet of a fuzz input.
type fuzzPacket struct {
	data []byte
	ci   gopacket.CaptureInfo
}

// fuzzBase is the timestamp of a fuzz input's first packet.
var fuzzBase = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// Encoding of a fuzz input's packets, back to back: one time byte, two
// bytes of captured length (big endian, cut to what is left), the frame.
// The time byte t moves the clock before the packet: forward by
// (t&0x7f)² × 10 ms (up to 2'41", past the fuzz flow timeouts), or
// backward by (t&0x7f) × 100 ms when t&0x80 (out-of-order captures). A
// frame whose length is a multiple of 7 has a wire length 60 octets longer
// (a snaplen cut).
const fuzzPacketHeader = 3

// splitFuzzInput decodes a fuzz input into packets.
func splitFuzzInput(in []byte) []fuzzPacket {
	var out []fuzzPacket
	ts := fuzzBase
	for len(in) >= fuzzPacketHeader {
		t, n := in[0], int(binary.BigEndian.Uint16(in[1:3]))
		in = in[fuzzPacketHeader:]
		n = min(n, len(in))
		if t&0x80 != 0 {
			ts = ts.Add(-time.Duration(t&0x7f) * 100 * time.Millisecond)
		} else {
			d := time.Duration(t) * time.Duration(t)
			ts = ts.Add(d * 10 * time.Millisecond)
		}
		wire := n
		if n%7 == 0 {
			wire += 60
		}
		out = append(out, fuzzPacket{data: in[:n:n], ci: gopacket.CaptureInfo{Timestamp: ts, CaptureLength: n, Length: wire}})
		in = in[n:]
	}
	return out
}

// appendFuzzPacket encodes one packet of a seed (timestamps become
// forward steps of the fuzz clock, roughly).
func appendFuzzPacket(dst []byte, gap time.Duration, data []byte) []byte {
	t := byte(0)
	if gap > 0 {
		steps := int(gap / (10 * time.Millisecond))
		for t < 0x7f && int(t)*int(t) < steps {
			t++
		}
	}
	dst = append(dst, t)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(data)))
	return append(dst, data...)
}

// fuzzWriter keeps what the meter writes: the anonymized packets.
type fuzzWriter struct {
	packets [][]byte
}

func (w *fuzzWriter) WritePacket(_ gopacket.CaptureInfo, data []byte) error {
	w.packets = append(w.packets, slices.Clone(data))
	return nil
}

// FuzzMeter runs a sequence of fuzzed packets of one link type through a
// whole meter with anonymization, counters, flows and a packet writer, as
// a capture job does, and checks what must hold whatever the packets:
//   - nothing panics, the input frames are not modified;
//   - the meter counts every packet, and its NonIP, Truncated, Malformed
//     and Fragments totals are those of the decoder's summaries;
//   - the counter intervals add up to every packet and its wire length,
//     and their per-protocol counts add up to the packets;
//   - the exported flows add up to every IP packet and its IP octets,
//     each record has a packet and does not end before it starts;
//   - the written packets are the input with only addresses (and the
//     checksums covering them) rewritten: same length, same IP version,
//     ports and protocol, each address replaced by its Crypto-PAn image,
//     and one input address always maps to one output address and back;
//   - the exported flows' addresses are anonymized ones.
//
// The seed corpus (testdata/fuzz/FuzzMeter) holds every packet of the
// sample captures, in sequences of consecutive packets.
func FuzzMeter(f *testing.F) {
	f.Add(uint8(0), []byte{})
	f.Add(uint8(1), []byte{0, 0, 20, 0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2})
	key := testKey
	cipher, err := cryptopan.New(key[:])
	if err != nil {
		f.Fatal(err)
	}
	links := fuzzLinkTypes()
	f.Fuzz(func(t *testing.T, link uint8, in []byte) {
		lt := links[int(link)%len(links)]
		pkts := splitFuzzInput(in)
		if len(pkts) > 512 {
			pkts = pkts[:512]
		}
		orig := make([][]byte, len(pkts))
		for i, p := range pkts {
			orig[i] = slices.Clone(p.data)
		}

		var (
			w     fuzzWriter
			ctrs  []counters.Record
			flows []flow.Record
		)
		m, err := New(Configuration{
			Key:      &key,
			Counters: &counters.Configuration{Interval: time.Second},
			Flows:    &flow.Configuration{ActiveTimeout: 30 * time.Second, IdleTimeout: 10 * time.Second, Biflow: link&0x80 == 0, MaxFlows: 8},
		}, lt, Sinks{
			Packets:  &w,
			Counters: func(r counters.Record) { ctrs = append(ctrs, r) },
			Flows:    func(r *flow.Record) { flows = append(flows, *r) },
		})
		if err != nil {
			t.Fatalf("New(link %d) error:\n%+v", lt, err)
		}
		for i, p := range pkts {
			m.Process(p.data, p.ci)
			if i%5 == 4 {
				m.Advance(p.ci.Timestamp.Add(2 * time.Second))
			}
		}
		if err := m.Flush(); err != nil {
			t.Fatalf("Flush() error:\n%+v", err)
		}

		// What the decoder says about each packet, before and after.
		dIn, _ := packet.NewDecoder(lt)
		dOut, _ := packet.NewDecoder(lt)
		var want Stats
		var ipPackets, ipBytes, wireBytes uint64
		fwd := map[[16]byte][16]byte{}
		rev := map[[16]byte][16]byte{}
		anonAddrs := map[[16]byte]bool{}
		if len(w.packets) != len(pkts) {
			t.Fatalf("%d packets written, want %d", len(w.packets), len(pkts))
		}
		for i, p := range pkts {
			if !bytes.Equal(p.data, orig[i]) {
				t.Fatalf("packet %d: the meter modified its input", i)
			}
			var s, a packet.Summary
			dIn.Decode(p.data, p.ci, &s)
			dOut.Decode(w.packets[i], p.ci, &a)
			want.Packets++
			wireBytes += uint64(max(s.WireLen, 0))
			if s.IPVersion == 0 {
				want.NonIP++
			} else {
				ipPackets++
				ipBytes += uint64(max(s.IPLen, 0))
			}
			if s.Truncated {
				want.Truncated++
			}
			if s.Malformed {
				want.Malformed++
			}
			if s.Fragment {
				want.Fragments++
			}
			out := w.packets[i]
			if len(out) != len(p.data) {
				t.Fatalf("packet %d: written with %d octets, read %d", i, len(out), len(p.data))
			}
			if s.IPVersion == 0 {
				if !bytes.Equal(out, p.data) {
					t.Fatalf("packet %d: non-IP packet rewritten:\n got %x\nwant %x", i, out, p.data)
				}
				continue
			}
			if a.IPVersion != s.IPVersion || a.Proto != s.Proto || a.HasPorts != s.HasPorts ||
				a.SrcPort != s.SrcPort || a.DstPort != s.DstPort || a.VLAN != s.VLAN {
				t.Fatalf("packet %d: anonymized packet decodes differently:\n got %+v\nwant %+v", i, a, s)
			}
			for _, pair := range [][2][16]byte{{s.Src, a.Src}, {s.Dst, a.Dst}} {
				in, got := pair[0], pair[1]
				var image [16]byte
				if s.IPVersion == 4 {
					v := cipher.Anonymize4([4]byte(in[:4]))
					copy(image[:], v[:])
				} else {
					image = cipher.Anonymize16(in)
				}
				if got != image {
					t.Fatalf("packet %d: address %x written as %x, want its Crypto-PAn image %x", i, in, got, image)
				}
				if prev, ok := fwd[in]; ok && prev != got {
					t.Fatalf("packet %d: address %x written as %x, earlier as %x", i, in, got, prev)
				}
				if prev, ok := rev[got]; ok && prev != in {
					t.Fatalf("packet %d: addresses %x and %x both written as %x", i, in, prev, got)
				}
				fwd[in], rev[got] = got, in
				anonAddrs[got] = true
			}
		}

		st := m.Stats()
		if st.Packets != want.Packets || st.NonIP != want.NonIP || st.Truncated != want.Truncated ||
			st.Malformed != want.Malformed || st.Fragments != want.Fragments || st.WriteErrors != 0 {
			t.Fatalf("meter stats %+v, want %+v", st, want)
		}
		if st.Bytes != wireBytes {
			t.Fatalf("meter counted %d bytes, want %d", st.Bytes, wireBytes)
		}
		if st.CounterIntervals != uint64(len(ctrs)) || st.FlowsExported != uint64(len(flows)) {
			t.Fatalf("meter says %d intervals and %d flows, sinks got %d and %d",
				st.CounterIntervals, st.FlowsExported, len(ctrs), len(flows))
		}

		var c counters.Record
		for i, r := range ctrs {
			if r.TCP+r.UDP+r.ICMP+r.Other != r.Packets {
				t.Fatalf("interval %d: protocols add up to %d packets, want %d", i, r.TCP+r.UDP+r.ICMP+r.Other, r.Packets)
			}
			if i > 0 && !r.Start.After(ctrs[i-1].Start) {
				t.Fatalf("interval %d starts at %v, not after the previous one (%v)", i, r.Start, ctrs[i-1].Start)
			}
			c.Packets += r.Packets
			c.Bytes += r.Bytes
		}
		if c.Packets != want.Packets || c.Bytes != wireBytes {
			t.Fatalf("counters add up to %d packets, %d bytes; want %d, %d", c.Packets, c.Bytes, want.Packets, wireBytes)
		}

		var fp, fb uint64
		for i, r := range flows {
			if r.Packets+r.RevPackets == 0 {
				t.Fatalf("flow %d has no packet: %+v", i, r)
			}
			if r.End.Before(r.Start) {
				t.Fatalf("flow %d ends (%v) before it starts (%v)", i, r.End, r.Start)
			}
			if !anonAddrs[r.Key.Src] || !anonAddrs[r.Key.Dst] {
				t.Fatalf("flow %d: addresses %v -> %v are not anonymized ones", i, r.Key.SrcAddr(), r.Key.DstAddr())
			}
			fp += r.Packets + r.RevPackets
			fb += r.Bytes + r.RevBytes
		}
		if fp != ipPackets || fb != ipBytes {
			t.Fatalf("flows add up to %d packets, %d bytes; want the %d IP packets, %d bytes", fp, fb, ipPackets, ipBytes)
		}
	})
}

const meterCorpusDir = "testdata/fuzz/FuzzMeter"

// seedPackets is how many consecutive packets of a capture make one seed.
const seedPackets = 6

// meterSeeds returns the seed inputs made of the sample captures in dir:
// each capture's packets in runs of seedPackets, keyed by file name.
func meterSeeds(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	links := fuzzLinkTypes()
	names, err := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no sample capture in %s: %v", dir, err)
	}
	seeds := map[string][]byte{}
	for _, name := range names {
		lt, pkts := readCapture(t, name)
		idx := slices.Index(links, lt)
		if idx < 0 {
			t.Logf("%s: link type %d not fuzzed", name, lt)
			continue
		}
		base := strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
		for i := 0; i < len(pkts); i += seedPackets {
			var in []byte
			for j := i; j < min(i+seedPackets, len(pkts)); j++ {
				gap := time.Duration(0)
				if j > i {
					gap = pkts[j].ci.Timestamp.Sub(pkts[j-1].ci.Timestamp)
				}
				in = appendFuzzPacket(in, gap, pkts[j].data)
			}
			seeds[fmt.Sprintf("%s-%03d", base, i/seedPackets)] = fmt.Appendf(nil, "go test fuzz v1\nbyte(%q)\n[]byte(%q)\n", byte(idx), in)
		}
	}
	return seeds
}

// readCapture reads every packet of a pcap or pcapng file.
func readCapture(t *testing.T, path string) (layers.LinkType, []fuzzPacket) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		r  gopacket.PacketDataSource
		lt layers.LinkType
	)
	if strings.HasSuffix(path, ".pcapng") {
		ng, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r, lt = ng, ng.LinkType()
	} else {
		pr, err := pcapgo.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r, lt = pr, pr.LinkType()
	}
	var out []fuzzPacket
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return lt, out
		}
		if err != nil {
			// tcpdump's broken captures end in a bad record: keep what
			// came before it.
			t.Logf("%s: after %d packets: %v", path, len(out), err)
			return lt, out
		}
		out = append(out, fuzzPacket{data: data, ci: ci})
	}
}

// TestMeterFuzzCorpus checks that the seed corpus of FuzzMeter holds the
// sample captures of ../../packet/testdata/pcaps (a copy of the project's
// sample data), and that it stays small. GIMS_UPDATE_CORPUS=1 rewrites it.
func TestMeterFuzzCorpus(t *testing.T) {
	seeds := meterSeeds(t, "../../packet/testdata/pcaps")
	if os.Getenv("GIMS_UPDATE_CORPUS") == "1" {
		if err := os.RemoveAll(meterCorpusDir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(meterCorpusDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range seeds {
			if err := os.WriteFile(filepath.Join(meterCorpusDir, name), content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var total int
	for name, want := range seeds {
		got, err := os.ReadFile(filepath.Join(meterCorpusDir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("seed %s missing or stale (GIMS_UPDATE_CORPUS=1 go test -run TestMeterFuzzCorpus rewrites the corpus)", name)
		}
		total += len(want)
	}
	if total > 2<<20 {
		t.Errorf("seed corpus of %d bytes, want under 2 MiB", total)
	}
	t.Logf("%d seeds, %d bytes", len(seeds), total)
}

// TestSplitFuzzInput pins the fuzz input encoding the corpus relies on.
func TestSplitFuzzInput(t *testing.T) {
	cases := []struct {
		name  string
		in    []byte
		lens  []int
		wires []int
		times []time.Duration // from fuzzBase
	}{
		{"empty", nil, nil, nil, nil},
		{"short header", []byte{0, 0}, nil, nil, nil},
		{"one", []byte{0, 0, 2, 'a', 'b'}, []int{2}, []int{2}, []time.Duration{0}},
		{"cut to what is left", []byte{3, 0, 9, 'a'}, []int{1}, []int{1}, []time.Duration{90 * time.Millisecond}},
		{"snaplen cut", []byte{0, 0, 0}, []int{0}, []int{60}, []time.Duration{0}},
		{"backward", []byte{10, 0, 1, 'x', 0x82, 0, 1, 'y'}, []int{1, 1}, []int{1, 1},
			[]time.Duration{time.Second, 800 * time.Millisecond}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := splitFuzzInput(tc.in)
			if len(got) != len(tc.lens) {
				t.Fatalf("%d packets, want %d", len(got), len(tc.lens))
			}
			for i, p := range got {
				if len(p.data) != tc.lens[i] || p.ci.Length != tc.wires[i] || p.ci.Timestamp.Sub(fuzzBase) != tc.times[i] {
					t.Errorf("packet %d: %d octets, wire %d, at %v; want %d, %d, %v", i, len(p.data), p.ci.Length,
						p.ci.Timestamp.Sub(fuzzBase), tc.lens[i], tc.wires[i], tc.times[i])
				}
			}
		})
	}
}
