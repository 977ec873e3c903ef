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
	"github.com/gimsproject/gims/transform/macanon"
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

// fuzzWriter keeps what the meter writes: the sanitized packets and their
// capture information.
type fuzzWriter struct {
	packets [][]byte
	cis     []gopacket.CaptureInfo
}

func (w *fuzzWriter) WritePacket(ci gopacket.CaptureInfo, data []byte) error {
	w.packets = append(w.packets, slices.Clone(data))
	w.cis = append(w.cis, ci)
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
//   - the written packets are the input sanitized (packet.Sanitizer with
//     the defaults, strip and keyed, of the same key, run independently):
//     the kept bytes only, capture length cut to them, wire length as
//     captured; a packet of which nothing is kept is not written and is
//     counted in SanitizedDrops; a written IP packet that decodes alike
//     carries the images of the input's addresses;
//   - the exported flows' addresses are the images of the input's
//     (Crypto-PAn through packet.KeepReserved, as the sanitizer maps
//     them).
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
	anon := packet.KeepReserved(cipher)
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
		ref, drops := sanitizeReference(t, lt, pkts)
		dIn, _ := packet.NewDecoder(lt)
		dOut, _ := packet.NewDecoder(lt)
		var want Stats
		var ipPackets, ipBytes, wireBytes uint64
		anonAddrs := map[[16]byte]bool{}
		image := func(version uint8, in [16]byte) [16]byte {
			if version == 4 {
				var out [16]byte
				v := anon.Anonymize4([4]byte(in[:4]))
				copy(out[:], v[:])
				return out
			}
			return anon.Anonymize16(in)
		}
		written := 0
		for i, p := range pkts {
			if !bytes.Equal(p.data, orig[i]) {
				t.Fatalf("packet %d: the meter modified its input", i)
			}
			var s, a packet.Summary
			dIn.Decode(p.data, p.ci, &s)
			want.Packets++
			wireBytes += uint64(max(s.WireLen, 0))
			if s.IPVersion == 0 {
				want.NonIP++
			} else {
				ipPackets++
				ipBytes += uint64(max(s.IPLen, 0))
				anonAddrs[image(s.IPVersion, s.Src)] = true
				anonAddrs[image(s.IPVersion, s.Dst)] = true
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
			if drops[i] {
				want.SanitizedDrops++
				continue
			}
			if written >= len(w.packets) {
				t.Fatalf("packet %d: not written", i)
			}
			out, ci := w.packets[written], w.cis[written]
			written++
			if !bytes.Equal(out, ref[i]) {
				t.Fatalf("packet %d: written\n%x\nthe sanitizer keeps\n%x", i, out, ref[i])
			}
			if ci.CaptureLength != len(out) || ci.Length != p.ci.Length || !ci.Timestamp.Equal(p.ci.Timestamp) {
				t.Fatalf("packet %d: written with capture info %+v for %d octets, read %+v", i, ci, len(out), p.ci)
			}
			if s.IPVersion == 0 || s.Malformed {
				continue
			}
			dOut.Decode(out, ci, &a)
			if a.IPVersion != s.IPVersion || a.Proto != s.Proto || a.Malformed {
				continue // the kept bytes decode differently (cut before the IP header)
			}
			if a.Src != image(s.IPVersion, s.Src) || a.Dst != image(s.IPVersion, s.Dst) {
				t.Fatalf("packet %d: addresses %x -> %x written as %x -> %x, want their images", i, s.Src, s.Dst, a.Src, a.Dst)
			}
		}
		if written != len(w.packets) {
			t.Fatalf("%d packets written, want %d", len(w.packets), written)
		}

		st := m.Stats()
		if st.Packets != want.Packets || st.NonIP != want.NonIP || st.Truncated != want.Truncated ||
			st.Malformed != want.Malformed || st.Fragments != want.Fragments || st.WriteErrors != 0 ||
			st.SanitizedDrops != want.SanitizedDrops {
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
				t.Fatalf("flow %d: addresses %v -> %v are not images of the input's", i, r.Key.SrcAddr(), r.Key.DstAddr())
			}
			fp += r.Packets + r.RevPackets
			fb += r.Bytes + r.RevBytes
		}
		if fp != ipPackets || fb != ipBytes {
			t.Fatalf("flows add up to %d packets, %d bytes; want the %d IP packets, %d bytes", fp, fb, ipPackets, ipBytes)
		}
	})
}

// sanitizeReference sanitizes copies of the packets with a Sanitizer of
// its own, as the meter must (the defaults, testKey): the kept bytes of
// each, and whether it is dropped.
func sanitizeReference(t *testing.T, lt layers.LinkType, pkts []fuzzPacket) ([][]byte, []bool) {
	t.Helper()
	cipher, err := cryptopan.New(testKey[:])
	if err != nil {
		t.Fatal(err)
	}
	macs, err := macanon.New(testKey[:])
	if err != nil {
		t.Fatal(err)
	}
	s, err := packet.NewSanitizer(lt, packet.SanitizerConfig{IP: cipher, MACs: macs})
	if err != nil {
		t.Fatal(err)
	}
	ref, drops := make([][]byte, len(pkts)), make([]bool, len(pkts))
	for i, p := range pkts {
		b := slices.Clone(p.data)
		keep, res := s.Sanitize(b)
		ref[i], drops[i] = b[:keep], res.Drop
	}
	return ref, drops
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
