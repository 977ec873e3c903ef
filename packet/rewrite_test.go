package packet

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/gimsproject/gims/internal/advcap"
)

// xorAnon maps addresses by XOR with fixed masks: an involution, so
// anonymizing twice restores the input.
type xorAnon struct{}

var (
	xor4  = [4]byte{0x5a, 0xa5, 0x0f, 0xf0}
	xor16 = [16]byte{0x20, 0x01, 0x0d, 0xb8, 0x5a, 0xa5, 0x0f, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0}
)

func (xorAnon) Anonymize4(a [4]byte) [4]byte {
	for i := range a {
		a[i] ^= xor4[i]
	}
	return a
}

func (xorAnon) Anonymize16(a [16]byte) [16]byte {
	for i := range a {
		a[i] ^= xor16[i]
	}
	return a
}

// mapAddr is the xorAnon image of a Summary-style address.
func mapAddr(version uint8, a [16]byte) [16]byte {
	switch version {
	case 4:
		m := xorAnon{}.Anonymize4([4]byte(a[:4]))
		var out [16]byte
		copy(out[:], m[:])
		return out
	case 6:
		return xorAnon{}.Anonymize16(a)
	}
	return a
}

func mapString(s string) string {
	a := netip.MustParseAddr(s)
	if a.Is4() {
		return netip.AddrFrom4(xorAnon{}.Anonymize4(a.As4())).String()
	}
	return netip.AddrFrom16(xorAnon{}.Anonymize16(a.As16())).String()
}

// reserialize independently recomputes the checksums of a complete packet:
// gopacket decodes it from the IP header on and serializes the IP headers
// and transport header again with ComputeChecksums. It returns the IP
// packet as found in data, the re-serialized bytes, and false when the
// packet is not one gopacket can round-trip (not IP, truncated, extension
// headers...).
func reserialize(data []byte, link uint32) (orig, again []byte, ok bool) {
	var p gopacket.Packet
	opts := gopacket.DecodeOptions{NoCopy: true}
	switch link {
	case 1:
		p = gopacket.NewPacket(data, layers.LayerTypeEthernet, opts)
	case 113:
		p = gopacket.NewPacket(data, layers.LayerTypeLinuxSLL, opts)
	case 0, 108:
		p = gopacket.NewPacket(data, layers.LayerTypeLoopback, opts)
	default:
		skip := map[uint32]int{276: 20, 12: 0, 14: 0, 101: 0, 228: 0, 229: 0}
		n, known := skip[link]
		if !known || len(data) <= n {
			return nil, nil, false
		}
		first := layers.LayerTypeIPv4
		if data[n]>>4 == 6 {
			first = layers.LayerTypeIPv6
		}
		p = gopacket.NewPacket(data[n:], first, opts)
	}
	if p.ErrorLayer() != nil || p.NetworkLayer() == nil {
		return nil, nil, false
	}
	var ls []gopacket.SerializableLayer
	var net gopacket.NetworkLayer
	var last gopacket.Layer
	start := -1
	for _, l := range p.Layers() {
		if start < 0 && l != p.NetworkLayer() {
			continue
		}
		if start < 0 {
			start = cap(data) - cap(l.LayerContents())
		}
		switch l := l.(type) {
		case *layers.IPv4:
			net = l
		case *layers.IPv6:
			if l.HopByHop != nil {
				return nil, nil, false
			}
			net = l
		case *layers.TCP:
			_ = l.SetNetworkLayerForChecksum(net)
		case *layers.UDP:
			_ = l.SetNetworkLayerForChecksum(net)
		case *layers.ICMPv6:
			_ = l.SetNetworkLayerForChecksum(net)
		case *layers.ICMPv4:
		default:
			continue
		}
		ls = append(ls, l.(gopacket.SerializableLayer))
		last = l
		if _, isIP := l.(gopacket.NetworkLayer); !isIP {
			break
		}
	}
	if last == nil {
		return nil, nil, false
	}
	ls = append(ls, gopacket.Payload(last.LayerPayload()))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, ls...); err != nil {
		return nil, nil, false
	}
	again = buf.Bytes()
	if start < 0 || start+len(again) > len(data) {
		return nil, nil, false
	}
	return data[start : start+len(again)], again, true
}

