// Package advcap builds an adversarial capture for the sanitization tests
// (SPEC §8, issue 11): Ethernet frames of every protocol the sanitizer
// rewrites or must cut (ARP, IPv6 neighbour discovery, ICMP quotes, IPv4
// options, IPv6 routing headers with SRH, IP-in-IP, 6in4, GRE, VXLAN,
// Geneve, DNS, LLDP, CDP, STP, EAPOL), each full of distinctive IPv4 and
// IPv6 addresses, MAC addresses and a host name, in headers and in
// payloads; and a scanner that finds those identifiers in any output as
// raw bytes or as text. The frames are those of the packet package's own
// sanitizer tests (packet/sanitize_frames_test.go), with every checksum
// computed, so that tools read them cleanly.
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
	advMACA  = [6]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}
	advMACB  = [6]byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01}
	advIPA   = [4]byte{10, 20, 30, 40}
	advIPB   = [4]byte{192, 168, 1, 10}
	advIP6A  = netip.MustParseAddr("2001:db8:dead:beef::1").As16()
	advIP6B  = netip.MustParseAddr("2001:db8:dead:beef::2").As16()
	advIP6C  = netip.MustParseAddr("2001:db8:dead:beef::3").As16()
	advHost  = "secret-host.example.com"
	macBcast = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
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
	for _, m := range [][6]byte{advMACA, advMACB} {
		t := fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
		ids["mac "+t] = m[:]
		for _, s := range []string{t, strings.ToUpper(t), strings.ReplaceAll(t, ":", "-"), strings.ReplaceAll(strings.ToUpper(t), ":", "-")} {
			ids["text "+s] = []byte(s)
		}
	}
	for _, a := range [][4]byte{advIPA, advIPB} {
		s := netip.AddrFrom4(a).String()
		ids["ipv4 "+s] = a[:]
		ids["text "+s] = []byte(s)
	}
	for _, a := range [][16]byte{advIP6A, advIP6B, advIP6C} {
		s := netip.AddrFrom16(a).String()
		ids["ipv6 "+s] = a[:]
		ids["text "+s] = []byte(s)
		ids["text "+strings.ToUpper(s)] = []byte(strings.ToUpper(s))
	}
	ids["ipv6 prefix 2001:db8:dead:beef::/64"] = advIP6A[:8]
	ids["text dead:beef"] = []byte("dead:beef")
	ids["text host"] = []byte(advHost)
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

