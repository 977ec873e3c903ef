package packet

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/gimsproject/gims/internal/advcap"
	"github.com/gimsproject/gims/transform/cryptopan"
	"github.com/gimsproject/gims/transform/macanon"
)

// sanitizeKey is the experiment key of the sanitizer tests.
func sanitizeKey() []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(0xa0 + i)
	}
	return k
}

// testMappers returns a Crypto-PAn cipher and a MAC mapper of sanitizeKey.
func testMappers(tb testing.TB) (*cryptopan.Cipher, *macanon.Mapper) {
	tb.Helper()
	c, err := cryptopan.New(sanitizeKey())
	if err != nil {
		tb.Fatalf("cryptopan.New() error:\n%+v", err)
	}
	m, err := macanon.New(sanitizeKey())
	if err != nil {
		tb.Fatalf("macanon.New() error:\n%+v", err)
	}
	return c, m
}

func newTestSanitizer(tb testing.TB, link layers.LinkType, payload PayloadMode, mac MACMode) *Sanitizer {
	tb.Helper()
	c, m := testMappers(tb)
	s, err := NewSanitizer(link, SanitizerConfig{Payload: payload, MAC: mac, IP: c, MACs: m})
	if err != nil {
		tb.Fatalf("NewSanitizer() error:\n%+v", err)
	}
	return s
}

// sanitizeChecked sanitizes a copy of data with a trace and fails if a
// kept byte is not vouched for. It returns the kept bytes.
func sanitizeChecked(tb testing.TB, s *Sanitizer, name string, data []byte) ([]byte, SanitizeResult) {
	tb.Helper()
	frame := make([]byte, len(data)) // no spare capacity: reading past it panics
	copy(frame, data)
	trace := make([]byte, len(frame))
	keep, res := s.sanitizeTraced(frame, trace)
	if keep < 0 || keep > len(frame) {
		tb.Fatalf("%s: keep %d out of [0, %d]", name, keep, len(frame))
	}
	for i := range keep {
		if trace[i] == classNone {
			tb.Fatalf("%s: kept byte %d (%#02x) is not vouched for\nframe %x\ntrace %x", name, i, frame[i], frame[:keep], trace[:keep])
		}
	}
	if res.Drop != (keep == 0) || res.Cut != (keep < len(frame)) {
		tb.Fatalf("%s: result %+v does not match keep %d of %d", name, res, keep, len(frame))
	}
	// Untraced, Sanitize may take its fast path: it must give the same
	// bytes and result as the traced walk.
	fast := make([]byte, len(data))
	copy(fast, data)
	if k, r := s.Sanitize(fast); k != keep || r != res || !bytes.Equal(fast[:k], frame[:keep]) {
		tb.Fatalf("%s: untraced Sanitize gives keep %d, %+v, want %d, %+v\ngot  %x\nwant %x", name, k, r, keep, res, fast[:k], frame[:keep])
	}
	// Again: the memos now hold the frame's identifiers.
	copy(fast, data)
	if k, r := s.Sanitize(fast); k != keep || r != res || !bytes.Equal(fast[:k], frame[:keep]) {
		tb.Fatalf("%s: untraced Sanitize, again, gives keep %d, %+v, want %d, %+v\ngot  %x\nwant %x", name, k, r, keep, res, fast[:k], frame[:keep])
	}
	// And as the meter sanitizes: from the Summary of its decoder.
	d, err := NewDecoder(linkTypeOfSanitizer(s))
	if err != nil {
		tb.Fatal(err)
	}
	copy(fast, data)
	var sum Summary
	d.DecodeSummary(fast, &gopacket.CaptureInfo{CaptureLength: len(fast), Length: len(fast)}, &sum)
	k, r := s.SanitizeDecoded(fast, &sum), res
	if k == 0 {
		if !bytes.Equal(fast, data) {
			tb.Fatalf("%s: SanitizeDecoded declined the frame but changed it", name)
		}
		k, r = s.Sanitize(fast)
	}
	if k != keep || r != res || !bytes.Equal(fast[:k], frame[:keep]) {
		tb.Fatalf("%s: SanitizeDecoded gives keep %d, %+v, want %d, %+v\ngot  %x\nwant %x", name, k, r, keep, res, fast[:k], frame[:keep])
	}
	// And as the meter writes packets: into its output buffer, the frame
	// only read (SanitizeDecodedTo, then SanitizeFastTo).
	copy(fast, data)
	d.DecodeSummary(fast, &gopacket.CaptureInfo{CaptureLength: len(fast), Length: len(fast)}, &sum)
	sanitizeToChecked(tb, s, name, fast, &sum, len(data)+8, frame[:keep])
	if keep > 1 { // too short a dst: nothing written
		sanitizeToChecked(tb, s, name, fast, &sum, keep-1, frame[:keep])
	}
	return frame[:keep], res
}

