package packet

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/gopacket/layers"

	"github.com/gimsproject/gims/internal/advcap"
)

// The frames are built with internal/advcap's builders (every checksum
// computed, so that tcpdump can check what the sanitizer leaves) from its
// distinctive identifiers; advcap.Frames is the Ethernet part of them.

// advFrame is one adversarial frame.
type advFrame struct {
	name string
	link uint32 // LINKTYPE_ value as a pcap file states it
	data []byte
	// keep is what Sanitize keeps with PayloadStrip, or -1 when the
	// test does not pin it.
	keep int
}

// linkType is the gopacket link type of a LINKTYPE_ value.
func linkTypeOf(link uint32) layers.LinkType { return layers.LinkType(link & 0xff) }

// adversarialFrames builds one frame per protocol the sanitizer knows
// (and a few it must refuse), each full of the identifiers above.
func adversarialFrames() []advFrame {
	a4, b4 := advcap.IPA, advcap.IPB
	a6, b6, c6 := advcap.IP6A, advcap.IP6B, advcap.IP6C
	var fr []advFrame
	add := func(name string, keep int, data []byte) {
		fr = append(fr, advFrame{name: name, link: 1, data: data, keep: keep})
	}
	eth4 := func(p []byte) []byte { return advcap.EthFrame(advcap.MACB, advcap.MACA, 0x0800, p) }
	eth6 := func(p []byte) []byte { return advcap.EthFrame(advcap.MACB, advcap.MACA, 0x86dd, p) }

	// Ethernet, IPv4, TCP with options, one of them unknown.
	tcpOpts := advcap.Cat([]byte{2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10}, advcap.BE32(0x11111111), advcap.BE32(0x22222222),
		[]byte{5, 10}, advcap.BE32(1), advcap.BE32(2), []byte{34, 10}, advcap.IPA[:], advcap.IPB[:])
	add("ethernet-ipv4-tcp-options", 14+20+20+len(tcpOpts),
		eth4(advcap.IPv4Pkt(a4, b4, 6, nil, advcap.TCPSeg(a4[:], b4[:], 40000, 80, tcpOpts, advcap.HTTPText()))))
	add("ethernet-ipv4-udp-dns", 14+20+8, eth4(advcap.IPv4DNS(b4, a4)))
	add("ethernet-ipv6-udp-dns", 14+40+8, eth6(advcap.IPv6DNS(a6, b6)))
	add("ethernet-padding", 14+20+20, advcap.EthFrame(advcap.MACB, advcap.MACA, 0x0800,
		advcap.Cat(advcap.IPv4Pkt(a4, b4, 6, nil, advcap.TCPSeg(a4[:], b4[:], 1, 2, nil, nil)), advcap.IPA[:], advcap.MACA[:])))

	// ARP and RARP.
	add("arp-request", 42, advcap.EthFrame(advcap.MACBroadcast, advcap.MACA, 0x0806, advcap.Cat(advcap.ARPMsg(1, 1, advcap.MACA, b4, [6]byte{}, a4), advcap.RawIDs()[:18])))
	add("arp-reply", 42, advcap.EthFrame(advcap.MACA, advcap.MACB, 0x0806, advcap.ARPMsg(1, 2, advcap.MACB, a4, advcap.MACA, b4)))
	add("rarp", 42, advcap.EthFrame(advcap.MACBroadcast, advcap.MACA, 0x8035, advcap.ARPMsg(1, 3, advcap.MACA, [4]byte{}, advcap.MACA, [4]byte{})))
	add("arp-unknown-hardware", 22, advcap.EthFrame(advcap.MACBroadcast, advcap.MACA, 0x0806,
		advcap.Cat(advcap.BE16(32), advcap.BE16(0x0800), []byte{20, 4}, advcap.BE16(1), advcap.RawIDs())))

	// VLAN tags and MPLS.
	add("dot1q-ipv4-tcp", 18+20+20, advcap.EthFrame(advcap.MACB, advcap.MACA, 0x8100, advcap.Cat(advcap.BE16(0x2064), advcap.BE16(0x0800), advcap.IPv4TCP(a4, b4))))
	add("qinq-ipv6-udp", 22+40+8, advcap.EthFrame(advcap.MACB, advcap.MACA, 0x88a8,
		advcap.Cat(advcap.BE16(100), advcap.BE16(0x8100), advcap.BE16(200), advcap.BE16(0x86dd), advcap.IPv6DNS(a6, b6))))
	add("mpls-ipv4-udp", 22+20+8, advcap.EthFrame(advcap.MACB, advcap.MACA, 0x8847,
		advcap.Cat([]byte{0, 1, 0, 64, 0, 2, 1, 64}, advcap.IPv4DNS(a4, b4))))
	add("mpls-pseudowire-ethernet", 22+14+20+20, advcap.EthFrame(advcap.MACB, advcap.MACA, 0x8847,
		advcap.Cat([]byte{0, 3, 1, 64, 0, 0, 0, 0}, advcap.EthFrame(advcap.MACA, advcap.MACB, 0x0800, advcap.IPv4TCP(b4, a4)))))

	// IPv4 options: record route, loose source route, timestamps with
	// addresses, an unknown option, end of options.
	opts := advcap.Cat([]byte{7, 11, 12}, a4[:], b4[:], []byte{131, 7, 4}, b4[:], []byte{68, 12, 13, 1}, a4[:], advcap.BE32(1000),
		[]byte{130, 6}, a4[:], []byte{0, 0, 0, 0})
	add("ipv4-options", 14+60+20, eth4(advcap.IPv4Pkt(a4, a4, 6, opts, advcap.TCPSeg(a4[:], b4[:], 40000, 80, nil, advcap.HTTPText()))))
	add("ipv4-unknown-protocol", 34, eth4(advcap.IPv4Pkt(a4, b4, 89, nil, advcap.RawIDs())))
	frag := advcap.IPv4Pkt(a4, b4, 17, nil, advcap.RawIDs())
	binary.BigEndian.PutUint16(frag[6:], 185)
	binary.BigEndian.PutUint16(frag[10:], 0)
	binary.BigEndian.PutUint16(frag[10:], advcap.Checksum(frag[:20], 0))
	add("ipv4-later-fragment", 34, eth4(frag))
	vfrag := advcap.IPv4Pkt(b4, a4, 6, nil, advcap.HTTPText())
	binary.BigEndian.PutUint16(vfrag[6:], 0x2000|7) // more fragments, offset 56
	binary.BigEndian.PutUint16(vfrag[10:], 0)
	binary.BigEndian.PutUint16(vfrag[10:], advcap.Checksum(vfrag[:20], 0))
	add("mpls-pseudowire-ipv4-later-fragment", 18+4+14+20, advcap.EthFrame(advcap.MACB, advcap.MACA, 0x8847,
		advcap.Cat([]byte{0, 3, 1, 64, 0, 0, 0, 0}, advcap.EthFrame(advcap.MACA, advcap.MACB, 0x0800, frag))))
	add("dot1q-ipv4-later-fragment", 18+20, advcap.EthFrame(advcap.MACB, advcap.MACA, 0x8100, advcap.Cat(advcap.BE16(5), advcap.BE16(0x0800), vfrag)))

	// IPv6 extension headers.
	hbh := advcap.Cat([]byte{60, 0, 0x3e, 4}, a4[:])                // unknown option
	dst := advcap.Cat([]byte{43, 0, 1, 4}, advcap.MACA[:4])         // PadN with data
	rh0 := advcap.Cat([]byte{6, 4, 0, 1, 0, 0, 0, 0}, c6[:], b6[:]) // RH0, one segment left
	add("ipv6-hbh-dest-rh0-tcp", 14+40+8+8+40+20, eth6(advcap.IPv6Pkt(a6, c6, 0, advcap.Cat(hbh, dst, rh0,
		advcap.TCPSeg(a6[:], b6[:], 40000, 80, nil, advcap.HTTPText())))))
	srh := advcap.Cat([]byte{17, 5, 4, 1, 1, 0, 0, 0}, b6[:], c6[:], []byte{5, 6}, advcap.MACA[:]) // SRH + HMAC-ish TLV
	add("ipv6-srh-udp", 14+40+48+8, eth6(advcap.IPv6Pkt(a6, c6, 43, advcap.Cat(srh, advcap.UDPSeg(a6[:], b6[:], 53, 33333, advcap.DNSAnswer())))))
	rh2 := advcap.Cat([]byte{17, 2, 2, 1, 0, 0, 0, 0}, a6[:])
	add("ipv6-rh2-udp", 14+40+24+8, eth6(advcap.IPv6Pkt(b6, c6, 43, advcap.Cat(rh2, advcap.UDPSeg(b6[:], a6[:], 53, 33333, advcap.DNSAnswer())))))
	rh3 := advcap.Cat([]byte{17, 2, 3, 1, 0, 0, 0, 0}, a6[:])
	add("ipv6-rh3-unknown", 14+40+4, eth6(advcap.IPv6Pkt(b6, c6, 43, advcap.Cat(rh3, advcap.UDPSeg(b6[:], a6[:], 53, 33333, advcap.DNSAnswer())))))
	add("ipv6-first-fragment-udp", 14+40+8+8, eth6(advcap.IPv6Pkt(a6, b6, 44, advcap.Cat([]byte{17, 0, 0, 1}, advcap.BE32(8),
		advcap.UDPSeg(a6[:], b6[:], 53, 33333, advcap.DNSAnswer())))))
	add("ipv6-later-fragment", 14+40+8, eth6(advcap.IPv6Pkt(a6, b6, 44, advcap.Cat([]byte{17, 0, 0x05, 0xc8}, advcap.BE32(7), advcap.RawIDs()))))

	// Transports.
	// UDP-Lite covering its header only: the pseudo-header has the
	// whole length.
	lite := advcap.Cat(advcap.BE16(5000), advcap.BE16(5001), advcap.BE16(8), advcap.BE16(0), []byte(advcap.Host))
	binary.BigEndian.PutUint16(lite[6:], advcap.Checksum(lite[:8], advcap.PseudoHeaderSum(a4[:], b4[:], 136, len(lite))))
	add("ipv4-udplite", 14+20+8, eth4(advcap.IPv4Pkt(a4, b4, 136, nil, lite)))
	add("ipv4-sctp", 14+20+12, eth4(advcap.IPv4Pkt(a4, b4, 132, nil, advcap.SCTPPkt(advcap.Cat([]byte(advcap.Host), a4[:])))))

	// ICMP.
	add("icmp-echo", 14+20+8, eth4(advcap.IPv4Pkt(a4, b4, 1, nil, advcap.ICMP4Msg(8, 0, []byte{0, 1, 0, 1}, advcap.HTTPText()))))
	quoted := advcap.IPv4DNS(b4, a4)
	add("icmp-port-unreachable", 14+20+8+28, eth4(advcap.IPv4Pkt(a4, b4, 1, nil, advcap.ICMP4Msg(3, 3, []byte{0, 0, 0, 0}, quoted))))
	add("icmp-redirect", 14+20+8+40, eth4(advcap.IPv4Pkt(b4, a4, 1, nil, advcap.ICMP4Msg(5, 1, a4[:], advcap.IPv4TCP(a4, b4)))))
	ext := advcap.Cat(advcap.Pad8(advcap.IPv4TCP(b4, a4)[:64]), make([]byte, 64), []byte{0x20, 0, 0, 0}, advcap.BE16(16), []byte{2, 0x0e}, advcap.BE32(7), a4[:], []byte(advcap.Host)[:4])
	add("icmp-time-exceeded-extension", 14+20+8+40, eth4(advcap.IPv4Pkt(a4, b4, 1, nil, advcap.ICMP4Msg(11, 0, []byte{0, 32, 0, 0}, ext))))
	// What the fast path takes of ICMP errors: a quoted UDP header
	// whole (cut short, with a zero checksum, over IPv6); not a quoted
	// TCP header, an empty datagram with bytes after it, or a quote cut
	// inside the UDP header.
	quoted8 := advcap.IPv4DNS(b4, a4)[:28]
	add("icmp-port-unreachable-8", 14+20+8+28, eth4(advcap.IPv4Pkt(a4, b4, 1, nil, advcap.ICMP4Msg(3, 3, []byte{0, 0, 0, 0}, quoted8))))
	nosum := advcap.IPv4DNS(b4, a4)
	nosum[26], nosum[27] = 0, 0
	add("icmp-time-exceeded-udp-no-checksum", 14+20+8+28, eth4(advcap.IPv4Pkt(a4, b4, 1, nil, advcap.ICMP4Msg(11, 0, []byte{0, 0, 0, 0}, nosum))))
	add("icmp-unreachable-tcp", 14+20+8+20+20, eth4(advcap.IPv4Pkt(a4, b4, 1, nil, advcap.ICMP4Msg(3, 1, []byte{0, 0, 0, 0}, advcap.IPv4TCP(b4, a4)))))
	add("icmp-unreachable-udp-cut", 14+20+8+20+4, eth4(advcap.IPv4Pkt(a4, b4, 1, nil, advcap.ICMP4Msg(3, 3, []byte{0, 0, 0, 0}, advcap.IPv4DNS(b4, a4)[:24]))))
	empty := advcap.IPv4Pkt(b4, a4, 17, nil, advcap.Cat(advcap.UDPSeg(b4[:], a4[:], 53, 33333, nil), advcap.RawIDs()[:8]))
	add("icmp-unreachable-udp-empty-then-bytes", 14+20+8+20+8, eth4(advcap.IPv4Pkt(a4, b4, 1, nil, advcap.ICMP4Msg(3, 3, []byte{0, 0, 0, 0}, empty))))
	add("icmpv6-time-exceeded-udp", 14+40+8+40+8, eth6(advcap.IPv6Pkt(b6, a6, 58, advcap.ICMP6Msg(b6, a6, 3, 0, advcap.Cat(advcap.BE32(0), advcap.IPv6DNS(a6, c6)[:48])))))
	add("icmp-unknown-type", 14+20+4, eth4(advcap.IPv4Pkt(a4, b4, 1, nil, advcap.ICMP4Msg(9, 0, []byte{1, 2, 0, 30}, advcap.Cat(a4[:], advcap.BE32(0))))))
	add("icmpv6-unreachable", 14+40+8+40+8, eth6(advcap.IPv6Pkt(b6, a6, 58, advcap.ICMP6Msg(b6, a6, 1, 4, advcap.Cat(advcap.BE32(0), advcap.IPv6DNS(a6, b6))))))
	add("icmpv6-echo", 14+40+8, eth6(advcap.IPv6Pkt(a6, b6, 58, advcap.ICMP6Msg(a6, b6, 128, 0, advcap.Cat(advcap.BE32(0x00010001), advcap.HTTPText())))))

	// Neighbor discovery.
	sn := netip.MustParseAddr("ff02::1:ff00:2").As16()
	snMAC := [6]byte{0x33, 0x33, 0xff, 0, 0, 2}
	add("nd-ns", 14+40+32, advcap.EthFrame(snMAC, advcap.MACA, 0x86dd, advcap.IPv6Pkt(a6, sn, 58,
		advcap.ICMP6Msg(a6, sn, 135, 0, advcap.Cat(advcap.BE32(0), b6[:], []byte{1, 1}, advcap.MACA[:])))))
	add("nd-na", 14+40+32, eth6(advcap.IPv6Pkt(b6, a6, 58,
		advcap.ICMP6Msg(b6, a6, 136, 0, advcap.Cat(advcap.BE32(0x60000000), b6[:], []byte{2, 1}, advcap.MACB[:])))))
	// What the fast path takes of neighbor discovery: NS and NA with
	// link-layer address and MTU options (a broadcast one kept), none,
	// or Ethernet padding after them; an unknown option or a longer
	// link-layer option goes to the walk.
	add("nd-na-tlla-mtu", 14+40+40, eth6(advcap.IPv6Pkt(b6, a6, 58,
		advcap.ICMP6Msg(b6, a6, 136, 0, advcap.Cat(advcap.BE32(0x40000000), a6[:], []byte{5, 1, 0, 0}, advcap.BE32(1500), []byte{2, 1}, advcap.MACB[:])))))
	add("nd-ns-broadcast-slla", 14+40+32, advcap.EthFrame(snMAC, advcap.MACBroadcast, 0x86dd, advcap.IPv6Pkt(a6, sn, 58,
		advcap.ICMP6Msg(a6, sn, 135, 0, advcap.Cat(advcap.BE32(0), b6[:], []byte{1, 1}, advcap.MACBroadcast[:])))))
	add("nd-ns-no-options-padding", 14+40+24, advcap.Cat(advcap.EthFrame(snMAC, advcap.MACA, 0x86dd, advcap.IPv6Pkt(netip.IPv6Unspecified().As16(), sn, 58,
		advcap.ICMP6Msg(netip.IPv6Unspecified().As16(), sn, 135, 0, advcap.Cat(advcap.BE32(0), b6[:])))), advcap.MACA[:]))
	add("nd-na-unknown-option", 14+40+24, eth6(advcap.IPv6Pkt(b6, a6, 58,
		advcap.ICMP6Msg(b6, a6, 136, 0, advcap.Cat(advcap.BE32(0x60000000), b6[:], []byte{14, 1}, advcap.MACB[:])))))
	add("nd-ns-long-slla", 14+40+24, advcap.EthFrame(snMAC, advcap.MACA, 0x86dd, advcap.IPv6Pkt(a6, sn, 58,
		advcap.ICMP6Msg(a6, sn, 135, 0, advcap.Cat(advcap.BE32(0), b6[:], []byte{1, 2}, advcap.MACA[:], advcap.MACB[:], []byte{0, 0, 0, 0})))))
	add("mpls-two-labels-ipv6-tcp", 22+40+20, advcap.EthFrame(advcap.MACB, advcap.MACA, 0x8847,
		advcap.Cat([]byte{0, 1, 0, 64, 0, 2, 1, 64}, advcap.IPv6Pkt(a6, b6, 6, advcap.TCPSeg(a6[:], b6[:], 40000, 443, nil, advcap.HTTPText())))))
	add("mpls-pseudowire-dot1q-ipv6-udp", 22+4+14+4+40+8, advcap.EthFrame(advcap.MACB, advcap.MACA, 0x8847,
		advcap.Cat([]byte{0, 3, 0, 64, 0, 4, 1, 64, 0, 0, 0, 9}, advcap.EthFrame(advcap.MACBroadcast, advcap.MACB, 0x8100,
			advcap.Cat(advcap.BE16(12), advcap.BE16(0x86dd), advcap.IPv6DNS(a6, b6))))))
	add("dot1q-mpls-ipv4-icmp", 18+4+20+8, advcap.EthFrame(advcap.MACB, advcap.MACA, 0x8100,
		advcap.Cat(advcap.BE16(7), advcap.BE16(0x8847), []byte{0, 5, 1, 64}, advcap.IPv4Pkt(a4, b4, 1, nil, advcap.ICMP4Msg(8, 0, []byte{0, 1, 0, 1}, advcap.HTTPText())))))
	allNodes := netip.MustParseAddr("ff02::1").As16()
	ra := advcap.Cat([]byte{64, 0}, advcap.BE16(1800), advcap.BE32(0), advcap.BE32(0),
		[]byte{1, 1}, advcap.MACA[:], []byte{5, 1, 0, 0}, advcap.BE32(1500),
		[]byte{3, 4, 64, 0xc0}, advcap.BE32(86400), advcap.BE32(14400), advcap.BE32(0), a6[:8], make([]byte, 8),
		[]byte{25, 3, 0, 0}, advcap.BE32(600), a6[:])
	add("nd-ra", 14+40+16+8+8+32, advcap.EthFrame([6]byte{0x33, 0x33, 0, 0, 0, 1}, advcap.MACA, 0x86dd,
		advcap.IPv6Pkt(a6, allNodes, 58, advcap.ICMP6Msg(a6, allNodes, 134, 0, ra))))
	rs := advcap.Cat(advcap.BE32(0), []byte{1, 1}, advcap.MACB[:])
	add("nd-rs", 14+40+16, eth6(advcap.IPv6Pkt(b6, allNodes, 58, advcap.ICMP6Msg(b6, allNodes, 133, 0, rs))))
	rq := advcap.IPv6DNS(a6, b6)[:56]
	redir := advcap.Cat(advcap.BE32(0), b6[:], a6[:], []byte{2, 1}, advcap.MACB[:], []byte{4, byte(1 + len(rq)/8), 0, 0, 0, 0, 0, 0}, rq)
	add("nd-redirect", 14+40+40+8+8+48, eth6(advcap.IPv6Pkt(c6, b6, 58, advcap.ICMP6Msg(c6, b6, 137, 0, redir))))

	// Tunnels.
	add("ipip", 14+20+20+20, eth4(advcap.IPv4Pkt(b4, a4, 4, nil, advcap.IPv4TCP(a4, b4))))
	add("6in4", 14+20+40+8, eth4(advcap.IPv4Pkt(b4, a4, 41, nil, advcap.IPv6DNS(a6, b6))))
	gre := advcap.WithSum(advcap.Cat([]byte{0xa0, 0}, advcap.BE16(0x0800), advcap.BE32(0), advcap.BE32(0xabcd), advcap.IPv4TCP(a4, b4)), 4, nil, nil, 0, false)
	add("gre-checksum-key-ipv4", 14+20+12+20+20, eth4(advcap.IPv4Pkt(b4, a4, 47, nil, gre)))
	teb := advcap.Cat([]byte{0x20, 0}, advcap.BE16(0x6558), advcap.BE32(0x10), advcap.EthFrame(advcap.MACA, advcap.MACB, 0x0800,
		advcap.IPv4Pkt(b4, a4, 1, nil, advcap.ICMP4Msg(0, 0, []byte{0, 7, 0, 1}, advcap.HTTPText()))))
	add("gre-ethernet", 14+20+8+14+20+8, eth4(advcap.IPv4Pkt(b4, a4, 47, nil, teb)))
	vx := advcap.Cat([]byte{8, 0, 0, 0, 0, 0x12, 0x34, 0}, advcap.EthFrame(advcap.MACBroadcast, advcap.MACA, 0x0806, advcap.ARPMsg(1, 1, advcap.MACA, b4, [6]byte{}, a4)))
	add("vxlan-arp", 14+20+8+8+42, eth4(advcap.IPv4Pkt(b4, a4, 17, nil, advcap.UDPSeg(b4[:], a4[:], 50000, 4789, vx))))
	gn := advcap.Cat([]byte{2, 0}, advcap.BE16(0x6558), []byte{0, 0, 0x42, 0}, advcap.BE16(0x0101), []byte{1, 1}, a4[:],
		advcap.EthFrame(advcap.MACB, advcap.MACA, 0x0800, advcap.IPv4DNS(a4, b4)))
	add("geneve", 14+40+8+16+14+20+8, eth6(advcap.IPv6Pkt(b6, a6, 17, advcap.UDPSeg(b6[:], a6[:], 50000, 6081, gn))))

	// Protocols that must be refused: only the Ethernet header stays.
	lldp := advcap.Cat([]byte{0x02, 7, 4}, advcap.MACA[:], []byte{0x04, 7, 3}, advcap.MACB[:], []byte{0x06, 2, 0, 120},
		[]byte{0x0a, byte(len(advcap.Host))}, []byte(advcap.Host), []byte{0x10, 12, 5, 1}, a4[:], []byte{2, 0, 0, 0, 1, 0}, []byte{0, 0})
	add("lldp", 14, advcap.EthFrame([6]byte{0x01, 0x80, 0xc2, 0, 0, 0x0e}, advcap.MACA, 0x88cc, lldp))
	cdp := advcap.Cat([]byte{0xaa, 0xaa, 3, 0, 0, 0x0c, 0x20, 0x00, 2, 180, 0, 0}, advcap.BE16(1), advcap.BE16(uint16(4+len(advcap.Host))), []byte(advcap.Host),
		advcap.BE16(2), advcap.BE16(17), advcap.BE32(1), []byte{1, 1, 0xcc}, advcap.BE16(4), a4[:])
	add("cdp", 14, advcap.Dot3Frame([6]byte{0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcc}, advcap.MACB, cdp))
	stp := advcap.Cat([]byte{0x42, 0x42, 3, 0, 0, 0, 0, 0, 0x80, 0}, advcap.MACA[:], advcap.BE32(4), []byte{0x80, 0}, advcap.MACB[:],
		[]byte{0x80, 1, 0, 0, 0x14, 0, 2, 0, 0x0f, 0})
	add("stp", 14, advcap.Dot3Frame([6]byte{0x01, 0x80, 0xc2, 0, 0, 0}, advcap.MACA, stp))
	eap := advcap.Cat([]byte{2, 1}, advcap.BE16(uint16(5+len(advcap.Host))), []byte{1}, []byte(advcap.Host))
	add("eapol", 14, advcap.EthFrame([6]byte{0x01, 0x80, 0xc2, 0, 0, 3}, advcap.MACB, 0x888e, advcap.Cat([]byte{1, 0}, advcap.BE16(uint16(len(eap))), eap)))

	// Other link types.
	sll := advcap.Cat([]byte{0, 0, 0, 1, 0, 6}, advcap.MACA[:], []byte{0, 0}, advcap.BE16(0x0800), advcap.IPv4TCP(a4, b4))
	fr = append(fr, advFrame{"sll-ipv4-tcp", 113, sll, 16 + 20 + 20})
	sll2 := advcap.Cat(advcap.BE16(0x86dd), advcap.BE16(0), advcap.BE32(2), advcap.BE16(1), []byte{4, 6}, advcap.MACB[:], []byte{0, 0}, advcap.IPv6DNS(a6, b6))
	fr = append(fr, advFrame{"sll2-ipv6-udp", 276, sll2, 20 + 40 + 8})
	sllGRE := advcap.Cat([]byte{0, 0, 0x03, 0x0a, 0, 4}, b4[:], []byte{0, 0, 0, 0}, advcap.BE16(0x0800), advcap.IPv4TCP(a4, b4))
	fr = append(fr, advFrame{"sll-ipgre-address", 113, sllGRE, 16 + 20 + 20})
	null := advcap.Cat([]byte{2, 0, 0, 0}, advcap.IPv4Pkt(a4, b4, 1, nil, advcap.ICMP4Msg(8, 0, []byte{0, 1, 0, 2}, advcap.HTTPText())))
	fr = append(fr, advFrame{"null-ipv4-icmp", 0, null, 4 + 20 + 8})
	raw := advcap.IPv6Pkt(a6, b6, 6, advcap.TCPSeg(a6[:], b6[:], 40000, 443, nil, advcap.HTTPText()))
	fr = append(fr, advFrame{"raw-ipv6-tcp", 101, raw, 40 + 20})
	fr = append(fr, advFrame{"raw-garbage", 101, advcap.RawIDs(), 0})
	return fr
}
