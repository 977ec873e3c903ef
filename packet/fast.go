package packet

import (
	"encoding/binary"

	"github.com/google/gopacket/layers"
)

// The fast path decodes the frames that make up nearly all traffic
// (Ethernet with 802.1Q/802.1ad tags, Linux cooked or raw IP; an IPv4 header
// without options or an IPv6 header without extension headers; TCP, UDP,
// ICMP or ICMPv6 that is neither an error quoting a packet nor neighbor
// discovery) by hand, in one pass over fixed offsets. It accepts a frame
// only when the DecodingLayerParser would decode it without error, and
// then fills exactly the Summary the parser would (rewrite sites
// included): TestFastPathMatchesParser and FuzzFastPath hold it to that.
// Anything else, it declines and Decode runs the parser.

// fastLink says how the fast path finds the network layer of a link type.
type fastLink uint8

const (
	fastNone     fastLink = iota // the parser decodes every frame
	fastEthernet                 // 14-byte header, EtherType at 12
	fastSLL                      // Linux cooked v1: 16 bytes, protocol at 14
	fastSLL2                     // Linux cooked v2: 20 bytes, protocol at 0
	fastRawIP                    // no header: the version nibble decides
)

// EtherTypes of VLAN tags etherNext follows.
const (
	etherDot1Q  = 0x8100
	etherQinQ   = 0x88a8
	etherQinQv1 = 0x9100
)

// decodeFast fills s (already reset by Decode) from data and reports
// whether it could; on false s is garbage and the parser must run.
func (d *Decoder) decodeFast(data []byte, s *Summary) bool {
	var (
		off   int
		etype uint16
	)
	switch d.fast {
	case fastEthernet:
		if len(data) < 14 {
			return false
		}
		etype, off = binary.BigEndian.Uint16(data[12:]), 14
	case fastSLL:
		if len(data) < 16 {
			return false
		}
		etype, off = binary.BigEndian.Uint16(data[14:]), 16
	case fastSLL2:
		if len(data) < 20 {
			return false
		}
		etype, off = binary.BigEndian.Uint16(data[0:]), 20
	case fastRawIP:
		if len(data) == 0 {
			return false
		}
		switch data[0] >> 4 {
		case 4:
			return d.fastIPv4(data, 0, s)
		case 6:
			return d.fastIPv6(data, 0, s)
		}
		return true // the parser stops there too, without error
	default:
		return false
	}
	vlanSeen := false
	for {
		// The parser decodes no layer after an empty payload.
		if off == len(data) {
			return true
		}
		switch etype {
		case uint16(layers.EthernetTypeIPv4):
			return d.fastIPv4(data, off, s)
		case uint16(layers.EthernetTypeIPv6):
			return d.fastIPv6(data, off, s)
		case etherDot1Q, etherQinQ, etherQinQv1:
			if len(data)-off < 4 {
				return false
			}
			if !vlanSeen {
				vlanSeen = true
				s.VLAN = binary.BigEndian.Uint16(data[off:]) & 0x0fff
			}
			etype = binary.BigEndian.Uint16(data[off+2:])
			off += 4
		case uint16(layers.EthernetTypeMPLSUnicast), uint16(layers.EthernetTypeMPLSMulticast):
			return false
		default:
			// ARP, LLC lengths and the like: no IP, no error.
			return true
		}
	}
}

// fastIPv4 decodes an IPv4 header without options at data[off:] and its
// transport.
func (d *Decoder) fastIPv4(data []byte, off int, s *Summary) bool {
	ip := data[off:]
	if len(ip) < 20 || ip[0] != 0x45 {
		return false // short, not version 4, or options
	}
	total := int(binary.BigEndian.Uint16(ip[2:]))
	if total < 20 {
		return false // 0 (segmentation offload) or invalid: the parser knows
	}
	src, dst := int8(-1), int8(-1)
	if d.sites {
		rw := &s.rw
		hs := rw.addSum(off+10, sumPlain, -1)
		src = rw.addAddr(off+12, 4, roleSrc, hs)
		dst = rw.addAddr(off+16, 4, roleDst, hs)
	}
	s.IPVersion, s.l3 = 4, uint16(off)
	*(*[4]byte)(s.Src[:4]) = [4]byte(ip[12:16]) // a 4-byte move; copy calls memmove
	*(*[4]byte)(s.Dst[:4]) = [4]byte(ip[16:20])
	s.IPLen = total
	if total > len(ip) {
		s.Truncated = true
	} else {
		ip = ip[:total]
	}
	s.Proto = ip[9]
	ff := binary.BigEndian.Uint16(ip[6:8])
	if ff&0x3fff != 0 {
		s.Fragment = true
		s.MoreFragments = ff&0x2000 != 0
		s.FragOffset = ff & 0x1fff * 8
		s.FragID = uint32(binary.BigEndian.Uint16(ip[4:6]))
		if ff&0x1fff != 0 {
			return true // no transport header in later fragments
		}
	}
	return d.fastTransport(data, off+20, off+len(ip), s.Proto, false, src, dst, s)
}

