// Package advcap builds an adversarial capture for the sanitization tests
// (SPEC §8, issue 11): Ethernet frames of every protocol the sanitizer
// rewrites or must cut (ARP, IPv6 neighbour discovery, ICMP quotes, IPv4
// options, IPv6 routing headers with SRH, IP-in-IP, 6in4, GRE, VXLAN,
// Geneve, DNS, LLDP, CDP, STP, EAPOL), each full of distinctive IPv4 and
// IPv6 addresses, MAC addresses and a host name, in headers and in
// payloads; and a scanner that finds those identifiers in any output as
// raw bytes or as text. The packet package's own sanitizer tests build
// their frames with the same exported builders and identifiers, every
// checksum computed, so that tools read them cleanly.
//
// It is a test helper: only tests import it.
package advcap

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// The distinctive identifiers the frames carry.
var (
	MACA         = [6]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}
	MACB         = [6]byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01}
	IPA          = [4]byte{10, 20, 30, 40}
	IPB          = [4]byte{192, 168, 1, 10}
	IP6A         = netip.MustParseAddr("2001:db8:dead:beef::1").As16()
	IP6B         = netip.MustParseAddr("2001:db8:dead:beef::2").As16()
	IP6C         = netip.MustParseAddr("2001:db8:dead:beef::3").As16()
	MACBroadcast = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

// Host is the host name the frames carry (DNS, HTTP, LLDP, CDP, EAP).
const Host = "secret-host.example.com"

// Frame is one adversarial Ethernet frame.
type Frame struct {
	Name string
	Data []byte
}

// Frames returns the adversarial Ethernet frames.
func Frames() []Frame { return ethernetFrames() }

// WritePcap writes the frames to an Ethernet pcap file at path, one
// millisecond apart from a fixed time, so that runs are reproducible.
// Each frame is repeated n times (n >= 1), so that flows have several
// packets.
func WritePcap(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		f.Close()
		return err
	}
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := 0; i < max(n, 1); i++ {
		for _, fr := range Frames() {
			t = t.Add(time.Millisecond)
			ci := gopacket.CaptureInfo{Timestamp: t, CaptureLength: len(fr.Data), Length: len(fr.Data)}
			if err := w.WritePacket(ci, fr.Data); err != nil {
				f.Close()
				return err
			}
		}
	}
	return f.Close()
}

// Identifiers returns every form an identifier of the frames may take in
// an output, by name: the MACs as 6 raw bytes and as text (colon and dash
// separated, lower and upper case), the IPv4 addresses as 4 raw bytes and
// dotted, the IPv6 addresses as 16 raw bytes and as text (lower and upper
// case), their /64 prefix raw and as text, and the host name and its
// first label.
func Identifiers() map[string][]byte {
	ids := map[string][]byte{}
	for _, m := range [][6]byte{MACA, MACB} {
		t := fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
		ids["mac "+t] = m[:]
		for _, s := range []string{t, strings.ToUpper(t), strings.ReplaceAll(t, ":", "-"), strings.ReplaceAll(strings.ToUpper(t), ":", "-")} {
			ids["text "+s] = []byte(s)
		}
	}
	for _, a := range [][4]byte{IPA, IPB} {
		s := netip.AddrFrom4(a).String()
		ids["ipv4 "+s] = a[:]
		ids["text "+s] = []byte(s)
	}
	for _, a := range [][16]byte{IP6A, IP6B, IP6C} {
		s := netip.AddrFrom16(a).String()
		ids["ipv6 "+s] = a[:]
		ids["text "+s] = []byte(s)
		ids["text "+strings.ToUpper(s)] = []byte(strings.ToUpper(s))
	}
	ids["ipv6 prefix 2001:db8:dead:beef::/64"] = IP6A[:8]
	ids["text dead:beef"] = []byte("dead:beef")
	ids["text host"] = []byte(Host)
	ids["text host label"] = []byte("secret-host")
	return ids
}