// anonymized decodes and anonymizes a copy of data.
func anonymized(t testing.TB, d *Decoder, data []byte, ci gopacket.CaptureInfo) ([]byte, Summary, Summary) {
	t.Helper()
	out := append([]byte(nil), data...)
	var before, after Summary
	d.Decode(out, ci, &before)
	d.Anonymize(out, &before, xorAnon{})
	d.Decode(out, ci, &after)
	return out, before, after
}

// checkAnonymized checks what must hold for any frame: Anonymize maps the
// outer addresses and updates the Summary accordingly, every other field
// decodes the same, and a second pass with the involutive mapping restores
// the frame byte for byte.
func checkAnonymized(t *testing.T, name string, d *Decoder, data []byte, ci gopacket.CaptureInfo) []byte {
	t.Helper()
	var orig Summary
	d.Decode(data, ci, &orig)
	out, s, re := anonymized(t, d, data, ci)
	want := orig
	want.Src, want.Dst = mapAddr(orig.IPVersion, orig.Src), mapAddr(orig.IPVersion, orig.Dst)
	if diff := diffSummary(s, want); diff != "" {
		t.Errorf("%s: Summary after Anonymize() (-got, +want):\n%s", name, diff)
	}
	if diff := diffSummary(re, want); diff != "" {
		t.Errorf("%s: Decode() of the anonymized frame (-got, +want):\n%s", name, diff)
	}
	if orig.IPVersion != 0 && bytes.Equal(out, data) {
		t.Errorf("%s: Anonymize() left the frame unchanged", name)
	}
	back := append([]byte(nil), out...)
	d.Anonymize(back, &re, xorAnon{})
	if !bytes.Equal(back, data) {
		t.Errorf("%s: anonymizing twice with an involution does not restore the frame", name)
	}
	return out
}

func TestAnonymizeCases(t *testing.T) {
	links := map[layers.LinkType]uint32{LinkTypeLinuxSLL2: 276}
	for _, c := range decodeCases() {
		t.Run(c.name, func(t *testing.T) {
			d, err := NewDecoder(c.link)
			if err != nil {
				t.Fatalf("NewDecoder() error:\n%+v", err)
			}
			ci := captureInfo(c.data, c.wireLen)
			out := checkAnonymized(t, c.name, d, c.data, ci)
			link, ok := links[c.link]
			if !ok {
				link = uint32(c.link)
			}
			if o, again, ok := reserialize(c.data, link); ok && bytes.Equal(o, again) {
				o, again, ok := reserialize(out, link)
				if !ok || !bytes.Equal(o, again) {
					t.Errorf("checksums of the anonymized frame differ from a full recomputation:\n got %x\nwant %x", o, again)
				}
			}
		})
	}
}