// checksum is the RFC 1071 Internet checksum over data from the partial
// sum init.
func checksum(data []byte, init uint32) uint16 {
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

// pseudoHeaderSum is the partial sum of a transport pseudo-header.
func pseudoHeaderSum(src, dst []byte, proto uint8, length int) uint32 {
	var x uint32
	for _, b := range [][]byte{src, dst} {
		for i := 0; i+1 < len(b); i += 2 {
			x += uint32(b[i])<<8 | uint32(b[i+1])
		}
	}
	return x + uint32(proto) + uint32(length&0xffff) + uint32(length>>16)
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// ethFrame is an Ethernet II frame.
func ethFrame(dst, src [6]byte, etype uint16, payload []byte) []byte {
	return cat(dst[:], src[:], be16(etype), payload)
}

// dot3Frame is an 802.3 frame with a length field.
func dot3Frame(dst, src [6]byte, payload []byte) []byte {
	return cat(dst[:], src[:], be16(uint16(len(payload))), payload)
}

// ipv4Pkt is an IPv4 packet with the given options (a multiple of 4
// bytes) and payload, its header checksum computed.
func ipv4Pkt(src, dst [4]byte, proto uint8, opts, payload []byte) []byte {
	hl := 20 + len(opts)
	h := make([]byte, 20, hl)
	h[0] = 0x40 | byte(hl/4)
	binary.BigEndian.PutUint16(h[2:], uint16(hl+len(payload)))
	binary.BigEndian.PutUint16(h[4:], 0x4242)
	h[8], h[9] = 64, proto
	copy(h[12:], src[:])
	copy(h[16:], dst[:])
	h = append(h, opts...)
	binary.BigEndian.PutUint16(h[10:], checksum(h, 0))
	return cat(h, payload)
}

// ipv6Pkt is an IPv6 packet; payload holds the extension headers too.
func ipv6Pkt(src, dst [16]byte, next uint8, payload []byte) []byte {
	h := make([]byte, 40)
	h[0], h[1], h[3] = 0x60, 0x01, 0x23 // flow label 0x123
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6], h[7] = next, 64
	copy(h[8:], src[:])
	copy(h[24:], dst[:])
	return cat(h, payload)
}

// withSum returns seg with the checksum at at computed over the
// pseudo-header of src, dst (nil: no pseudo-header) and proto.
func withSum(seg []byte, at int, src, dst []byte, proto uint8, udp bool) []byte {
	seg = append([]byte(nil), seg...)
	seg[at], seg[at+1] = 0, 0
	var init uint32
	if src != nil {
		init = pseudoHeaderSum(src, dst, proto, len(seg))
	}
	c := checksum(seg, init)
	if udp && c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(seg[at:], c)
	return seg
}

func tcpSeg(src, dst []byte, sport, dport uint16, opts, payload []byte) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint32(h[4:], 0x01020304)
	binary.BigEndian.PutUint32(h[8:], 0x05060708)
	h[12] = byte((20+len(opts))/4) << 4
	h[13] = 0x18 // PSH ACK
	binary.BigEndian.PutUint16(h[14:], 65535)
	return withSum(cat(h, opts, payload), 16, src, dst, 6, false)
}

func udpSeg(src, dst []byte, sport, dport uint16, payload []byte) []byte {
	h := cat(be16(sport), be16(dport), be16(uint16(8+len(payload))), be16(0))
	return withSum(cat(h, payload), 6, src, dst, 17, true)
}

func icmp4Msg(typ, code uint8, rest []byte, body []byte) []byte {
	return withSum(cat([]byte{typ, code, 0, 0}, rest, body), 2, nil, nil, 0, false)
}

func icmp6Msg(src, dst [16]byte, typ, code uint8, body []byte) []byte {
	return withSum(cat([]byte{typ, code, 0, 0}, body), 2, src[:], dst[:], 58, false)
}