// fastIPv6 decodes an IPv6 header without extension headers at data[off:]
// and its transport.
func (d *Decoder) fastIPv6(data []byte, off int, s *Summary) bool {
	ip := data[off:]
	if len(ip) < 40 || ip[0]>>4 != 6 {
		return false
	}
	plen := int(binary.BigEndian.Uint16(ip[4:]))
	next := ip[6]
	switch layers.IPProtocol(next) {
	case layers.IPProtocolIPv6HopByHop, layers.IPProtocolIPv6Routing,
		layers.IPProtocolIPv6Destination, layers.IPProtocolIPv6Fragment:
		return false
	}
	if plen == 0 {
		return false // an error without hop-by-hop jumbogram option
	}
	src, dst := int8(-1), int8(-1)
	if d.sites {
		rw := &s.rw
		src = rw.addAddr(off+8, 16, roleSrc)
		dst = rw.addAddr(off+24, 16, roleDst)
	}
	s.IPVersion, s.l3 = 6, uint16(off)
	s.Src = [16]byte(ip[8:24])
	s.Dst = [16]byte(ip[24:40])
	s.IPLen = 40 + plen
	end := len(data)
	if s.IPLen > len(ip) {
		s.Truncated = true
	} else {
		end = off + s.IPLen
	}
	s.Proto = next
	return d.fastTransport(data, off+40, end, next, true, src, dst, s)
}

// fastTransport decodes the transport header in data[off:end] of the outer
// IP header whose addresses are rewrite sites src and dst.
func (d *Decoder) fastTransport(data []byte, off, end int, proto uint8, v6 bool, src, dst int8, s *Summary) bool {
	if off >= end {
		return true // empty payload: the parser stops before the transport
	}
	t := data[off:end]
	rw := &s.rw
	switch layers.IPProtocol(proto) {
	case layers.IPProtocolTCP:
		if len(t) < 20 {
			return false
		}
		hl := int(t[12]>>4) * 4
		if hl < 20 || hl > len(t) || !tcpOptionsValid(t[20:hl]) {
			return false
		}
		s.HasPorts = true
		s.SrcPort = binary.BigEndian.Uint16(t[0:])
		s.DstPort = binary.BigEndian.Uint16(t[2:])
		s.TCPFlags = t[13]
		if hl == 20 || hl == 32 && binary.BigEndian.Uint32(t[20:24]) == 0x0101080a {
			s.sanKeep, s.sanAt = uint8(off+hl), uint8(off+16) // read only with the IP header 18 bytes in at most
		}
		if d.sites {
			sum := rw.addSum(off+16, sumPlain, -1)
			rw.cover(src, sum)
			rw.cover(dst, sum)
		}
	case layers.IPProtocolUDP:
		if len(t) < 8 {
			return false
		}
		l := binary.BigEndian.Uint16(t[4:])
		if l != 0 && l < 8 {
			return false
		}
		s.HasPorts = true
		s.SrcPort = binary.BigEndian.Uint16(t[0:])
		s.DstPort = binary.BigEndian.Uint16(t[2:])
		if (l != 8 || len(t) == 8) && s.DstPort != portVXLAN && s.DstPort != portGeneve {
			s.sanKeep, s.sanAt = uint8(off+8), uint8(off+6)
		}
		if d.sites {
			sum := rw.addSum(off+6, sumUDP, -1)
			rw.cover(src, sum)
			rw.cover(dst, sum)
		}
	case layers.IPProtocolICMPv4:
		if len(t) < 8 {
			return false
		}
		switch t[0] {
		case layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4TypeSourceQuench,
			layers.ICMPv4TypeRedirect, layers.ICMPv4TypeTimeExceeded, layers.ICMPv4TypeParameterProblem:
			return false // quotes a packet: the parser records its addresses
		}
		s.HasPorts = true
		s.DstPort = uint16(t[0])<<8 | uint16(t[1])
		if t[0] == layers.ICMPv4TypeEchoReply || t[0] == layers.ICMPv4TypeEchoRequest {
			s.sanKeep = uint8(off + 8)
		}
	case layers.IPProtocolICMPv6:
		if !v6 {
			return true // not followed over IPv4, as ipNext says
		}
		if len(t) < 4 {
			return false
		}
		switch t[0] {
		case layers.ICMPv6TypeDestinationUnreachable, layers.ICMPv6TypePacketTooBig,
			layers.ICMPv6TypeTimeExceeded, layers.ICMPv6TypeParameterProblem,
			layers.ICMPv6TypeNeighborSolicitation, layers.ICMPv6TypeNeighborAdvertisement,
			layers.ICMPv6TypeRedirect:
			return false // carries addresses: the parser records them
		}
		s.HasPorts = true
		s.DstPort = uint16(t[0])<<8 | uint16(t[1])
		if len(t) >= 8 && (t[0] == layers.ICMPv6TypeEchoRequest || t[0] == layers.ICMPv6TypeEchoReply) {
			s.sanKeep, s.sanAt = uint8(off+8), uint8(off+2)
		}
		if d.sites {
			sum := rw.addSum(off+2, sumPlain, -1)
			rw.cover(src, sum)
			rw.cover(dst, sum)
		}
	default:
		// Tunnels, SCTP, UDP-Lite, ICMP over IPv6: the parser decodes
		// them. Anything else ends decoding without error.
		if ipNext(layers.IPProtocol(proto), v6) != 0 {
			return false
		}
	}
	return true
}

// tcpOptionsValid says whether gopacket's TCP decoder accepts these
// options.
func tcpOptionsValid(o []byte) bool {
	for len(o) > 0 {
		switch o[0] {
		case 0: // end of options
			return true
		case 1: // no-op
			o = o[1:]
		default:
			if len(o) < 2 || o[1] < 2 || int(o[1]) > len(o) {
				return false
			}
			o = o[o[1]:]
		}
	}
	return true
}