// Find returns the names of the identifiers found in b: raw forms as
// they are, text forms in any case.
func Find(b []byte, ids map[string][]byte) []string {
	var hits []string
	lower := bytes.ToLower(b)
	for name, id := range ids {
		if bytes.Contains(b, id) || strings.HasPrefix(name, "text ") && bytes.Contains(lower, bytes.ToLower(id)) {
			hits = append(hits, name)
		}
	}
	return hits
}

// Checksum is the RFC 1071 Internet checksum over data from the partial
// sum init.
func Checksum(data []byte, init uint32) uint16 {
	x := init
	for i := 0; i+1 < len(data); i += 2 {
		x += uint32(data[i])<<8 | uint32(data[i+1])
	}
	if len(data)%2 == 1 {
		x += uint32(data[len(data)-1]) << 8
	}
	for x > 0xffff {
		x = x&0xffff + x>>16
	}
	return ^uint16(x)
}

// PseudoHeaderSum is the partial sum of a transport pseudo-header.
func PseudoHeaderSum(src, dst []byte, proto uint8, length int) uint32 {
	var x uint32
	for _, b := range [][]byte{src, dst} {
		for i := 0; i+1 < len(b); i += 2 {
			x += uint32(b[i])<<8 | uint32(b[i+1])
		}
	}
	return x + uint32(proto) + uint32(length&0xffff) + uint32(length>>16)
}

// Cat concatenates the parts of a frame.
func Cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// BE16 and BE32 are v as big-endian bytes.
func BE16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func BE32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// EthFrame is an Ethernet II frame.
func EthFrame(dst, src [6]byte, etype uint16, payload []byte) []byte {
	return Cat(dst[:], src[:], BE16(etype), payload)
}

// Dot3Frame is an 802.3 frame with a length field.
func Dot3Frame(dst, src [6]byte, payload []byte) []byte {
	return Cat(dst[:], src[:], BE16(uint16(len(payload))), payload)
}

// IPv4Pkt is an IPv4 packet with the given options (a multiple of 4
// bytes) and payload, its header checksum computed.
func IPv4Pkt(src, dst [4]byte, proto uint8, opts, payload []byte) []byte {
	hl := 20 + len(opts)
	h := make([]byte, 20, hl)
	h[0] = 0x40 | byte(hl/4)
	binary.BigEndian.PutUint16(h[2:], uint16(hl+len(payload)))
	binary.BigEndian.PutUint16(h[4:], 0x4242)
	h[8], h[9] = 64, proto
	copy(h[12:], src[:])
	copy(h[16:], dst[:])
	h = append(h, opts...)
	binary.BigEndian.PutUint16(h[10:], Checksum(h, 0))
	return Cat(h, payload)
}

// IPv6Pkt is an IPv6 packet; payload holds the extension headers too.
func IPv6Pkt(src, dst [16]byte, next uint8, payload []byte) []byte {
	h := make([]byte, 40)
	h[0], h[1], h[3] = 0x60, 0x01, 0x23 // flow label 0x123
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6], h[7] = next, 64
	copy(h[8:], src[:])
	copy(h[24:], dst[:])
	return Cat(h, payload)
}

// WithSum returns seg with the checksum at at computed over the
// pseudo-header of src, dst (nil: no pseudo-header) and proto.
func WithSum(seg []byte, at int, src, dst []byte, proto uint8, udp bool) []byte {
	seg = append([]byte(nil), seg...)
	seg[at], seg[at+1] = 0, 0
	var init uint32
	if src != nil {
		init = PseudoHeaderSum(src, dst, proto, len(seg))
	}
	c := Checksum(seg, init)
	if udp && c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(seg[at:], c)
	return seg
}