// sanitizeToChecked sanitizes f (decoded into sum) into a dst of n bytes
// as the meter does, with SanitizeDecodedTo then SanitizeFastTo, and
// fails if f changes, if either writes past what it keeps or writes
// when it declines, or if what it keeps is not want (what Sanitize kept).
func sanitizeToChecked(tb testing.TB, s *Sanitizer, name string, f []byte, sum *Summary, n int, want []byte) {
	tb.Helper()
	orig := append([]byte(nil), f...)
	dst := bytes.Repeat([]byte{0xa5}, n)
	k := s.SanitizeDecodedTo(dst, f, sum)
	if k == 0 {
		k = s.SanitizeFastTo(dst, f)
	}
	if !bytes.Equal(f, orig) {
		tb.Fatalf("%s: SanitizeDecodedTo or SanitizeFastTo changed the frame", name)
	}
	if k != 0 && (k != len(want) || !bytes.Equal(dst[:k], want)) {
		tb.Fatalf("%s: SanitizeDecodedTo or SanitizeFastTo keeps %d bytes, want %d\ngot  %x\nwant %x", name, k, len(want), dst[:k], want)
	}
	for i, b := range dst[k:] {
		if b != 0xa5 {
			tb.Fatalf("%s: SanitizeDecodedTo or SanitizeFastTo keeps %d bytes of a %d-byte dst but wrote byte %d", name, k, n, k+i)
		}
	}
}

func TestModes(t *testing.T) {
	for _, name := range []string{"strip", "zero", "keep", "STRIP"} {
		m, err := ParsePayloadMode(name)
		if err != nil || m.String() != strings.ToLower(name) {
			t.Errorf("ParsePayloadMode(%q) = %v, %v", name, m, err)
		}
		var u PayloadMode
		if err := u.UnmarshalText([]byte(name)); err != nil || u != m {
			t.Errorf("UnmarshalText(%q) = %v, %v", name, u, err)
		}
	}
	for _, name := range []string{"keyed", "zero", "keep", "Keyed"} {
		m, err := ParseMACMode(name)
		if err != nil || m.String() != strings.ToLower(name) {
			t.Errorf("ParseMACMode(%q) = %v, %v", name, m, err)
		}
		b, err := m.MarshalText()
		if err != nil || string(b) != strings.ToLower(name) {
			t.Errorf("MarshalText() = %q, %v", b, err)
		}
	}
	for _, bad := range []string{"", "none", "yes"} {
		if _, err := ParsePayloadMode(bad); err == nil {
			t.Errorf("ParsePayloadMode(%q) = nil error", bad)
		}
		if _, err := ParseMACMode(bad); err == nil {
			t.Errorf("ParseMACMode(%q) = nil error", bad)
		}
	}
	if PayloadStrip != 0 || MACKeyed != 0 {
		t.Error("the zero values are not the defaults strip and keyed")
	}
}

func TestNewSanitizerErrors(t *testing.T) {
	c, m := testMappers(t)
	for _, tc := range []struct {
		pos  string
		link layers.LinkType
		cfg  SanitizerConfig
		want string
	}{
		{"no IP", layers.LinkTypeEthernet, SanitizerConfig{MACs: m}, "no IP anonymizer"},
		{"no MACs", layers.LinkTypeEthernet, SanitizerConfig{IP: c}, "needs a MAC anonymizer"},
		{"bad payload", layers.LinkTypeEthernet, SanitizerConfig{IP: c, MACs: m, Payload: 7}, "invalid payload mode"},
		{"bad MAC", layers.LinkTypeEthernet, SanitizerConfig{IP: c, MACs: m, MAC: 9}, "invalid MAC mode"},
		{"link", layers.LinkTypeFDDI, SanitizerConfig{IP: c, MACs: m}, "unsupported link type"},
	} {
		_, err := NewSanitizer(tc.link, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewSanitizer() error %v, want %q", tc.pos, err, tc.want)
		}
	}
	if _, err := NewSanitizer(layers.LinkTypeEthernet, SanitizerConfig{IP: c, MAC: MACZero}); err != nil {
		t.Errorf("MAC zero without a mapper: %v", err)
	}
}

func TestKeepReserved(t *testing.T) {
	c, _ := testMappers(t)
	k := KeepReserved(c)
	for _, a := range []string{"0.0.0.0", "255.255.255.255", "::"} {
		x := netip.MustParseAddr(a)
		var got netip.Addr
		if x.Is4() {
			got = netip.AddrFrom4(k.Anonymize4(x.As4()))
		} else {
			got = netip.AddrFrom16(k.Anonymize16(x.As16()))
		}
		if got != x {
			t.Errorf("KeepReserved maps %s to %s", a, got)
		}
	}
	// An anonymizer mapping something onto 0.0.0.0 is walked past it.
	w := KeepReserved(swap4{})
	if got := w.Anonymize4([4]byte{1, 2, 3, 4}); got == zero4 || got == bcast4 {
		t.Errorf("cycle walking left %v", got)
	}
	if got := w.Anonymize4([4]byte{9, 9, 9, 9}); got != [4]byte{9, 9, 9, 9} {
		t.Errorf("unrelated address mapped to %v", got)
	}
}