// TestAnonymizeQuotes checks the headers quoted by ICMP errors, which
// gopacket's serialization does not recompute: every quoted address is
// mapped and every checksum verifies after the rewrite.
func TestAnonymizeQuotes(t *testing.T) {
	cases := decodeCases()
	t.Run("ICMP port unreachable", func(t *testing.T) {
		c := cases[15]
		if !strings.Contains(c.name, "port unreachable") {
			t.Fatalf("case 15 is %q", c.name)
		}
		d, _ := NewDecoder(c.link)
		out, _, _ := anonymized(t, d, c.data, captureInfo(c.data, 0))
		icmp := out[14+20 : 14+61]
		q := icmp[8:]
		if got, want := net.IP(q[12:16]).String(), mapString("192.0.2.1"); got != want {
			t.Errorf("quoted source = %s, want %s", got, want)
		}
		if got, want := net.IP(q[16:20]).String(), mapString("198.51.100.2"); got != want {
			t.Errorf("quoted destination = %s, want %s", got, want)
		}
		if s := advcap.Checksum(q[:20], 0); s != 0 {
			t.Errorf("quoted IPv4 header checksum does not verify (sum %#04x)", s)
		}
		udp := q[20:]
		if s := advcap.Checksum(udp, advcap.PseudoHeaderSum(q[12:16], q[16:20], 17, len(udp))); s != 0 {
			t.Errorf("quoted UDP checksum does not verify (sum %#04x)", s)
		}
		if s := advcap.Checksum(icmp, 0); s != 0 {
			t.Errorf("ICMP checksum does not verify (sum %#04x)", s)
		}
		if s := advcap.Checksum(out[14:34], 0); s != 0 {
			t.Errorf("outer IPv4 header checksum does not verify (sum %#04x)", s)
		}
	})
	t.Run("ICMPv6 packet too big", func(t *testing.T) {
		c := cases[16]
		if !strings.Contains(c.name, "too big") {
			t.Fatalf("case 16 is %q", c.name)
		}
		d, _ := NewDecoder(c.link)
		out, _, _ := anonymized(t, d, c.data, captureInfo(c.data, 0))
		icmp := out[40:]
		q := icmp[8:]
		if got, want := net.IP(q[8:24]).String(), mapString("2001:db8::1"); got != want {
			t.Errorf("quoted source = %s, want %s", got, want)
		}
		if got, want := net.IP(q[24:40]).String(), mapString("2001:db8:ffff::2"); got != want {
			t.Errorf("quoted destination = %s, want %s", got, want)
		}
		if s := advcap.Checksum(icmp, advcap.PseudoHeaderSum(out[8:24], out[24:40], 58, len(icmp))); s != 0 {
			t.Errorf("ICMPv6 checksum does not verify (sum %#04x)", s)
		}
		// The quoted TCP segment is cut: check its checksum moved by
		// exactly what the address change requires.
		orig := c.data[40+8:]
		oldSum := binary.BigEndian.Uint16(orig[40+16:])
		newSum := binary.BigEndian.Uint16(q[40+16:])
		delta := sumDelta(orig[8:40], q[8:40])
		if want, _ := adjust(oldSum, delta, sumPlain); newSum != want {
			t.Errorf("quoted TCP checksum = %#04x, want %#04x", newSum, want)
		}
	})
	t.Run("6in4 inner header", func(t *testing.T) {
		c := cases[22]
		if !strings.Contains(c.name, "6in4") {
			t.Fatalf("case 22 is %q", c.name)
		}
		d, _ := NewDecoder(c.link)
		out, _, _ := anonymized(t, d, c.data, captureInfo(c.data, 0))
		inner := out[14+20:]
		if got, want := net.IP(inner[8:24]).String(), mapString("2001:db8::a"); got != want {
			t.Errorf("inner source = %s, want %s", got, want)
		}
		udp := inner[40:52]
		if s := advcap.Checksum(udp, advcap.PseudoHeaderSum(inner[8:24], inner[24:40], 17, len(udp))); s != 0 {
			t.Errorf("inner UDP checksum does not verify (sum %#04x)", s)
		}
	})
}