// TCPSeg is a TCP segment with its checksum over the pseudo-header of src and dst.
func TCPSeg(src, dst []byte, sport, dport uint16, opts, payload []byte) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint32(h[4:], 0x01020304)
	binary.BigEndian.PutUint32(h[8:], 0x05060708)
	h[12] = byte((20+len(opts))/4) << 4
	h[13] = 0x18 // PSH ACK
	binary.BigEndian.PutUint16(h[14:], 65535)
	return WithSum(Cat(h, opts, payload), 16, src, dst, 6, false)
}

// UDPSeg is a UDP datagram with its checksum over the pseudo-header of src and dst.
func UDPSeg(src, dst []byte, sport, dport uint16, payload []byte) []byte {
	h := Cat(BE16(sport), BE16(dport), BE16(uint16(8+len(payload))), BE16(0))
	return WithSum(Cat(h, payload), 6, src, dst, 17, true)
}

// ICMP4Msg is an ICMP message with its checksum.
func ICMP4Msg(typ, code uint8, rest []byte, body []byte) []byte {
	return WithSum(Cat([]byte{typ, code, 0, 0}, rest, body), 2, nil, nil, 0, false)
}

// ICMP6Msg is an ICMPv6 message with its checksum over the pseudo-header of src and dst.
func ICMP6Msg(src, dst [16]byte, typ, code uint8, body []byte) []byte {
	return WithSum(Cat([]byte{typ, code, 0, 0}, body), 2, src[:], dst[:], 58, false)
}

