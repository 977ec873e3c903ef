package packet

import "encoding/binary"

// fast sanitizes, in one pass over fixed offsets, the frames that make up
// nearly all traffic when the payload is stripped: Ethernet with at most
// one VLAN tag; an IPv4 header without options (not a later fragment) or
// an IPv6 header without extension headers; TCP whose options are all
// kept as they are, UDP that is not a tunnel, ICMP or ICMPv6 echo. It
// first checks that the frame is one of those, changing nothing, and
// reports false otherwise: the general walk then runs. On true, the frame
// is rewritten exactly as the general walk rewrites it (the same
// mappings, the same checksum updates in the same order) and keep is what
// the walk would return. sanitizeChecked in the tests holds every
// frame it sanitizes to that, the fuzz target FuzzSanitize included. The
// traced walk of the tests never takes the fast path. It uses neither s.f
// nor s.res: keep is always within (0, len(f)] and nothing is denied.
func (s *Sanitizer) fast(f []byte) (keep int, ok bool) {
	if s.link != fastEthernet || s.payload != PayloadStrip || s.trace != nil {
		return 0, false
	}
	n := len(f)
	if n < 14+20 {
		return 0, false
	}
	off := 14
	etype := binary.BigEndian.Uint16(f[12:14])
	switch etype {
	case etherDot1Q, etherQinQ, etherQinQv1:
		off, etype = 18, binary.BigEndian.Uint16(f[16:18])
	}
	var (
		v6          bool
		body, ipEnd int
		proto       uint8
	)
	switch ip := f[off:]; etype {
	case 0x0800:
		if len(ip) < 20 || ip[0] != 0x45 { // short, or options
			return 0, false
		}
		total := int(binary.BigEndian.Uint16(ip[2:4]))
		if total < 20 || binary.BigEndian.Uint16(ip[6:8])&0x1fff != 0 {
			return 0, false // 0 (offload), invalid, or a later fragment
		}
		body, ipEnd, proto = off+20, min(off+total, n), ip[9]
	case 0x86dd:
		if len(ip) < 40 || ip[0]>>4 != 6 {
			return 0, false
		}
		plen := int(binary.BigEndian.Uint16(ip[4:6]))
		if plen == 0 {
			return 0, false // jumbogram, or cut by the capture
		}
		v6, body, ipEnd, proto = true, off+40, min(off+40+plen, n), ip[6]
	default:
		return 0, false
	}
	t := f[body:ipEnd]
	switch {
	case proto == ipTCP:
		if len(t) < 20 {
			return 0, false
		}
		hl := int(t[12]>>4) * 4
		if hl < 20 {
			return 0, false
		}
		optEnd := min(hl, len(t))
		if !tcpOptionsKept(t[20:optEnd]) {
			return 0, false
		}
		keep = body + optEnd
	case proto == ipUDP:
		if len(t) < 8 {
			return 0, false
		}
		if l := binary.BigEndian.Uint16(t[4:6]); l != 0 && (l < 8 || l == 8 && len(t) > 8) {
			return 0, false // invalid, or bytes after an empty datagram
		}
		if p := binary.BigEndian.Uint16(t[2:4]); p == portVXLAN || p == portGeneve {
			return 0, false
		}
		keep = body + 8
	case proto == 1 && !v6:
		if len(t) < 8 || t[0] != 0 && t[0] != 8 { // echo reply, request
			return 0, false
		}
		keep = body + 8
	case proto == ipICMPv6 && v6:
		if len(t) < 8 || t[0] != 128 && t[0] != 129 { // echo request, reply
			return 0, false
		}
		keep = body + 8
	default:
		return 0, false
	}

	// The frame is one the fast path knows: rewrite it.
	if s.mac != MACKeep { // macAt of the destination, then of the source
		for _, a := range [2][]byte{f[0:6], f[6:12]} {
			x := getMAC(a)
			if x == macBroadcast {
				continue
			}
			var m uint64
			if s.mac == MACKeyed { // mapMAC
				set := &s.memo.mac[setMAC(x)]
				if e := set[0]; e.k == x|memoValid {
					m = e.v
				} else {
					m = s.mapMACMiss(x, set)
				}
			}
			putMAC(a, m)
		}
	}
	var ip sanIP
	if v6 { // addr16 of the source, then of the destination
		h := (*[40]byte)(f[off : off+40])
		ip.v6 = true
		ip.src = s.addr16Fast((*[16]byte)(h[8:24]))
		ip.dst = s.addr16Fast((*[16]byte)(h[24:40]))
	} else {
		// addr4 of the source then of the destination, each
		// updating the header checksum, as the walk does.
		h := (*[20]byte)(f[off : off+20])
		x1, x2 := binary.BigEndian.Uint32(h[12:16]), binary.BigEndian.Uint32(h[16:20])
		var m1, m2 uint32 // map4
		if set := &s.memo.v4[set4(x1)]; set[0]>>32 == uint64(x1) {
			m1 = uint32(set[0])
		} else {
			m1 = s.map4Miss(x1, set)
		}
		if set := &s.memo.v4[set4(x2)]; set[0]>>32 == uint64(x2) {
			m2 = uint32(set[0])
		} else {
			m2 = s.map4Miss(x2, set)
		}
		binary.BigEndian.PutUint32(h[12:16], m1)
		binary.BigEndian.PutUint32(h[16:20], m2)
		ip.src, ip.dst = delta4(x1, m1), delta4(x2, m2)
		hc := binary.BigEndian.Uint16(h[10:12])
		hc = adjustPlain(hc, ip.src)
		hc = adjustPlain(hc, ip.dst)
		binary.BigEndian.PutUint16(h[10:12], hc)
	}
	// transportSum: the pseudo-header difference.
	field, kind := body+16, sumPlain
	switch proto {
	case ipUDP:
		field, kind = body+6, sumUDP
	case ipICMPv6:
		field = body + 2
	case 1:
		return keep, true // no pseudo-header
	}
	c := f[field : field+2]
	binary.BigEndian.PutUint16(c, adjustIf(binary.BigEndian.Uint16(c), ip.pseudo(), kind))
	return keep, true
}