// icmpError builds Ethernet/IPv4/ICMP(type, code) quoting quote.
func icmpError(t *testing.T, typ, code uint8, rest [4]byte, quote []byte) []byte {
	t.Helper()
	out := &layers.IPv4{Version: 4, IHL: 5, TTL: 60, Protocol: layers.IPProtocolICMPv4,
		SrcIP: net.IP{203, 0, 113, 254}, DstIP: net.IP{192, 0, 2, 1}}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, code),
		Id: binary.BigEndian.Uint16(rest[:2]), Seq: binary.BigEndian.Uint16(rest[2:])}
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true},
		&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
		out, icmp, gopacket.Payload(quote))
	if err != nil {
		t.Fatalf("SerializeLayers() error:\n%+v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// TestAnonymizeICMPQuoteTcpdump builds ICMP errors whose quotes are cut at
// every interesting length, anonymizes them, and has tcpdump -vv check the
// result: no checksum complaint, mapped addresses, and the mapped quoted
// addresses where tcpdump prints them.
func TestAnonymizeICMPQuoteTcpdump(t *testing.T) {
	needTool(t, "tcpdump")
	in := &layers.IPv4{Version: 4, IHL: 5, TTL: 1, Id: 77, Protocol: layers.IPProtocolUDP,
		SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{198, 51, 100, 2}}
	udp := &layers.UDP{SrcPort: 33434, DstPort: 33435}
	_ = udp.SetNetworkLayerForChecksum(in)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, in, udp, gopacket.Payload("traceroute!")); err != nil {
		t.Fatalf("SerializeLayers() error:\n%+v", err)
	}
	inner := buf.Bytes()
	cases := []struct {
		name       string
		typ, code  uint8
		rest       [4]byte
		quoteLen   int
		wantQuoted bool // tcpdump prints the quoted addresses
	}{
		{"port unreachable, whole datagram", 3, 3, [4]byte{}, len(inner), true},
		{"port unreachable, RFC 792 quote", 3, 3, [4]byte{}, 28, true},
		{"time exceeded, header only", 11, 0, [4]byte{}, 20, false},
		{"time exceeded, header cut in the destination", 11, 0, [4]byte{}, 18, false},
		{"parameter problem", 12, 0, [4]byte{20}, 28, false},
		{"redirect with gateway", 5, 1, [4]byte{192, 0, 2, 254}, 28, false},
		{"fragmentation needed", 3, 4, [4]byte{0, 0, 0x05, 0xdc}, 28, true},
	}
	var orig, anon []capturedPacket
	d, _ := NewDecoder(layers.LinkTypeEthernet)
	for _, c := range cases {
		frame := icmpError(t, c.typ, c.code, c.rest, inner[:c.quoteLen])
		ci := captureInfo(frame, 0)
		out := checkAnonymized(t, c.name, d, frame, ci)
		if s := advcap.Checksum(out[34:], 0); s != 0 {
			t.Errorf("%s: ICMP checksum does not verify after Anonymize() (sum %#04x)", c.name, s)
		}
		if c.quoteLen >= 16 {
			if got, want := net.IP(out[42+12:42+16]).String(), mapString("192.0.2.1"); got != want {
				t.Errorf("%s: quoted source = %s, want %s", c.name, got, want)
			}
		}
		if c.quoteLen < 20 && !bytes.Equal(out[42+16:42+c.quoteLen], frame[42+16:42+c.quoteLen]) {
			t.Errorf("%s: a partly captured address was rewritten", c.name)
		}
		if c.typ == 5 {
			if got, want := net.IP(out[38:42]).String(), mapString("192.0.2.254"); got != want {
				t.Errorf("%s: gateway = %s, want %s", c.name, got, want)
			}
		}
		orig = append(orig, capturedPacket{frame, ci})
		anon = append(anon, capturedPacket{out, ci})
	}
	dir := t.TempDir()
	writePcap(t, filepath.Join(dir, "orig.pcap"), 1, orig)
	writePcap(t, filepath.Join(dir, "anon.pcap"), 1, anon)
	before := tcpdumpPackets(t, filepath.Join(dir, "orig.pcap"))
	after := tcpdumpPackets(t, filepath.Join(dir, "anon.pcap"))
	if len(after) != len(cases) || len(before) != len(cases) {
		t.Fatalf("tcpdump printed %d and %d packets, want %d", len(before), len(after), len(cases))
	}
	for i, c := range cases {
		if n := badChecksums(after[i]); n != badChecksums(before[i]) {
			t.Errorf("%s: tcpdump reports %d checksum errors after Anonymize(), %d before:\n%s", c.name, n, badChecksums(before[i]), after[i])
		}
		if !strings.Contains(after[i], mapString("203.0.113.254")+" > "+mapString("192.0.2.1")) {
			t.Errorf("%s: tcpdump does not show the mapped outer addresses:\n%s", c.name, after[i])
		}
		if c.wantQuoted && !strings.Contains(after[i], mapString("198.51.100.2")) {
			t.Errorf("%s: tcpdump does not show the mapped quoted destination:\n%s", c.name, after[i])
		}
		if strings.Contains(after[i], "198.51.100.2") || strings.Contains(after[i], "192.0.2.1 ") {
			t.Errorf("%s: an original address is left:\n%s", c.name, after[i])
		}
	}
}

var badChecksumRE = regexp.MustCompile(`(?i)bad (\w+ )?cksum|incorrect`)

func badChecksums(s string) int { return len(badChecksumRE.FindAllString(s, -1)) }

// TestAnonymizeChecksumRules covers the special values of incremental
// updates.
func TestAnonymizeChecksumRules(t *testing.T) {
	cases := decodeCases()
	udpCase := cases[1] // 802.1Q/IPv4/UDP: UDP checksum at 18+20+6
	if !strings.Contains(udpCase.name, "UDP") {
		t.Fatalf("case 1 is %q", udpCase.name)
	}
	const udpSum = 18 + 20 + 6
	d, _ := NewDecoder(udpCase.link)

	t.Run("UDP checksum 0 stays 0", func(t *testing.T) {
		frame := append([]byte(nil), udpCase.data...)
		frame[udpSum], frame[udpSum+1] = 0, 0
		out, _, _ := anonymized(t, d, frame, captureInfo(frame, 0))
		if got := binary.BigEndian.Uint16(out[udpSum:]); got != 0 {
			t.Errorf("UDP checksum = %#04x, want 0", got)
		}
	})
	t.Run("bad checksums stay bad by the same amount", func(t *testing.T) {
		frame := append([]byte(nil), udpCase.data...)
		good, _, _ := anonymized(t, d, frame, captureInfo(frame, 0))
		binary.BigEndian.PutUint16(frame[udpSum:], binary.BigEndian.Uint16(frame[udpSum:])+3)
		binary.BigEndian.PutUint16(frame[18+10:], binary.BigEndian.Uint16(frame[18+10:])+5)
		bad, _, _ := anonymized(t, d, frame, captureInfo(frame, 0))
		for _, f := range []struct {
			name string
			at   int
			off  uint16
		}{{"UDP", udpSum, 3}, {"IPv4 header", 18 + 10, 5}} {
			if g, b := binary.BigEndian.Uint16(good[f.at:]), binary.BigEndian.Uint16(bad[f.at:]); b != g+f.off {
				t.Errorf("%s checksum = %#04x, want the correct %#04x + %d", f.name, b, g, f.off)
			}
		}
	})
	t.Run("truncated packets get the checksums of complete ones", func(t *testing.T) {
		c := cases[0] // Ethernet/IPv4/TCP: header checksum at 24, TCP checksum at 50
		full, _, _ := anonymized(t, d, c.data, captureInfo(c.data, 0))
		for _, n := range []int{14 + 16, 14 + 20, 14 + 20 + 17, 14 + 20 + 18, len(c.data) - 1} {
			cut, _, _ := anonymized(t, d, c.data[:n], captureInfo(c.data[:n], len(c.data)))
			want := append([]byte(nil), full[:n]...)
			switch n {
			case 14 + 16:
				// Only the source is captured: the header checksum
				// follows the source change alone.
				hc := binary.BigEndian.Uint16(c.data[24:])
				nhc, _ := adjust(hc, sumDelta(c.data[26:30], full[26:30]), sumPlain)
				binary.BigEndian.PutUint16(want[24:], nhc)
			case 14 + 20 + 17:
				// Half a TCP checksum is left alone.
				want[50] = c.data[50]
			}
			if !bytes.Equal(cut, want) {
				t.Errorf("cut at %d:\n got %x\nwant %x", n, cut, want)
			}
		}
	})
	t.Run("adjust special values", func(t *testing.T) {
		for _, c := range []struct {
			hc, delta uint16
			kind      sumKind
			want      uint16
			changed   bool
		}{
			{0x0000, 0x1234, sumUDP, 0x0000, false},   // no UDP checksum
			{0xffff, 0x1234, sumPlain, 0xffff, false}, // never emitted: left alone
			{0x1234, 0x0000, sumPlain, 0x1234, false},
			{0x1234, 0xffff, sumPlain, 0x1234, false}, // -0 changes nothing
			{0x1234, 0x1234, sumPlain, 0x0000, true},  // zero result
			{0x1234, 0x1234, sumUDP, 0xffff, true},    // zero result sent as 0xffff
			{0xffff, 0x0001, sumUDP, 0xfffe, true},    // 0xffff is a UDP checksum like any
		} {
			got, changed := adjust(c.hc, c.delta, c.kind)
			if got != c.want || changed != c.changed {
				t.Errorf("adjust(%#04x, %#04x, %d) = %#04x, %v; want %#04x, %v", c.hc, c.delta, c.kind, got, changed, c.want, c.changed)
			}
		}
	})
}

// TestIncrementalMatchesFull checks the incremental update against a full
// recomputation on many pseudo-random headers and address changes.
func TestIncrementalMatchesFull(t *testing.T) {
	seed := uint64(0x9e3779b97f4a7c15)
	next := func() byte {
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		return byte(seed)
	}
	for i := range 20000 {
		data := make([]byte, 20+i%40)
		for j := range data {
			data[j] = next()
		}
		data[10], data[11] = 0, 0
		binary.BigEndian.PutUint16(data[10:], advcap.Checksum(data, 0))
		var old, mapped [4]byte
		copy(old[:], data[12:16])
		for j := range mapped {
			mapped[j] = next()
		}
		hc := binary.BigEndian.Uint16(data[10:])
		n, _ := adjust(hc, sumDelta(old[:], mapped[:]), sumPlain)
		copy(data[12:16], mapped[:])
		data[10], data[11] = 0, 0
		if want := advcap.Checksum(data, 0); n != want {
			t.Fatalf("iteration %d: incremental %#04x, full %#04x", i, n, want)
		}
	}
}

// TestAnonymizeSamplePcaps rewrites every sample capture and checks each
// packet (mapping, Summary, involution), checksums against gopacket's full
// recomputation where the original ones were right, and tcpdump's opinion of
// the result.
func TestAnonymizeSamplePcaps(t *testing.T) {
	verified := 0
	for _, c := range samplePcaps(t) {
		t.Run(c.name, func(t *testing.T) {
			d, err := NewDecoder(c.linkType)
			if err != nil {
				t.Fatalf("NewDecoder(%d) error:\n%+v", c.link, err)
			}
			anon := make([]capturedPacket, len(c.packets))
			sums := make([]Summary, len(c.packets))
			for i, p := range c.packets {
				var s Summary
				d.Decode(p.data, p.ci, &s)
				sums[i] = s
				out := checkAnonymized(t, fmt.Sprintf("packet %d", i+1), d, p.data, p.ci)
				anon[i] = capturedPacket{out, p.ci}
				if o, again, ok := reserialize(p.data, c.link); ok && bytes.Equal(o, again) {
					o, again, ok := reserialize(out, c.link)
					if !ok || !bytes.Equal(o, again) {
						t.Errorf("packet %d: checksums differ from a full recomputation:\n got %x\nwant %x", i+1, o, again)
					}
					verified++
				}
			}
			needTool(t, "tcpdump")
			dir := t.TempDir()
			writePcap(t, filepath.Join(dir, "orig.pcap"), c.link, c.packets)
			writePcap(t, filepath.Join(dir, "anon.pcap"), c.link, anon)
			before := tcpdumpPackets(t, filepath.Join(dir, "orig.pcap"))
			after := tcpdumpPackets(t, filepath.Join(dir, "anon.pcap"))
			if len(before) != len(c.packets) || len(after) != len(c.packets) {
				t.Fatalf("tcpdump printed %d and %d packets, want %d", len(before), len(after), len(c.packets))
			}
			for i := range after {
				if n, m := badChecksums(after[i]), badChecksums(before[i]); n != m {
					t.Errorf("packet %d: tcpdump reports %d checksum errors after Anonymize(), %d before:\n%s\n---\n%s", i+1, n, m, before[i], after[i])
				}
				s := sums[i]
				if s.IPVersion == 0 || !strings.Contains(before[i], s.SrcAddr().String()) {
					continue // tcpdump does not print this header's addresses
				}
				if strings.Contains(after[i], s.SrcAddr().String()+" >") {
					t.Errorf("packet %d: tcpdump still shows the source %s:\n%s", i+1, s.SrcAddr(), after[i])
				}
				src := netip.AddrFrom16(mapAddr(s.IPVersion, s.Src))
				if s.IPVersion == 4 {
					src = netip.AddrFrom4([4]byte(src.AsSlice()[:4]))
				}
				if !strings.Contains(after[i], src.String()) {
					t.Errorf("packet %d: tcpdump does not show the mapped source %s:\n%s", i+1, src, after[i])
				}
			}
		})
	}
	if verified < 300 {
		t.Errorf("only %d packets verified against a full checksum recomputation, want at least 300", verified)
	}
}