// dnsAnswer is a DNS response for advHost with an A record advIPA.
func dnsAnswer() []byte {
	dns := &layers.DNS{ID: 0x1234, QR: true, RD: true, RA: true,
		Questions: []layers.DNSQuestion{{Name: []byte(advHost), Type: layers.DNSTypeA, Class: layers.DNSClassIN}},
		Answers: []layers.DNSResourceRecord{{Name: []byte(advHost), Type: layers.DNSTypeA, Class: layers.DNSClassIN,
			TTL: 60, IP: net.IP(advIPA[:])}}}
	buf := gopacket.NewSerializeBuffer()
	if err := dns.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		panic(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// httpText is a payload naming every identifier as text.
func httpText() []byte {
	return []byte("GET / HTTP/1.1\r\nHost: " + advHost + "\r\nX-Client: 10.20.30.40 192.168.1.10 2001:db8:dead:beef::1 " +
		"00:11:22:33:44:55 DE:AD:BE:EF:00:01\r\n\r\n")
}

// rawIDs is every identifier as raw bytes, for bodies that must be cut.
func rawIDs() []byte {
	return cat(advIPA[:], advIPB[:], advIP6A[:], advMACA[:], advMACB[:], []byte(advHost))
}

// ipv4TCP is an IPv4 TCP packet from a to b carrying the HTTP text.
func ipv4TCP(a, b [4]byte) []byte {
	return ipv4Pkt(a, b, 6, nil, tcpSeg(a[:], b[:], 40000, 80, nil, httpText()))
}

// ipv4DNS is an IPv4 UDP DNS answer from a to b.
func ipv4DNS(a, b [4]byte) []byte {
	return ipv4Pkt(a, b, 17, nil, udpSeg(a[:], b[:], 53, 33333, dnsAnswer()))
}

func ipv6DNS(a, b [16]byte) []byte {
	return ipv6Pkt(a, b, 17, udpSeg(a[:], b[:], 53, 33333, dnsAnswer()))
}

func arpMsg(htype uint16, op uint16, sha [6]byte, spa [4]byte, tha [6]byte, tpa [4]byte) []byte {
	return cat(be16(htype), be16(0x0800), []byte{6, 4}, be16(op), sha[:], spa[:], tha[:], tpa[:])
}

// pad8 pads b with zeros to a multiple of 8 bytes.
func pad8(b []byte) []byte {
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// sctpPkt is an SCTP packet with a DATA chunk, its CRC32c computed.
func sctpPkt(data []byte) []byte {
	chunk := cat([]byte{0, 3}, be16(uint16(16+len(data))), be32(1), be16(0), be16(0), be32(0), data)
	for len(chunk)%4 != 0 {
		chunk = append(chunk, 0)
	}
	p := cat(be16(5000), be16(5001), be32(0xcafe0001), be32(0), chunk)
	binary.LittleEndian.PutUint32(p[8:], crc32.Checksum(p, crc32.MakeTable(crc32.Castagnoli)))
	return p
}

func ethernetFrames() []Frame {
	a4, b4 := advIPA, advIPB
	a6, b6, c6 := advIP6A, advIP6B, advIP6C
	var fr []Frame
	add := func(name string, keep int, data []byte) {
		_ = keep
		fr = append(fr, Frame{Name: name, Data: data})
	}
	eth4 := func(p []byte) []byte { return ethFrame(advMACB, advMACA, 0x0800, p) }
	eth6 := func(p []byte) []byte { return ethFrame(advMACB, advMACA, 0x86dd, p) }

	// Ethernet, IPv4, TCP with options, one of them unknown.
	tcpOpts := cat([]byte{2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10}, be32(0x11111111), be32(0x22222222),
		[]byte{5, 10}, be32(1), be32(2), []byte{34, 10}, advIPA[:], advIPB[:])
	add("ethernet-ipv4-tcp-options", 14+20+20+len(tcpOpts),
		eth4(ipv4Pkt(a4, b4, 6, nil, tcpSeg(a4[:], b4[:], 40000, 80, tcpOpts, httpText()))))
	add("ethernet-ipv4-udp-dns", 14+20+8, eth4(ipv4DNS(b4, a4)))
	add("ethernet-ipv6-udp-dns", 14+40+8, eth6(ipv6DNS(a6, b6)))
	add("ethernet-padding", 14+20+20, ethFrame(advMACB, advMACA, 0x0800,
		cat(ipv4Pkt(a4, b4, 6, nil, tcpSeg(a4[:], b4[:], 1, 2, nil, nil)), advIPA[:], advMACA[:])))

	// ARP and RARP.
	add("arp-request", 42, ethFrame(macBcast, advMACA, 0x0806, cat(arpMsg(1, 1, advMACA, b4, [6]byte{}, a4), rawIDs()[:18])))
	add("arp-reply", 42, ethFrame(advMACA, advMACB, 0x0806, arpMsg(1, 2, advMACB, a4, advMACA, b4)))
	add("rarp", 42, ethFrame(macBcast, advMACA, 0x8035, arpMsg(1, 3, advMACA, [4]byte{}, advMACA, [4]byte{})))
	add("arp-unknown-hardware", 22, ethFrame(macBcast, advMACA, 0x0806,
		cat(be16(32), be16(0x0800), []byte{20, 4}, be16(1), rawIDs())))

	// VLAN tags and MPLS.
	add("dot1q-ipv4-tcp", 18+20+20, ethFrame(advMACB, advMACA, 0x8100, cat(be16(0x2064), be16(0x0800), ipv4TCP(a4, b4))))
	add("qinq-ipv6-udp", 22+40+8, ethFrame(advMACB, advMACA, 0x88a8,
		cat(be16(100), be16(0x8100), be16(200), be16(0x86dd), ipv6DNS(a6, b6))))
	add("mpls-ipv4-udp", 22+20+8, ethFrame(advMACB, advMACA, 0x8847,
		cat([]byte{0, 1, 0, 64, 0, 2, 1, 64}, ipv4DNS(a4, b4))))
	add("mpls-pseudowire-ethernet", 22+14+20+20, ethFrame(advMACB, advMACA, 0x8847,
		cat([]byte{0, 3, 1, 64, 0, 0, 0, 0}, ethFrame(advMACA, advMACB, 0x0800, ipv4TCP(b4, a4)))))

	// IPv4 options: record route, loose source route, timestamps with
	// addresses, an unknown option, end of options.
	opts := cat([]byte{7, 11, 12}, a4[:], b4[:], []byte{131, 7, 4}, b4[:], []byte{68, 12, 13, 1}, a4[:], be32(1000),
		[]byte{130, 6}, a4[:], []byte{0, 0, 0, 0})
	add("ipv4-options", 14+60+20, eth4(ipv4Pkt(a4, a4, 6, opts, tcpSeg(a4[:], b4[:], 40000, 80, nil, httpText()))))
	add("ipv4-unknown-protocol", 34, eth4(ipv4Pkt(a4, b4, 89, nil, rawIDs())))
	frag := ipv4Pkt(a4, b4, 17, nil, rawIDs())
	binary.BigEndian.PutUint16(frag[6:], 185)
	binary.BigEndian.PutUint16(frag[10:], 0)
	binary.BigEndian.PutUint16(frag[10:], checksum(frag[:20], 0))
	add("ipv4-later-fragment", 34, eth4(frag))

	// IPv6 extension headers.
	hbh := cat([]byte{60, 0, 0x3e, 4}, a4[:])                // unknown option
	dst := cat([]byte{43, 0, 1, 4}, advMACA[:4])             // PadN with data
	rh0 := cat([]byte{6, 4, 0, 1, 0, 0, 0, 0}, c6[:], b6[:]) // RH0, one segment left
	add("ipv6-hbh-dest-rh0-tcp", 14+40+8+8+40+20, eth6(ipv6Pkt(a6, c6, 0, cat(hbh, dst, rh0,
		tcpSeg(a6[:], b6[:], 40000, 80, nil, httpText())))))
	srh := cat([]byte{17, 5, 4, 1, 1, 0, 0, 0}, b6[:], c6[:], []byte{5, 6}, advMACA[:]) // SRH + HMAC-ish TLV
	add("ipv6-srh-udp", 14+40+48+8, eth6(ipv6Pkt(a6, c6, 43, cat(srh, udpSeg(a6[:], b6[:], 53, 33333, dnsAnswer())))))
	rh2 := cat([]byte{17, 2, 2, 1, 0, 0, 0, 0}, a6[:])
	add("ipv6-rh2-udp", 14+40+24+8, eth6(ipv6Pkt(b6, c6, 43, cat(rh2, udpSeg(b6[:], a6[:], 53, 33333, dnsAnswer())))))
	rh3 := cat([]byte{17, 2, 3, 1, 0, 0, 0, 0}, a6[:])
	add("ipv6-rh3-unknown", 14+40+4, eth6(ipv6Pkt(b6, c6, 43, cat(rh3, udpSeg(b6[:], a6[:], 53, 33333, dnsAnswer())))))
	add("ipv6-later-fragment", 14+40+8, eth6(ipv6Pkt(a6, b6, 44, cat([]byte{17, 0, 0x05, 0xc8}, be32(7), rawIDs()))))

	// Transports.
	// UDP-Lite covering its header only: the pseudo-header has the
	// whole length.
	lite := cat(be16(5000), be16(5001), be16(8), be16(0), []byte(advHost))
	binary.BigEndian.PutUint16(lite[6:], checksum(lite[:8], pseudoHeaderSum(a4[:], b4[:], 136, len(lite))))
	add("ipv4-udplite", 14+20+8, eth4(ipv4Pkt(a4, b4, 136, nil, lite)))
	add("ipv4-sctp", 14+20+12, eth4(ipv4Pkt(a4, b4, 132, nil, sctpPkt(cat([]byte(advHost), a4[:])))))

	// ICMP.
	add("icmp-echo", 14+20+8, eth4(ipv4Pkt(a4, b4, 1, nil, icmp4Msg(8, 0, []byte{0, 1, 0, 1}, httpText()))))
	quoted := ipv4DNS(b4, a4)
	add("icmp-port-unreachable", 14+20+8+28, eth4(ipv4Pkt(a4, b4, 1, nil, icmp4Msg(3, 3, []byte{0, 0, 0, 0}, quoted))))
	add("icmp-redirect", 14+20+8+40, eth4(ipv4Pkt(b4, a4, 1, nil, icmp4Msg(5, 1, a4[:], ipv4TCP(a4, b4)))))
	ext := cat(pad8(ipv4TCP(b4, a4)[:64]), make([]byte, 64), []byte{0x20, 0, 0, 0}, be16(16), []byte{2, 0x0e}, be32(7), a4[:], []byte(advHost)[:4])
	add("icmp-time-exceeded-extension", 14+20+8+40, eth4(ipv4Pkt(a4, b4, 1, nil, icmp4Msg(11, 0, []byte{0, 32, 0, 0}, ext))))
	add("icmp-unknown-type", 14+20+4, eth4(ipv4Pkt(a4, b4, 1, nil, icmp4Msg(9, 0, []byte{1, 2, 0, 30}, cat(a4[:], be32(0))))))
	add("icmpv6-unreachable", 14+40+8+40+8, eth6(ipv6Pkt(b6, a6, 58, icmp6Msg(b6, a6, 1, 4, cat(be32(0), ipv6DNS(a6, b6))))))
	add("icmpv6-echo", 14+40+8, eth6(ipv6Pkt(a6, b6, 58, icmp6Msg(a6, b6, 128, 0, cat(be32(0x00010001), httpText())))))

	// Neighbor discovery.
	sn := netip.MustParseAddr("ff02::1:ff00:2").As16()
	snMAC := [6]byte{0x33, 0x33, 0xff, 0, 0, 2}
	add("nd-ns", 14+40+32, ethFrame(snMAC, advMACA, 0x86dd, ipv6Pkt(a6, sn, 58,
		icmp6Msg(a6, sn, 135, 0, cat(be32(0), b6[:], []byte{1, 1}, advMACA[:])))))
	add("nd-na", 14+40+32, eth6(ipv6Pkt(b6, a6, 58,
		icmp6Msg(b6, a6, 136, 0, cat(be32(0x60000000), b6[:], []byte{2, 1}, advMACB[:])))))
	allNodes := netip.MustParseAddr("ff02::1").As16()
	ra := cat([]byte{64, 0}, be16(1800), be32(0), be32(0),
		[]byte{1, 1}, advMACA[:], []byte{5, 1, 0, 0}, be32(1500),
		[]byte{3, 4, 64, 0xc0}, be32(86400), be32(14400), be32(0), a6[:8], make([]byte, 8),
		[]byte{25, 3, 0, 0}, be32(600), a6[:])
	add("nd-ra", 14+40+16+8+8+32, ethFrame([6]byte{0x33, 0x33, 0, 0, 0, 1}, advMACA, 0x86dd,
		ipv6Pkt(a6, allNodes, 58, icmp6Msg(a6, allNodes, 134, 0, ra))))
	rs := cat(be32(0), []byte{1, 1}, advMACB[:])
	add("nd-rs", 14+40+16, eth6(ipv6Pkt(b6, allNodes, 58, icmp6Msg(b6, allNodes, 133, 0, rs))))
	rq := ipv6DNS(a6, b6)[:56]
	redir := cat(be32(0), b6[:], a6[:], []byte{2, 1}, advMACB[:], []byte{4, byte(1 + len(rq)/8), 0, 0, 0, 0, 0, 0}, rq)
	add("nd-redirect", 14+40+40+8+8+48, eth6(ipv6Pkt(c6, b6, 58, icmp6Msg(c6, b6, 137, 0, redir))))

	// Tunnels.
	add("ipip", 14+20+20+20, eth4(ipv4Pkt(b4, a4, 4, nil, ipv4TCP(a4, b4))))
	add("6in4", 14+20+40+8, eth4(ipv4Pkt(b4, a4, 41, nil, ipv6DNS(a6, b6))))
	gre := withSum(cat([]byte{0xa0, 0}, be16(0x0800), be32(0), be32(0xabcd), ipv4TCP(a4, b4)), 4, nil, nil, 0, false)
	add("gre-checksum-key-ipv4", 14+20+12+20+20, eth4(ipv4Pkt(b4, a4, 47, nil, gre)))
	teb := cat([]byte{0x20, 0}, be16(0x6558), be32(0x10), ethFrame(advMACA, advMACB, 0x0800,
		ipv4Pkt(b4, a4, 1, nil, icmp4Msg(0, 0, []byte{0, 7, 0, 1}, httpText()))))
	add("gre-ethernet", 14+20+8+14+20+8, eth4(ipv4Pkt(b4, a4, 47, nil, teb)))
	vx := cat([]byte{8, 0, 0, 0, 0, 0x12, 0x34, 0}, ethFrame(macBcast, advMACA, 0x0806, arpMsg(1, 1, advMACA, b4, [6]byte{}, a4)))
	add("vxlan-arp", 14+20+8+8+42, eth4(ipv4Pkt(b4, a4, 17, nil, udpSeg(b4[:], a4[:], 50000, 4789, vx))))
	gn := cat([]byte{2, 0}, be16(0x6558), []byte{0, 0, 0x42, 0}, be16(0x0101), []byte{1, 1}, a4[:],
		ethFrame(advMACB, advMACA, 0x0800, ipv4DNS(a4, b4)))
	add("geneve", 14+40+8+16+14+20+8, eth6(ipv6Pkt(b6, a6, 17, udpSeg(b6[:], a6[:], 50000, 6081, gn))))

	// Protocols that must be refused: only the Ethernet header stays.
	lldp := cat([]byte{0x02, 7, 4}, advMACA[:], []byte{0x04, 7, 3}, advMACB[:], []byte{0x06, 2, 0, 120},
		[]byte{0x0a, byte(len(advHost))}, []byte(advHost), []byte{0x10, 12, 5, 1}, a4[:], []byte{2, 0, 0, 0, 1, 0}, []byte{0, 0})
	add("lldp", 14, ethFrame([6]byte{0x01, 0x80, 0xc2, 0, 0, 0x0e}, advMACA, 0x88cc, lldp))
	cdp := cat([]byte{0xaa, 0xaa, 3, 0, 0, 0x0c, 0x20, 0x00, 2, 180, 0, 0}, be16(1), be16(uint16(4+len(advHost))), []byte(advHost),
		be16(2), be16(17), be32(1), []byte{1, 1, 0xcc}, be16(4), a4[:])
	add("cdp", 14, dot3Frame([6]byte{0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcc}, advMACB, cdp))
	stp := cat([]byte{0x42, 0x42, 3, 0, 0, 0, 0, 0, 0x80, 0}, advMACA[:], be32(4), []byte{0x80, 0}, advMACB[:],
		[]byte{0x80, 1, 0, 0, 0x14, 0, 2, 0, 0x0f, 0})
	add("stp", 14, dot3Frame([6]byte{0x01, 0x80, 0xc2, 0, 0, 0}, advMACA, stp))
	eap := cat([]byte{2, 1}, be16(uint16(5+len(advHost))), []byte{1}, []byte(advHost))
	add("eapol", 14, ethFrame([6]byte{0x01, 0x80, 0xc2, 0, 0, 3}, advMACB, 0x888e, cat([]byte{1, 0}, be16(uint16(len(eap))), eap)))

	return fr
}