// addr16Fast is addr16 with a whole prefix and no checksum covering the
// address.
func (s *Sanitizer) addr16Fast(a *[16]byte) uint16 {
	k0, k1 := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:])
	var m0, m1 uint64 // map16
	if set := &s.memo.v6[set16(k0, k1)]; set[0].k0 == k0 && set[0].k1 == k1 {
		m0, m1 = set[0].v0, set[0].v1
	} else {
		m0, m1 = s.map16Miss(k0, k1, set)
	}
	if m0 == k0 && m1 == k1 {
		return 0xffff
	}
	binary.BigEndian.PutUint64(a[:8], m0)
	binary.BigEndian.PutUint64(a[8:], m1)
	return fold(uint32(^fold(words64(k0)+words64(k1))) + uint32(fold(words64(m0)+words64(m1))))
}

// delta4 is the difference addr4 returns for x mapped to m.
func delta4(x, m uint32) uint16 {
	if m == x {
		return 0xffff
	}
	return fold(uint32(^fold(x>>16+x&0xffff)) + uint32(fold(m>>16+m&0xffff)))
}

// adjustIf is the checksum hc after the difference d, as applyDelta and
// fixSum apply it: unchanged when d changes nothing or when adjust leaves
// the field alone (adjust's n == hc case returns hc too).
func adjustIf(hc, d uint16, kind sumKind) uint16 {
	if kind == sumUDP {
		return adjustUDP(hc, d)
	}
	return adjustPlain(hc, d)
}

// adjustPlain is adjustIf of a sumPlain checksum, small enough to inline.
func adjustPlain(hc, d uint16) uint16 {
	if d == 0xffff || d == 0 || hc == 0xffff {
		return hc
	}
	return ^fold(uint32(^hc) + uint32(d))
}

// adjustUDP is adjustIf of a sumUDP checksum.
func adjustUDP(hc, d uint16) uint16 {
	if d == 0xffff || d == 0 || hc == 0 {
		return hc
	}
	if n := ^fold(uint32(^hc) + uint32(d)); n != 0 {
		return n
	}
	return 0xffff
}

// tcpOptionsKept says whether Sanitizer.tcpOptions keeps the options o as
// they are: every option known and whole, nothing but zeros after an end
// of options.
func tcpOptionsKept(o []byte) bool {
	if len(o) == 12 && binary.BigEndian.Uint32(o) == 0x0101080a {
		return true // NOP, NOP, timestamps: most segments of a connection
	}
	for i := 0; i < len(o); {
		switch t := o[i]; t {
		case 0:
			for _, b := range o[i+1:] {
				if b != 0 {
					return false
				}
			}
			return true
		case 1:
			i++
		default:
			if i+1 >= len(o) || o[i+1] < 2 || i+int(o[i+1]) > len(o) {
				return false
			}
			switch l := int(o[i+1]); {
			case t == 2 && l == 4, t == 3 && l == 3, t == 4 && l == 2, t == 8 && l == 10,
				t == 5 && l >= 10 && (l-2)%8 == 0:
				i += l
			default:
				return false
			}
		}
	}
	return true
}