// DNSAnswer is a DNS response for Host with an A record IPA.
func DNSAnswer() []byte {
	dns := &layers.DNS{ID: 0x1234, QR: true, RD: true, RA: true,
		Questions: []layers.DNSQuestion{{Name: []byte(Host), Type: layers.DNSTypeA, Class: layers.DNSClassIN}},
		Answers: []layers.DNSResourceRecord{{Name: []byte(Host), Type: layers.DNSTypeA, Class: layers.DNSClassIN,
			TTL: 60, IP: net.IP(IPA[:])}}}
	buf := gopacket.NewSerializeBuffer()
	if err := dns.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		panic(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// HTTPText is a payload naming every identifier as text.
func HTTPText() []byte {
	return []byte("GET / HTTP/1.1\r\nHost: " + Host + "\r\nX-Client: 10.20.30.40 192.168.1.10 2001:db8:dead:beef::1 " +
		"00:11:22:33:44:55 DE:AD:BE:EF:00:01\r\n\r\n")
}

// RawIDs is every identifier as raw bytes, for bodies that must be cut.
func RawIDs() []byte {
	return Cat(IPA[:], IPB[:], IP6A[:], MACA[:], MACB[:], []byte(Host))
}

// IPv4TCP is an IPv4 TCP packet from a to b carrying the HTTP text.
func IPv4TCP(a, b [4]byte) []byte {
	return IPv4Pkt(a, b, 6, nil, TCPSeg(a[:], b[:], 40000, 80, nil, HTTPText()))
}

// IPv4DNS is an IPv4 UDP DNS answer from a to b.
func IPv4DNS(a, b [4]byte) []byte {
	return IPv4Pkt(a, b, 17, nil, UDPSeg(a[:], b[:], 53, 33333, DNSAnswer()))
}

// IPv6DNS is an IPv6 packet carrying the DNS answer from a to b.
func IPv6DNS(a, b [16]byte) []byte {
	return IPv6Pkt(a, b, 17, UDPSeg(a[:], b[:], 53, 33333, DNSAnswer()))
}

// ARPMsg is an ARP message of hardware type htype with the given addresses.
func ARPMsg(htype uint16, op uint16, sha [6]byte, spa [4]byte, tha [6]byte, tpa [4]byte) []byte {
	return Cat(BE16(htype), BE16(0x0800), []byte{6, 4}, BE16(op), sha[:], spa[:], tha[:], tpa[:])
}

// Pad8 pads b with zeros to a multiple of 8 bytes.
func Pad8(b []byte) []byte {
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// SCTPPkt is an SCTP packet with a DATA chunk, its CRC32c computed.
func SCTPPkt(data []byte) []byte {
	chunk := Cat([]byte{0, 3}, BE16(uint16(16+len(data))), BE32(1), BE16(0), BE16(0), BE32(0), data)
	for len(chunk)%4 != 0 {
		chunk = append(chunk, 0)
	}
	p := Cat(BE16(5000), BE16(5001), BE32(0xcafe0001), BE32(0), chunk)
	binary.LittleEndian.PutUint32(p[8:], crc32.Checksum(p, crc32.MakeTable(crc32.Castagnoli)))
	return p
}

func ethernetFrames() []Frame {
	a4, b4 := IPA, IPB
	a6, b6, c6 := IP6A, IP6B, IP6C
	var fr []Frame
	add := func(name string, keep int, data []byte) {
		_ = keep
		fr = append(fr, Frame{Name: name, Data: data})
	}
	eth4 := func(p []byte) []byte { return EthFrame(MACB, MACA, 0x0800, p) }
	eth6 := func(p []byte) []byte { return EthFrame(MACB, MACA, 0x86dd, p) }

	// Ethernet, IPv4, TCP with options, one of them unknown.
	tcpOpts := Cat([]byte{2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10}, BE32(0x11111111), BE32(0x22222222),
		[]byte{5, 10}, BE32(1), BE32(2), []byte{34, 10}, IPA[:], IPB[:])
	add("ethernet-ipv4-tcp-options", 14+20+20+len(tcpOpts),
		eth4(IPv4Pkt(a4, b4, 6, nil, TCPSeg(a4[:], b4[:], 40000, 80, tcpOpts, HTTPText()))))
	add("ethernet-ipv4-udp-dns", 14+20+8, eth4(IPv4DNS(b4, a4)))
	add("ethernet-ipv6-udp-dns", 14+40+8, eth6(IPv6DNS(a6, b6)))
	add("ethernet-padding", 14+20+20, EthFrame(MACB, MACA, 0x0800,
		Cat(IPv4Pkt(a4, b4, 6, nil, TCPSeg(a4[:], b4[:], 1, 2, nil, nil)), IPA[:], MACA[:])))

	// ARP and RARP.
	add("arp-request", 42, EthFrame(MACBroadcast, MACA, 0x0806, Cat(ARPMsg(1, 1, MACA, b4, [6]byte{}, a4), RawIDs()[:18])))
	add("arp-reply", 42, EthFrame(MACA, MACB, 0x0806, ARPMsg(1, 2, MACB, a4, MACA, b4)))
	add("rarp", 42, EthFrame(MACBroadcast, MACA, 0x8035, ARPMsg(1, 3, MACA, [4]byte{}, MACA, [4]byte{})))
	add("arp-unknown-hardware", 22, EthFrame(MACBroadcast, MACA, 0x0806,
		Cat(BE16(32), BE16(0x0800), []byte{20, 4}, BE16(1), RawIDs())))

	// VLAN tags and MPLS.
	add("dot1q-ipv4-tcp", 18+20+20, EthFrame(MACB, MACA, 0x8100, Cat(BE16(0x2064), BE16(0x0800), IPv4TCP(a4, b4))))
	add("qinq-ipv6-udp", 22+40+8, EthFrame(MACB, MACA, 0x88a8,
		Cat(BE16(100), BE16(0x8100), BE16(200), BE16(0x86dd), IPv6DNS(a6, b6))))
	add("mpls-ipv4-udp", 22+20+8, EthFrame(MACB, MACA, 0x8847,
		Cat([]byte{0, 1, 0, 64, 0, 2, 1, 64}, IPv4DNS(a4, b4))))
	add("mpls-pseudowire-ethernet", 22+14+20+20, EthFrame(MACB, MACA, 0x8847,
		Cat([]byte{0, 3, 1, 64, 0, 0, 0, 0}, EthFrame(MACA, MACB, 0x0800, IPv4TCP(b4, a4)))))

	// IPv4 options: record route, loose source route, timestamps with
	// addresses, an unknown option, end of options.
	opts := Cat([]byte{7, 11, 12}, a4[:], b4[:], []byte{131, 7, 4}, b4[:], []byte{68, 12, 13, 1}, a4[:], BE32(1000),
		[]byte{130, 6}, a4[:], []byte{0, 0, 0, 0})
	add("ipv4-options", 14+60+20, eth4(IPv4Pkt(a4, a4, 6, opts, TCPSeg(a4[:], b4[:], 40000, 80, nil, HTTPText()))))
	add("ipv4-unknown-protocol", 34, eth4(IPv4Pkt(a4, b4, 89, nil, RawIDs())))
	frag := IPv4Pkt(a4, b4, 17, nil, RawIDs())
	binary.BigEndian.PutUint16(frag[6:], 185)
	binary.BigEndian.PutUint16(frag[10:], 0)
	binary.BigEndian.PutUint16(frag[10:], Checksum(frag[:20], 0))
	add("ipv4-later-fragment", 34, eth4(frag))

	// IPv6 extension headers.
	hbh := Cat([]byte{60, 0, 0x3e, 4}, a4[:])                // unknown option
	dst := Cat([]byte{43, 0, 1, 4}, MACA[:4])                // PadN with data
	rh0 := Cat([]byte{6, 4, 0, 1, 0, 0, 0, 0}, c6[:], b6[:]) // RH0, one segment left
	add("ipv6-hbh-dest-rh0-tcp", 14+40+8+8+40+20, eth6(IPv6Pkt(a6, c6, 0, Cat(hbh, dst, rh0,
		TCPSeg(a6[:], b6[:], 40000, 80, nil, HTTPText())))))
	srh := Cat([]byte{17, 5, 4, 1, 1, 0, 0, 0}, b6[:], c6[:], []byte{5, 6}, MACA[:]) // SRH + HMAC-ish TLV
	add("ipv6-srh-udp", 14+40+48+8, eth6(IPv6Pkt(a6, c6, 43, Cat(srh, UDPSeg(a6[:], b6[:], 53, 33333, DNSAnswer())))))
	rh2 := Cat([]byte{17, 2, 2, 1, 0, 0, 0, 0}, a6[:])
	add("ipv6-rh2-udp", 14+40+24+8, eth6(IPv6Pkt(b6, c6, 43, Cat(rh2, UDPSeg(b6[:], a6[:], 53, 33333, DNSAnswer())))))
	rh3 := Cat([]byte{17, 2, 3, 1, 0, 0, 0, 0}, a6[:])
	add("ipv6-rh3-unknown", 14+40+4, eth6(IPv6Pkt(b6, c6, 43, Cat(rh3, UDPSeg(b6[:], a6[:], 53, 33333, DNSAnswer())))))
	add("ipv6-later-fragment", 14+40+8, eth6(IPv6Pkt(a6, b6, 44, Cat([]byte{17, 0, 0x05, 0xc8}, BE32(7), RawIDs()))))

	// Transports.
	// UDP-Lite covering its header only: the pseudo-header has the
	// whole length.
	lite := Cat(BE16(5000), BE16(5001), BE16(8), BE16(0), []byte(Host))
	binary.BigEndian.PutUint16(lite[6:], Checksum(lite[:8], PseudoHeaderSum(a4[:], b4[:], 136, len(lite))))
	add("ipv4-udplite", 14+20+8, eth4(IPv4Pkt(a4, b4, 136, nil, lite)))
	add("ipv4-sctp", 14+20+12, eth4(IPv4Pkt(a4, b4, 132, nil, SCTPPkt(Cat([]byte(Host), a4[:])))))

	// ICMP.
	add("icmp-echo", 14+20+8, eth4(IPv4Pkt(a4, b4, 1, nil, ICMP4Msg(8, 0, []byte{0, 1, 0, 1}, HTTPText()))))
	quoted := IPv4DNS(b4, a4)
	add("icmp-port-unreachable", 14+20+8+28, eth4(IPv4Pkt(a4, b4, 1, nil, ICMP4Msg(3, 3, []byte{0, 0, 0, 0}, quoted))))
	add("icmp-redirect", 14+20+8+40, eth4(IPv4Pkt(b4, a4, 1, nil, ICMP4Msg(5, 1, a4[:], IPv4TCP(a4, b4)))))
	ext := Cat(Pad8(IPv4TCP(b4, a4)[:64]), make([]byte, 64), []byte{0x20, 0, 0, 0}, BE16(16), []byte{2, 0x0e}, BE32(7), a4[:], []byte(Host)[:4])
	add("icmp-time-exceeded-extension", 14+20+8+40, eth4(IPv4Pkt(a4, b4, 1, nil, ICMP4Msg(11, 0, []byte{0, 32, 0, 0}, ext))))
	add("icmp-unknown-type", 14+20+4, eth4(IPv4Pkt(a4, b4, 1, nil, ICMP4Msg(9, 0, []byte{1, 2, 0, 30}, Cat(a4[:], BE32(0))))))
	add("icmpv6-unreachable", 14+40+8+40+8, eth6(IPv6Pkt(b6, a6, 58, ICMP6Msg(b6, a6, 1, 4, Cat(BE32(0), IPv6DNS(a6, b6))))))
	add("icmpv6-echo", 14+40+8, eth6(IPv6Pkt(a6, b6, 58, ICMP6Msg(a6, b6, 128, 0, Cat(BE32(0x00010001), HTTPText())))))

	// Neighbor discovery.
	sn := netip.MustParseAddr("ff02::1:ff00:2").As16()
	snMAC := [6]byte{0x33, 0x33, 0xff, 0, 0, 2}
	add("nd-ns", 14+40+32, EthFrame(snMAC, MACA, 0x86dd, IPv6Pkt(a6, sn, 58,
		ICMP6Msg(a6, sn, 135, 0, Cat(BE32(0), b6[:], []byte{1, 1}, MACA[:])))))
	add("nd-na", 14+40+32, eth6(IPv6Pkt(b6, a6, 58,
		ICMP6Msg(b6, a6, 136, 0, Cat(BE32(0x60000000), b6[:], []byte{2, 1}, MACB[:])))))
	allNodes := netip.MustParseAddr("ff02::1").As16()
	ra := Cat([]byte{64, 0}, BE16(1800), BE32(0), BE32(0),
		[]byte{1, 1}, MACA[:], []byte{5, 1, 0, 0}, BE32(1500),
		[]byte{3, 4, 64, 0xc0}, BE32(86400), BE32(14400), BE32(0), a6[:8], make([]byte, 8),
		[]byte{25, 3, 0, 0}, BE32(600), a6[:])
	add("nd-ra", 14+40+16+8+8+32, EthFrame([6]byte{0x33, 0x33, 0, 0, 0, 1}, MACA, 0x86dd,
		IPv6Pkt(a6, allNodes, 58, ICMP6Msg(a6, allNodes, 134, 0, ra))))
	rs := Cat(BE32(0), []byte{1, 1}, MACB[:])
	add("nd-rs", 14+40+16, eth6(IPv6Pkt(b6, allNodes, 58, ICMP6Msg(b6, allNodes, 133, 0, rs))))
	rq := IPv6DNS(a6, b6)[:56]
	redir := Cat(BE32(0), b6[:], a6[:], []byte{2, 1}, MACB[:], []byte{4, byte(1 + len(rq)/8), 0, 0, 0, 0, 0, 0}, rq)
	add("nd-redirect", 14+40+40+8+8+48, eth6(IPv6Pkt(c6, b6, 58, ICMP6Msg(c6, b6, 137, 0, redir))))

	// Tunnels.
	add("ipip", 14+20+20+20, eth4(IPv4Pkt(b4, a4, 4, nil, IPv4TCP(a4, b4))))
	add("6in4", 14+20+40+8, eth4(IPv4Pkt(b4, a4, 41, nil, IPv6DNS(a6, b6))))
	gre := WithSum(Cat([]byte{0xa0, 0}, BE16(0x0800), BE32(0), BE32(0xabcd), IPv4TCP(a4, b4)), 4, nil, nil, 0, false)
	add("gre-checksum-key-ipv4", 14+20+12+20+20, eth4(IPv4Pkt(b4, a4, 47, nil, gre)))
	teb := Cat([]byte{0x20, 0}, BE16(0x6558), BE32(0x10), EthFrame(MACA, MACB, 0x0800,
		IPv4Pkt(b4, a4, 1, nil, ICMP4Msg(0, 0, []byte{0, 7, 0, 1}, HTTPText()))))
	add("gre-ethernet", 14+20+8+14+20+8, eth4(IPv4Pkt(b4, a4, 47, nil, teb)))
	vx := Cat([]byte{8, 0, 0, 0, 0, 0x12, 0x34, 0}, EthFrame(MACBroadcast, MACA, 0x0806, ARPMsg(1, 1, MACA, b4, [6]byte{}, a4)))
	add("vxlan-arp", 14+20+8+8+42, eth4(IPv4Pkt(b4, a4, 17, nil, UDPSeg(b4[:], a4[:], 50000, 4789, vx))))
	gn := Cat([]byte{2, 0}, BE16(0x6558), []byte{0, 0, 0x42, 0}, BE16(0x0101), []byte{1, 1}, a4[:],
		EthFrame(MACB, MACA, 0x0800, IPv4DNS(a4, b4)))
	add("geneve", 14+40+8+16+14+20+8, eth6(IPv6Pkt(b6, a6, 17, UDPSeg(b6[:], a6[:], 50000, 6081, gn))))

	// Protocols that must be refused: only the Ethernet header stays.
	lldp := Cat([]byte{0x02, 7, 4}, MACA[:], []byte{0x04, 7, 3}, MACB[:], []byte{0x06, 2, 0, 120},
		[]byte{0x0a, byte(len(Host))}, []byte(Host), []byte{0x10, 12, 5, 1}, a4[:], []byte{2, 0, 0, 0, 1, 0}, []byte{0, 0})
	add("lldp", 14, EthFrame([6]byte{0x01, 0x80, 0xc2, 0, 0, 0x0e}, MACA, 0x88cc, lldp))
	cdp := Cat([]byte{0xaa, 0xaa, 3, 0, 0, 0x0c, 0x20, 0x00, 2, 180, 0, 0}, BE16(1), BE16(uint16(4+len(Host))), []byte(Host),
		BE16(2), BE16(17), BE32(1), []byte{1, 1, 0xcc}, BE16(4), a4[:])
	add("cdp", 14, Dot3Frame([6]byte{0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcc}, MACB, cdp))
	stp := Cat([]byte{0x42, 0x42, 3, 0, 0, 0, 0, 0, 0x80, 0}, MACA[:], BE32(4), []byte{0x80, 0}, MACB[:],
		[]byte{0x80, 1, 0, 0, 0x14, 0, 2, 0, 0x0f, 0})
	add("stp", 14, Dot3Frame([6]byte{0x01, 0x80, 0xc2, 0, 0, 0}, MACA, stp))
	eap := Cat([]byte{2, 1}, BE16(uint16(5+len(Host))), []byte{1}, []byte(Host))
	add("eapol", 14, EthFrame([6]byte{0x01, 0x80, 0xc2, 0, 0, 3}, MACB, 0x888e, Cat([]byte{1, 0}, BE16(uint16(len(eap))), eap)))

	return fr
}