// swap4 maps 1.2.3.4 → 0.0.0.0 → 255.255.255.255 → 5.6.7.8 → 1.2.3.4.
type swap4 struct{}

func (swap4) Anonymize4(a [4]byte) [4]byte {
	switch a {
	case [4]byte{1, 2, 3, 4}:
		return zero4
	case zero4:
		return bcast4
	case bcast4:
		return [4]byte{5, 6, 7, 8}
	case [4]byte{5, 6, 7, 8}:
		return [4]byte{1, 2, 3, 4}
	}
	return a
}
func (swap4) Anonymize16(a [16]byte) [16]byte { return a }

// TestSanitizeAdversarial sanitizes frames of every protocol the sanitizer
// knows (and some it must refuse) that are full of distinctive addresses,
// MACs and host names: no identifier is left in the kept bytes, as raw
// bytes or as text, with every payload and MAC mode that hides them; the
// kept lengths are the ones the rules give; and tshark and tcpdump read the
// result without complaint.
func TestSanitizeAdversarial(t *testing.T) {
	ids := advcap.Identifiers()
	frames := adversarialFrames()
	// The frames carry what they must.
	for _, f := range frames {
		if len(advcap.Find(f.data, ids)) == 0 {
			t.Fatalf("%s: the frame carries no identifier", f.name)
		}
	}
	for _, mode := range []struct {
		payload PayloadMode
		mac     MACMode
	}{{PayloadStrip, MACKeyed}, {PayloadZero, MACKeyed}, {PayloadZero, MACZero}, {PayloadStrip, MACZero}} {
		t.Run(mode.payload.String()+"-"+mode.mac.String(), func(t *testing.T) {
			byLink := map[uint32][]capturedPacket{}
			for _, f := range frames {
				s := newTestSanitizer(t, linkTypeOf(f.link), mode.payload, mode.mac)
				out, res := sanitizeChecked(t, s, f.name, f.data)
				if hits := advcap.Find(out, ids); len(hits) > 0 {
					t.Errorf("%s: identifiers left: %v\n%x", f.name, hits, out)
				}
				if mode.payload == PayloadStrip && f.keep >= 0 && len(out) != f.keep {
					t.Errorf("%s: kept %d bytes, want %d", f.name, len(out), f.keep)
				}
				if at := payloadOffset(f.data, f.link); mode.payload == PayloadStrip && at >= 0 && len(out) > at {
					t.Errorf("%s: kept %d bytes, past the payload gopacket finds at %d", f.name, len(out), at)
				}
				if res.Drop {
					continue
				}
				byLink[f.link] = append(byLink[f.link], capturedPacket{out,
					gopacket.CaptureInfo{CaptureLength: len(out), Length: len(f.data)}})
			}
			checkWithTools(t, byLink, nil)
		})
	}
}

// tsharkLines runs tshark -r on a pcap and returns one line per packet.
func tsharkLines(t *testing.T, path string) []string {
	t.Helper()
	out, err := exec.Command("tshark", "-n", "-r", path).Output()
	if err != nil {
		t.Fatalf("tshark -r %s error: %v\n%s", path, err, out)
	}
	return strings.Split(strings.TrimRight(string(out), "\n"), "\n")
}

// checkWithTools writes the packets to pcaps and has tshark and tcpdump
// read them: no error, no malformed packet unless the original packet of
// the same index in originals (when not nil) is malformed too.
func checkWithTools(t *testing.T, byLink map[uint32][]capturedPacket, originals []capturedPacket) {
	t.Helper()
	needTool(t, "tshark")
	needTool(t, "tcpdump")
	dir := t.TempDir()
	for link, pkts := range byLink {
		path := filepath.Join(dir, fmt.Sprintf("link%d.pcap", link))
		writePcap(t, path, link, pkts)
		lines := tsharkLines(t, path)
		if len(lines) != len(pkts) {
			t.Errorf("link %d: tshark shows %d packets, want %d:\n%s", link, len(lines), len(pkts), strings.Join(lines, "\n"))
			continue
		}
		var before []string
		if originals != nil {
			orig := filepath.Join(dir, fmt.Sprintf("link%d-orig.pcap", link))
			writePcap(t, orig, link, originals)
			before = tsharkLines(t, orig)
		}
		for i, line := range lines {
			if strings.Contains(line, "Malformed") && (i >= len(before) || !strings.Contains(before[i], "Malformed")) {
				t.Errorf("link %d packet %d: tshark: %s", link, i+1, line)
			}
		}
		if got := tcpdumpPackets(t, path); len(got) != len(pkts) {
			t.Errorf("link %d: tcpdump shows %d packets, want %d", link, len(got), len(pkts))
		}
	}
}

// TestSanitizeChecksums checks that checksums stay valid: with payloads
// kept or zeroed, tcpdump -vv verifies every checksum of the complete
// frames and finds none wrong.
func TestSanitizeChecksums(t *testing.T) {
	needTool(t, "tcpdump")
	for _, payload := range []PayloadMode{PayloadKeep, PayloadZero} {
		t.Run(payload.String(), func(t *testing.T) {
			dir := t.TempDir()
			checked := 0
			defer func() {
				if checked < 25 {
					t.Errorf("only %d complete frames checked", checked)
				}
			}()
			for _, f := range adversarialFrames() {
				s := newTestSanitizer(t, linkTypeOf(f.link), payload, MACKeyed)
				out, res := sanitizeChecked(t, s, f.name, f.data)
				if res.Cut || f.name == "ipv4-sctp" {
					continue // tcpdump checks only complete packets; SCTP's CRC32c is not updated
				}
				path := filepath.Join(dir, f.name+".pcap")
				writePcap(t, path, f.link, []capturedPacket{{out, gopacket.CaptureInfo{CaptureLength: len(out), Length: len(out)}}})
				before := filepath.Join(dir, f.name+"-before.pcap")
				writePcap(t, before, f.link, []capturedPacket{{f.data, gopacket.CaptureInfo{CaptureLength: len(f.data), Length: len(f.data)}}})
				if n := badChecksums(strings.Join(tcpdumpPackets(t, before), "\n")); n != 0 {
					t.Fatalf("%s: the test frame has %d bad checksums itself", f.name, n)
				}
				checked++
				if dump := strings.Join(tcpdumpPackets(t, path), "\n"); badChecksums(dump) != 0 {
					t.Errorf("%s: bad checksum after sanitizing:\n%s", f.name, dump)
				}
			}
		})
	}
}

// TestSanitizeRewrites checks that addresses are mapped consistently with
// the mappers: the same address gives the same image wherever it is.
func TestSanitizeRewrites(t *testing.T) {
	c, m := testMappers(t)
	ip := KeepReserved(c)
	macA, macB := m.AnonymizeMAC(advcap.MACA), m.AnonymizeMAC(advcap.MACB)
	a4, b4 := ip.Anonymize4(advcap.IPA), ip.Anonymize4(advcap.IPB)
	a6, b6 := ip.Anonymize16(advcap.IP6A), ip.Anonymize16(advcap.IP6B)
	frames := map[string][]byte{}
	for _, f := range adversarialFrames() {
		s := newTestSanitizer(t, linkTypeOf(f.link), PayloadStrip, MACKeyed)
		out, _ := sanitizeChecked(t, s, f.name, f.data)
		frames[f.name] = out
	}
	for _, tc := range []struct {
		frame string
		off   int
		want  []byte
	}{
		{"arp-request", 0, advcap.MACBroadcast[:]},
		{"arp-request", 6, macA[:]},
		{"arp-request", 22, macA[:]},
		{"arp-request", 28, b4[:]},
		{"arp-request", 32, make([]byte, 6)},
		{"arp-request", 38, a4[:]},
		{"arp-reply", 22, macB[:]},
		{"ethernet-ipv4-udp-dns", 26, b4[:]},
		{"ipv4-options", 14 + 20 + 3, a4[:]},                                 // record route
		{"ipv4-options", 14 + 20 + 14, b4[:]},                                // LSRR
		{"ipv4-options", 14 + 20 + 22, a4[:]},                                // timestamp address
		{"ipv4-options", 14 + 20 + 30, []byte{1, 1, 1, 1, 1, 1, 0, 0, 0, 0}}, // unknown option: NOPs
		{"ethernet-ipv4-tcp-options", 14 + 20 + 20 + 30, []byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		{"ipv6-hbh-dest-rh0-tcp", 14 + 40 + 2, []byte{1, 4, 0, 0, 0, 0}},     // unknown option → PadN
		{"ipv6-hbh-dest-rh0-tcp", 14 + 40 + 8 + 2, []byte{1, 4, 0, 0, 0, 0}}, // PadN data zeroed
		{"ipv6-hbh-dest-rh0-tcp", 14 + 40 + 16 + 24, b6[:]},                  // RH0 final
		{"ipv6-srh-udp", 14 + 40 + 8, b6[:]},                                 // segment 0
		{"ipv6-srh-udp", 14 + 40 + 40, []byte{4, 6, 0, 0, 0, 0, 0, 0}},       // TLV → PadN
		{"nd-ns", 14 + 40 + 8, b6[:]},
		{"nd-ns", 14 + 40 + 26, macA[:]},
		{"nd-na", 14 + 40 + 26, macB[:]},
		{"nd-ra", 14 + 40 + 18, macA[:]},
		{"nd-ra", 14 + 40 + 32 + 16, a6[:8]},
		{"nd-ra", 14 + 40 + 32 + 24, make([]byte, 8)},
		{"nd-redirect", 14 + 40 + 8, b6[:]},
		{"nd-redirect", 14 + 40 + 24, a6[:]},
		{"nd-redirect", 14 + 40 + 40 + 8 + 8 + 8, a6[:]}, // quoted source
		{"icmp-redirect", 14 + 20 + 4, a4[:]},
		{"icmp-port-unreachable", 14 + 20 + 8 + 12, b4[:]},
		{"vxlan-arp", 14 + 20 + 16 + 6, macA[:]},
		{"vxlan-arp", 14 + 20 + 16 + 14 + 14, b4[:]},
		{"geneve", 14 + 40 + 16, []byte{0, 0, 0, 0, 0, 0, 0, 0}},
		{"geneve", 14 + 40 + 24, macB[:]},
		{"sll-ipv4-tcp", 6, append(macA[:], 0, 0)},
		{"sll-ipgre-address", 6, make([]byte, 8)},
		{"sll2-ipv6-udp", 12, append(macB[:], 0, 0)},
		{"ipip", 14 + 20 + 12, a4[:]},
		{"6in4", 14 + 20 + 8, a6[:]},
		{"gre-ethernet", 14 + 20 + 8, macA[:]},
		{"lldp", 6, macA[:]},
	} {
		out := frames[tc.frame]
		if tc.off+len(tc.want) > len(out) {
			t.Errorf("%s: %d bytes kept, want bytes at %d", tc.frame, len(out), tc.off)
			continue
		}
		if got := out[tc.off : tc.off+len(tc.want)]; !bytes.Equal(got, tc.want) {
			t.Errorf("%s at %d: %x, want %x", tc.frame, tc.off, got, tc.want)
		}
	}
}

// TestSanitizeMACModes checks the keep and zero MAC modes.
func TestSanitizeMACModes(t *testing.T) {
	f := advcap.EthFrame(advcap.MACBroadcast, advcap.MACA, 0x0806, advcap.ARPMsg(1, 1, advcap.MACA, advcap.IPB, [6]byte{}, advcap.IPA))
	s := newTestSanitizer(t, layers.LinkTypeEthernet, PayloadStrip, MACZero)
	out, _ := sanitizeChecked(t, s, "zero", f)
	if !bytes.Equal(out[:6], advcap.MACBroadcast[:]) || !bytes.Equal(out[6:12], make([]byte, 6)) || !bytes.Equal(out[22:28], make([]byte, 6)) {
		t.Errorf("MAC zero: %x", out)
	}
	s = newTestSanitizer(t, layers.LinkTypeEthernet, PayloadStrip, MACKeep)
	out, _ = sanitizeChecked(t, s, "keep", f)
	if !bytes.Equal(out[6:12], advcap.MACA[:]) || !bytes.Equal(out[22:28], advcap.MACA[:]) || bytes.Equal(out[28:32], advcap.IPB[:]) {
		t.Errorf("MAC keep: %x", out)
	}
}

// TestSanitizeDeterministic checks that two Sanitizers of the same key give
// byte-identical output.
func TestSanitizeDeterministic(t *testing.T) {
	for _, f := range adversarialFrames() {
		a := newTestSanitizer(t, linkTypeOf(f.link), PayloadZero, MACKeyed)
		b := newTestSanitizer(t, linkTypeOf(f.link), PayloadZero, MACKeyed)
		x, _ := sanitizeChecked(t, a, f.name, f.data)
		y, _ := sanitizeChecked(t, b, f.name, f.data)
		if !bytes.Equal(x, y) {
			t.Errorf("%s: two sanitizers disagree:\n%x\n%x", f.name, x, y)
		}
	}
}

// TestSanitizeSamplePcaps runs the sanitizer over every sample capture: no
// original IP address or unicast MAC of the file is left in any output,
// every kept byte is vouched for, and tshark and tcpdump read the result.
func TestSanitizeSamplePcaps(t *testing.T) {
	for _, c := range samplePcaps(t) {
		t.Run(c.name, func(t *testing.T) {
			s := newTestSanitizer(t, c.linkType, PayloadStrip, MACKeyed)
			ids := originalIdentifiers(t, c)
			var out, orig []capturedPacket
			for i, p := range c.packets {
				kept, res := sanitizeChecked(t, s, fmt.Sprintf("packet %d", i+1), p.data)
				if at := payloadOffset(p.data, c.link); at >= 0 && len(kept) > at {
					t.Errorf("packet %d: kept %d bytes, past the payload gopacket finds at %d", i+1, len(kept), at)
				}
				for id, b := range ids {
					if bytes.Contains(kept, b) {
						t.Errorf("packet %d: original %s left:\n%x", i+1, id, kept)
					}
				}
				if !res.Drop {
					out = append(out, capturedPacket{kept, gopacket.CaptureInfo{Timestamp: p.ci.Timestamp,
						CaptureLength: len(kept), Length: p.ci.Length}})
					orig = append(orig, p)
				}
			}
			if len(out) > 0 {
				checkWithTools(t, map[uint32][]capturedPacket{c.link: out}, orig)
			}
		})
	}
}

// originalIdentifiers collects the IP addresses (decoded by gopacket,
// tunnels and quotes included) and unicast MACs of a capture.
func originalIdentifiers(t *testing.T, c capture) map[string][]byte {
	ids := map[string][]byte{}
	first := map[uint32]gopacket.LayerType{0: layers.LayerTypeLoopback, 1: layers.LayerTypeEthernet,
		108: layers.LayerTypeLoopback, 113: layers.LayerTypeLinuxSLL}
	for _, p := range c.packets {
		data := p.data
		lt, ok := first[c.link]
		if !ok {
			if c.link == 276 {
				if len(data) < 20 {
					continue
				}
				data = data[20:]
			}
			if len(data) == 0 {
				continue
			}
			lt = layers.LayerTypeIPv4
			if data[0]>>4 == 6 {
				lt = layers.LayerTypeIPv6
			}
		}
		pkt := gopacket.NewPacket(data, lt, gopacket.DecodeOptions{NoCopy: true})
		for _, l := range pkt.Layers() {
			switch l := l.(type) {
			case *layers.Ethernet:
				for _, m := range [][]byte{l.SrcMAC, l.DstMAC} {
					if len(m) == 6 && m[0]&1 == 0 && !bytes.Equal(m, make([]byte, 6)) {
						ids["MAC "+fmt.Sprintf("%x", m)] = append([]byte(nil), m...)
					}
				}
			case *layers.IPv4:
				for _, a := range [][]byte{l.SrcIP.To4(), l.DstIP.To4()} {
					if a != nil && !bytes.Equal(a, zero4[:]) && !bytes.Equal(a, bcast4[:]) {
						ids["IPv4 "+fmt.Sprint(a)] = append([]byte(nil), a...)
					}
				}
			case *layers.IPv6:
				for _, a := range [][]byte{l.SrcIP, l.DstIP} {
					if len(a) == 16 && !bytes.Equal(a, zero16[:]) {
						ids["IPv6 "+netip.AddrFrom16([16]byte(a)).String()] = append([]byte(nil), a...)
					}
				}
			}
		}
	}
	return ids
}

// TestSanitizeDepthLimit nests IP-in-IP tunnels past the limit: the
// sanitizer follows maxSanitizeDepth of them and cuts the rest.
func TestSanitizeDepthLimit(t *testing.T) {
	p := advcap.IPv4TCP(advcap.IPA, advcap.IPB)
	for range 8 {
		p = advcap.IPv4Pkt(advcap.IPB, advcap.IPA, 4, nil, p)
	}
	s := newTestSanitizer(t, layers.LinkTypeRaw, PayloadKeep, MACKeyed)
	out, res := sanitizeChecked(t, s, "nested", p)
	if want := 20 * (maxSanitizeDepth + 1); len(out) != want || !res.Denied {
		t.Errorf("kept %d bytes (%+v), want %d and denied", len(out), res, want)
	}
	if hits := advcap.Find(out, advcap.Identifiers()); len(hits) > 0 {
		t.Errorf("identifiers left: %v", hits)
	}
}

// TestSanitizePayloadKeep checks that PayloadKeep keeps transport
// payloads and nothing else.
func TestSanitizePayloadKeep(t *testing.T) {
	s := newTestSanitizer(t, layers.LinkTypeEthernet, PayloadKeep, MACKeyed)
	for _, f := range adversarialFrames() {
		if f.link != 1 {
			continue
		}
		out, res := sanitizeChecked(t, s, f.name, f.data)
		switch f.name {
		case "ethernet-ipv4-tcp-options", "icmp-echo", "ethernet-ipv4-udp-dns", "ipip", "vxlan-arp":
			if res.Cut && f.name != "vxlan-arp" || !bytes.Contains(out, []byte("secret-host")) && f.name != "vxlan-arp" {
				t.Errorf("%s: payload not kept (%+v)", f.name, res)
			}
		case "ipv4-unknown-protocol", "lldp", "eapol", "icmp-unknown-type", "ethernet-padding", "ipv6-rh3-unknown":
			if len(out) != f.keep {
				t.Errorf("%s: kept %d bytes, want %d as with strip", f.name, len(out), f.keep)
			}
		}
	}
}

// payloadOffset returns where gopacket finds the application payload of a
// frame (the bytes after the innermost transport header), or -1 when it
// finds none or the frame holds ICMP (whose quotes gopacket calls payload)
// or fragments (which it does not decode).
func payloadOffset(data []byte, link uint32) int {
	first := map[uint32]gopacket.LayerType{0: layers.LayerTypeLoopback, 1: layers.LayerTypeEthernet,
		108: layers.LayerTypeLoopback, 113: layers.LayerTypeLinuxSLL}
	lt, ok := first[link]
	skip := 0
	if !ok {
		if link == 276 {
			skip = 20
		}
		if len(data) <= skip {
			return -1
		}
		lt = layers.LayerTypeIPv4
		if data[skip]>>4 == 6 {
			lt = layers.LayerTypeIPv6
		}
	}
	p := gopacket.NewPacket(data[skip:], lt, gopacket.DecodeOptions{NoCopy: true})
	if p.Layer(layers.LayerTypeICMPv4) != nil || p.Layer(layers.LayerTypeICMPv6) != nil ||
		p.Layer(layers.LayerTypeIPv6Fragment) != nil {
		return -1
	}
	for _, l := range p.Layers() {
		if ip, ok := l.(*layers.IPv4); ok && (ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0) {
			return -1 // gopacket leaves fragments undecoded
		}
	}
	app := p.ApplicationLayer()
	if app == nil || len(app.LayerContents()) == 0 {
		return -1
	}
	return cap(data) - cap(app.LayerContents())
}

// TestSanitizeGREChecksum checks that the GRE checksum stays valid when
// the inner packet is rewritten (tcpdump does not verify it).
func TestSanitizeGREChecksum(t *testing.T) {
	for _, f := range adversarialFrames() {
		if f.name != "gre-checksum-key-ipv4" {
			continue
		}
		for _, p := range []PayloadMode{PayloadKeep, PayloadZero} {
			s := newTestSanitizer(t, layers.LinkTypeEthernet, p, MACKeyed)
			out, res := sanitizeChecked(t, s, f.name, f.data)
			if res.Cut {
				t.Fatalf("%s: cut with payload %s", f.name, p)
			}
			if bytes.Equal(out[14+20+12:14+20+12+20], f.data[14+20+12:14+20+12+20]) {
				t.Fatalf("%s: inner header unchanged", f.name)
			}
			if c := advcap.Checksum(out[14+20:], 0); c != 0 {
				t.Errorf("%s, payload %s: GRE checksum off by %#04x", f.name, p, c)
			}
		}
		return
	}
	t.Fatal("no GRE frame")
}

// TestSanitizeFastPath checks that the fast path takes the common frames
// of the sample captures and of the benchmarks and rewrites them exactly
// as the general walk does, in every payload and MAC mode (it only takes
// frames with PayloadStrip).
// fastFrames says which adversarial frames the fast path takes (with
// PayloadStrip) and which it leaves to the walk.
var fastFrames = map[string]bool{
	"icmp-port-unreachable":                 true,
	"icmpv6-unreachable":                    true,
	"icmp-port-unreachable-8":               true,
	"icmp-time-exceeded-udp-no-checksum":    true,
	"icmpv6-time-exceeded-udp":              true,
	"icmp-unreachable-tcp":                  false,
	"icmp-unreachable-udp-cut":              false,
	"icmp-unreachable-udp-empty-then-bytes": false,
	"icmp-time-exceeded-extension":          false,
	"icmp-redirect":                         false,
	"ethernet-ipv4-udp-dns":                 true,
	"icmp-echo":                             true,
	"icmpv6-echo":                           true,
	"ipv4-later-fragment":                   true,
	"dot1q-ipv4-later-fragment":             true,
	"mpls-ipv4-udp":                         true,
	"mpls-two-labels-ipv6-tcp":              true,
	"dot1q-mpls-ipv4-icmp":                  true,
	"nd-ns":                                 true,
	"nd-na":                                 true,
	"nd-na-tlla-mtu":                        true,
	"nd-ns-broadcast-slla":                  true,
	"nd-ns-no-options-padding":              true,
	"mpls-pseudowire-ethernet":              true,
	"mpls-pseudowire-dot1q-ipv6-udp":        true,
	"mpls-pseudowire-ipv4-later-fragment":   false,
	"nd-na-unknown-option":                  false,
	"nd-ns-long-slla":                       false,
	"nd-ra":                                 false,
	"nd-rs":                                 false,
	"nd-redirect":                           false,
}

func TestSanitizeFastPath(t *testing.T) {
	frames := sanitizeBenchFrames()
	for _, c := range samplePcaps(t) {
		for i, p := range c.packets {
			frames = append(frames, advFrame{name: fmt.Sprintf("%s packet %d", c.name, i+1), link: c.link, data: p.data})
		}
	}
	frames = append(frames, adversarialFrames()...)
	taken, takenDecoded := 0, 0
	decoders := map[layers.LinkType]*Decoder{}
	decoderFor := func(t *testing.T, lt layers.LinkType) *Decoder {
		if decoders[lt] == nil {
			d, err := NewDecoder(lt)
			if err != nil {
				t.Fatal(err)
			}
			decoders[lt] = d
		}
		return decoders[lt]
	}
	for _, p := range []PayloadMode{PayloadStrip, PayloadZero, PayloadKeep} {
		for _, m := range []MACMode{MACKeyed, MACZero, MACKeep} {
			for _, f := range frames {
				s := newTestSanitizer(t, linkTypeOf(f.link), p, m)
				fast := append([]byte(nil), f.data...)
				s.f, s.res, s.nsums = fast, SanitizeResult{}, 0
				k, ok := s.fast(fast, fast)
				if want, listed := fastFrames[f.name]; listed && p == PayloadStrip && ok != want {
					t.Errorf("%s, %s: the fast path took it: %t, want %t", f.name, m, ok, want)
				}
				if !ok {
					continue
				}
				taken++
				want := append([]byte(nil), f.data...)
				s.f, s.res, s.nsums = want, SanitizeResult{}, 0
				wk := s.walk(len(want))
				if k != wk || s.res.Denied || !bytes.Equal(fast[:k], want[:wk]) {
					t.Errorf("%s, %s, %s: fast path keeps %d bytes, the walk %d (denied %t)\nfast %x\nwalk %x", f.name, p, m, k, wk, s.res.Denied, fast[:k], want[:wk])
				}
				// The same from the decoder's Summary, which nearly
				// every frame of the fast path has.
				dec := append([]byte(nil), f.data...)
				var sum Summary
				decoder := decoderFor(t, linkTypeOf(f.link))
				decoder.DecodeSummary(dec, &gopacket.CaptureInfo{CaptureLength: len(dec), Length: len(dec)}, &sum)
				if sum.l3 == 0 {
					continue
				}
				s.f, s.res, s.nsums = nil, SanitizeResult{}, 0
				dk := s.SanitizeDecoded(dec, &sum)
				if dk == 0 && !sum.HasPorts && !(sum.Fragment && sum.FragOffset != 0) {
					continue // no transport header, and not a later fragment
				}
				if dk == 0 && sum.Proto == ipTCP && !tcpNoneOrTimestamps(dec, &sum) {
					continue // TCP options other than timestamps: left to fast
				}
				if dk != k || !bytes.Equal(dec[:dk], fast[:k]) {
					t.Errorf("%s, %s, %s: SanitizeDecoded keeps %d bytes, fast %d\nSanitizeDecoded %x\nfast            %x", f.name, p, m, dk, k, dec[:dk], fast[:k])
				}
				takenDecoded++
			}
		}
	}
	t.Logf("the fast path took %d frames, %d of them from the decoder's Summary", taken, takenDecoded)
	// SCTP, MPLS, neighbor discovery and ICMP errors are the fast path's
	// but not the decoder's.
	if taken < 100 || takenDecoded < taken*2/3 {
		t.Errorf("the fast path took %d frames, %d of them from the decoder's Summary: want at least 100, and two thirds of them", taken, takenDecoded)
	}
}

// TestSanitizerAnonymizer checks that a Sanitizer maps addresses as
// KeepReserved of its Anonymizer does, on a miss and on a memo hit: the
// meter maps flow records through it.
func TestSanitizerAnonymizer(t *testing.T) {
	c, _ := testMappers(t)
	s := newTestSanitizer(t, layers.LinkTypeEthernet, PayloadStrip, MACKeyed)
	want := KeepReserved(c)
	addrs4 := [][4]byte{{}, {255, 255, 255, 255}, {10, 0, 0, 1}, {192, 0, 2, 1}, {198, 51, 100, 7}}
	addrs16 := [][16]byte{{}, {0x20, 0x01, 0x0d, 0xb8, 15: 1}, {0xfe, 0x80, 15: 0x42}}
	for i := range 3000 { // more than fit in a set: misses, hits and evictions
		addrs4 = append(addrs4, [4]byte{10, byte(i >> 8), byte(i), 7})
		addrs16 = append(addrs16, [16]byte{0x20, 0x01, 0x0d, 0xb8, 7: byte(i >> 8), 15: byte(i)})
	}
	for pass := range 2 {
		for _, a := range addrs4 {
			if got, w := s.Anonymize4(a), want.Anonymize4(a); got != w {
				t.Fatalf("pass %d: Anonymize4(%v) = %v, want %v", pass, a, got, w)
			}
		}
		for _, a := range addrs16 {
			if got, w := s.Anonymize16(a), want.Anonymize16(a); got != w {
				t.Fatalf("pass %d: Anonymize16(%x) = %x, want %x", pass, a, got, w)
			}
		}
	}
}

// tcpNoneOrTimestamps says whether the TCP header of dec (decoded into
// sum by the decoder's fast path) has no options, or NOP, NOP and
// timestamps only: the segments SanitizeDecoded rewrites.
func tcpNoneOrTimestamps(dec []byte, sum *Summary) bool {
	body := int(sum.l3) + 20
	if sum.IPVersion == 6 {
		body = int(sum.l3) + 40
	}
	switch hl := int(dec[body+12]>>4) * 4; hl {
	case 20:
		return true
	case 32:
		return binary.BigEndian.Uint32(dec[body+20:]) == 0x0101080a
	}
	return false
}
