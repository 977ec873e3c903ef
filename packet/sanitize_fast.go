package packet

import (
	"encoding/binary"
	"math/bits"
)

// fast sanitizes, in one pass over fixed offsets, the frames that make up
// nearly all traffic when the payload is stripped: Ethernet with at most
// one VLAN tag, then maybe an MPLS label stack (and an Ethernet pseudowire
// with at most one VLAN tag, its MACs rewritten too); an IPv4 header
// without options or an IPv6 header without extension headers; TCP whose
// options are all kept as they are, UDP that is not a tunnel, ICMP or
// ICMPv6 echo, SCTP (its common header), a neighbor solicitation or
// advertisement with link-layer address and MTU options only, an ICMP or
// ICMPv6 destination unreachable or time exceeded quoting a UDP header
// whole (quoteUDP), or a later IPv4 fragment (these three not in a
// pseudowire). The decoder's fast path leaves SCTP, MPLS, neighbor
// discovery and ICMP errors to the parser, so SanitizeDecoded does not
// take them. It
// first checks that the frame is one of those, changing nothing, and
// reports false otherwise: the general walk then runs. On true, the frame
// is rewritten exactly as the general walk rewrites it (the same
// mappings, the same checksum updates in the same order) and keep is what
// the walk would return. sanitizeChecked in the tests holds every
// frame it sanitizes to that, the fuzz target FuzzSanitize included. The
// traced walk of the tests never takes the fast path. It uses neither s.f
// nor s.res: keep is always within (0, len(f)] and nothing is denied.
//
// The frame f is only read: the sanitized frame is written to dst[:keep]
// (see fastDst), which is f itself for Sanitize, the output buffer for
// SanitizeFastTo. Everything the rewrite reads or writes is within the
// first keep bytes. With dst shorter than keep it reports false and
// writes nothing.
func (s *Sanitizer) fast(f, dst []byte) (keep int, ok bool) {
	if !s.fastOK || s.trace != nil {
		return 0, false
	}
	n := len(f)
	if n < 14+20 {
		return 0, false
	}
	off := 14
	inner := 0 // the MACs of an Ethernet pseudowire's frame, if any
	etype := binary.BigEndian.Uint16(f[12:14])
	switch etype {
	case etherDot1Q, etherQinQ, etherQinQv1:
		off, etype = 18, binary.BigEndian.Uint16(f[16:18])
	}
	if etype == etherMPLS || etype == etherMPLSMC {
		// The label stack, as mpls walks it (the labels are kept),
		// then IPv4 or IPv6 by its version nibble.
		for i := 0; ; i++ {
			if i == maxMPLSStack || n-off < 4+1 {
				return 0, false
			}
			bottom := f[off+2]&1 != 0
			off += 4
			if bottom {
				break
			}
		}
		switch f[off] >> 4 {
		case 4:
			etype = 0x0800
		case 6:
			etype = 0x86dd
		case 0:
			// An Ethernet pseudowire (RFC 4448): the control word,
			// then a frame whose MACs are rewritten as the outer
			// ones, with at most one VLAN tag.
			if n-off < 4+14+4 {
				return 0, false
			}
			inner = off + 4
			off, etype = inner+14, binary.BigEndian.Uint16(f[inner+12:inner+14])
			switch etype {
			case etherDot1Q, etherQinQ, etherQinQv1:
				off, etype = off+4, binary.BigEndian.Uint16(f[off+2:off+4])
			}
		default:
			return 0, false // not understood
		}
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
		if total < 20 {
			return 0, false // 0 (offload), or invalid
		}
		if binary.BigEndian.Uint16(ip[6:8])&0x1fff != 0 {
			// A later fragment: no transport header, the payload
			// stripped (fragment). (Not in a pseudowire: left to
			// the walk.)
			if inner != 0 {
				return 0, false
			}
			w, ok := fastDst(f, dst, off+20)
			if !ok {
				return 0, false
			}
			s.rewriteFast(w, off, off+20, protoNone, false)
			return off + 20, true
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
		if len(t) >= 8 && (t[0] == 0 || t[0] == 8) { // echo reply, request
			keep = body + 8
			break
		}
		// Destination unreachable or time exceeded without an RFC 4884
		// length, quoting UDP (not in a pseudowire).
		if len(t) < 8 || t[0] != 3 && t[0] != 11 || t[5] != 0 || inner != 0 {
			return 0, false
		}
		k, ok := quoteUDPKept(f, body+8, ipEnd)
		if !ok {
			return 0, false
		}
		w, ok := fastDst(f, dst, k)
		if !ok {
			return 0, false
		}
		s.rewriteFastExtra(w, off, body, 1, false, s.rewriteQuoteUDP(w, body+8))
		return k, true
	case proto == ipICMPv6 && v6:
		if len(t) >= 8 && (t[0] == 128 || t[0] == 129) { // echo request, reply
			keep = body + 8
			break
		}
		if len(t) >= 8 && (t[0] == 1 || t[0] == 3) && t[4] == 0 && inner == 0 {
			// Destination unreachable or time exceeded, as for ICMP.
			k, ok := quoteUDPKept(f, body+8, ipEnd)
			if !ok {
				return 0, false
			}
			w, ok := fastDst(f, dst, k)
			if !ok {
				return 0, false
			}
			s.rewriteFastExtra(w, off, body, ipICMPv6, true, s.rewriteQuoteUDP(w, body+8))
			return k, true
		}
		if len(t) < 24 || t[0] != 135 && t[0] != 136 || inner != 0 || !ndOptionsKnown(t[24:]) {
			return 0, false
		}
		// Neighbor solicitation or advertisement: the target address
		// and the link-layer address options are rewritten too, their
		// difference added to the ICMPv6 checksum's.
		w, ok := fastDst(f, dst, ipEnd)
		if !ok {
			return 0, false
		}
		s.rewriteFastND(w, off, body, ipEnd)
		return ipEnd, true
	case proto == ipSCTP:
		// The common header; the chunks are payload. Its CRC32c
		// covers no pseudo-header: no checksum to update.
		if len(t) < 12 {
			return 0, false
		}
		keep = body + 12
	default:
		return 0, false
	}

	// The frame is one the fast path knows: rewrite it.
	w, ok := fastDst(f, dst, keep)
	if !ok {
		return 0, false
	}
	if inner != 0 && s.mac != MACKeep {
		s.macFast((*[12]byte)(w[inner : inner+12]))
	}
	s.rewriteFast(w, off, body, proto, v6)
	return keep, true
}

// fastDst returns dst[:keep] holding the first keep bytes of the frame f,
// for fast to rewrite: copied, unless dst is f (Sanitize, in place). It
// reports false when dst is shorter than keep.
func fastDst(f, dst []byte, keep int) ([]byte, bool) {
	if len(dst) < keep {
		return nil, false
	}
	w := dst[:keep]
	if &w[0] != &f[0] { // keep > 0
		copy(w, f[:keep])
	}
	return w, true
}

// SanitizeFastTo sanitizes into dst[:keep], as Sanitize would, the frames
// of the fast path (see fast) that SanitizeDecodedTo does not take, the
// decoder's fast path having left them to the parser: SCTP, MPLS,
// neighbor discovery, ICMP and ICMPv6 errors. f is only read. For any
// other frame, or a dst shorter than what is kept, it returns 0 and
// writes nothing: the caller then sanitizes a copy with Sanitize. The
// meter writes these straight into its output buffer too: a copy of the
// whole frame, up to the snap length, cost more than their sanitizing.
func (s *Sanitizer) SanitizeFastTo(dst, f []byte) (keep int) {
	keep, _ = s.fast(f, dst)
	return keep
}

// SanitizeDecoded sanitizes, as Sanitize would, a frame that a Decoder
// of the same link type has just decoded into sum (Decode or
// DecodeSummary, the frame unchanged since) and returns keep, when the
// frame is one of those nearly all traffic is made of (the Sanitizer's
// fast path, which the decoder's fast path took: Ethernet, payload
// stripped; see fast), but TCP segments with options other than
// timestamps. Those it does not parse again: it starts from the headers
// the decoder found, and from how much of the frame the decoder found the
// sanitizer keeps (Summary.sanKeep). For any other frame it returns 0 and
// leaves the frame as it is: the caller then calls Sanitize. The meter
// decodes every packet for its counters and flows before it sanitizes it.
//
// The rewrite is the fast path's without calls where the memos hit:
// every value live across a call is spilled and reloaded (Go's calling
// convention saves no register), which cost as much as the work on small
// frames. With a sum that is not the frame's, the frame may come out
// wrong (never read or written outside it).
func (s *Sanitizer) SanitizeDecoded(f []byte, sum *Summary) (keep int) {
	return s.SanitizeDecodedTo(f, f, sum)
}

// MaxDecodedKeep is the most SanitizeDecodedTo keeps of a frame: MACs
// and a VLAN tag, an IPv6 header, a TCP header with timestamps.
const MaxDecodedKeep = 18 + 40 + 32

// SanitizeDecodedTo is SanitizeDecoded writing the sanitized frame to
// dst[:keep] instead of in place: f is only read. The meter sanitizes the
// packets it writes straight into its output buffer, so that a packet is
// copied once, only as far as it is kept, and the source's bytes are never
// written (a file mapped copy-on-write would copy the page). It returns 0
// and writes nothing when the frame is not one of the fast path's or dst
// is shorter than what is kept (at most MaxDecodedKeep bytes). With dst
// f, it is SanitizeDecoded (the copy then copies nothing new).
//
// Its cost (1623, go build -gcflags=-m=2) stays within the inliner's
// budget for hot calls (2000), where the meter takes it inline (PGO):
// past it, the call and the spills around it cost 20 to 40 instructions
// a packet. The body is here, not in a helper that
// both entry points call: PGO finds a call hot by its caller and line,
// and a call inside a wrapper inlined into the meter is at neither, so
// the helper stayed a call.
func (s *Sanitizer) SanitizeDecodedTo(dst, f []byte, sum *Summary) (keep int) {
	off, keep := int(sum.l3), int(sum.sanKeep)
	if uint(off-1) >= 18 || uint(keep-1) >= MaxDecodedKeep || !s.fastOK {
		// Not decoded by the decoder's fast path (off 0), more than
		// one VLAN tag, or a transport this does not rewrite (keep 0:
		// TCP options other than timestamps, tunnels, ICMP errors, no
		// transport header: a later fragment has none); or not a
		// frame fast takes. (The traced walk of the tests goes
		// through Sanitize.)
		if uint(off-1) < 18 && s.fastOK && sum.Fragment && sum.FragOffset != 0 && sum.IPVersion == 4 {
			// A later IPv4 fragment (the decoder's fast path took an
			// IPv4 header without options, total length >= 20).
			return s.laterFragment(f, dst, off)
		}
		return 0
	}
	v6 := sum.IPVersion == 6
	// at is the transport checksum's offset (0: none, ICMP), udp says
	// it is UDP's; the decoder found both with keep (Summary.sanKeep).
	at, udp := int(sum.sanAt), sum.Proto == ipUDP
	// in is read, f written: the frame's first keep bytes are copied to
	// dst first, and the fields are still read from the frame, which the
	// decoder has just brought into the cache (read back from dst, they
	// would wait for the copy's stores).
	if len(dst) < keep || len(f) < keep {
		return 0
	}
	// The copy: 42 <= keep <= MaxDecodedKeep (< 96), in 16-byte moves,
	// overlapping where keep is not a multiple of 16 (the first 32 bytes
	// and the last 32, or the first 64 and the last 32). They are inline,
	// where copy calls memmove (so does a move of a larger array): a call,
	// every value live across it spilled and reloaded.
	in := f[:keep]
	f = dst[:keep]
	move16(f, in, 0)
	move16(f, in, 16)
	move16(f, in, keep-32)
	move16(f, in, keep-16)
	if keep > 64 {
		move16(f, in, 32)
		move16(f, in, 48)
	}

	// macFast, its memo hits inline. This and the address block below
	// repeat macFast and rewriteFast on purpose: calling them (one
	// shared mapAddrs, tried 2026-12-02) cost 18-22 more instructions
	// per packet on tiny and ipv6 with the key and -w, PGO profile
	// regenerated or not. Change both copies together.
	if s.mac != MACKeep {
		mi, m := (*[12]byte)(in[0:12]), (*[12]byte)(f[0:12])
		w0, w1 := binary.BigEndian.Uint64(mi[0:8]), binary.BigEndian.Uint32(mi[8:12])
		dst, src := w0>>16, (w0&0xffff)<<32|uint64(w1)
		md, ms := dst, src
		if s.mac == MACKeyed {
			if dst != macBroadcast {
				if set := &s.memo.mac[setMAC(dst)]; set[0].k == dst|memoValid {
					md = set[0].v
				} else {
					md = s.mapMACMiss(dst, set)
				}
			}
			if src != macBroadcast {
				if set := &s.memo.mac[setMAC(src)]; set[0].k == src|memoValid {
					ms = set[0].v
				} else {
					ms = s.mapMACMiss(src, set)
				}
			}
		} else {
			if dst != macBroadcast {
				md = 0
			}
			if src != macBroadcast {
				ms = 0
			}
		}
		binary.BigEndian.PutUint64(m[0:8], md<<16|ms>>32)
		binary.BigEndian.PutUint32(m[8:12], uint32(ms))
	}
	// The addresses and d, the difference they make, as rewriteFast.
	var d uint16
	if v6 {
		hi, h := (*[40]byte)(in[off:off+40]), (*[40]byte)(f[off:off+40])
		k0, k1 := binary.BigEndian.Uint64(hi[8:16]), binary.BigEndian.Uint64(hi[16:24])
		k2, k3 := binary.BigEndian.Uint64(hi[24:32]), binary.BigEndian.Uint64(hi[32:40])
		var m0, m1, m2, m3 uint64
		if set := &s.memo.v6[set16(k0, k1)]; set[0].k0 == k0 && set[0].k1 == k1 {
			m0, m1 = set[0].v0, set[0].v1
		} else {
			m0, m1 = s.map16Miss(k0, k1, set)
		}
		if set := &s.memo.v6[set16(k2, k3)]; set[0].k0 == k2 && set[0].k1 == k3 {
			m2, m3 = set[0].v0, set[0].v1
		} else {
			m2, m3 = s.map16Miss(k2, k3, set)
		}
		binary.BigEndian.PutUint64(h[8:16], m0)
		binary.BigEndian.PutUint64(h[16:24], m1)
		binary.BigEndian.PutUint64(h[24:32], m2)
		binary.BigEndian.PutUint64(h[32:40], m3)
		acc, c := bits.Add64(^k0, ^k1, 0)
		acc, c = bits.Add64(acc, ^k2, c)
		acc, c = bits.Add64(acc, ^k3, c)
		acc, c = bits.Add64(acc, m0, c)
		acc, c = bits.Add64(acc, m1, c)
		acc, c = bits.Add64(acc, m2, c)
		acc, c = bits.Add64(acc, m3, c)
		acc, c = bits.Add64(acc, 0, c)
		d = fold64(acc + c)
	} else {
		hi, h := (*[20]byte)(in[off:off+20]), (*[20]byte)(f[off:off+20])
		x1, x2 := binary.BigEndian.Uint32(hi[12:16]), binary.BigEndian.Uint32(hi[16:20])
		var m1, m2 uint32
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
		d = fold64(uint64(^x1) + uint64(^x2) + uint64(m1) + uint64(m2))
		binary.BigEndian.PutUint16(h[10:12], adjustSum(binary.BigEndian.Uint16(hi[10:12]), d))
	}
	if at != 0 {
		p := (*[2]byte)(f[at : at+2])
		if c := binary.BigEndian.Uint16(in[at : at+2]); udp {
			binary.BigEndian.PutUint16(p[:], adjustSumUDP(c, d))
		} else {
			binary.BigEndian.PutUint16(p[:], adjustSum(c, d))
		}
	}
	return keep
}

// move16 copies src[i:i+16] to dst[i:i+16], in one 16-byte load and
// store (see SanitizeDecodedTo).
func move16(dst, src []byte, i int) {
	*(*[16]byte)(dst[i : i+16]) = *(*[16]byte)(src[i : i+16])
}

// laterFragment is SanitizeDecodedTo for a later IPv4 fragment (IPv4 at
// off, without options): the MACs and addresses of its first off + 20
// bytes, copied to dst, are rewritten (the walk's rewrite, as fast does).
func (s *Sanitizer) laterFragment(f, dst []byte, off int) int {
	w, ok := fastDst(f, dst, off+20)
	if !ok {
		return 0
	}
	s.rewriteFast(w, off, off+20, protoNone, false)
	return off + 20
}

// ndOptionsKnown says whether ndOptions keeps the neighbor discovery
// options o whole, with nothing but link-layer address and MTU options
// among them: those fast takes.
func ndOptionsKnown(o []byte) bool {
	for i := 0; i < len(o); {
		if len(o)-i < 2 {
			return false
		}
		l := int(o[i+1]) * 8
		if l != 8 || i+l > len(o) {
			return false
		}
		if t := o[i]; t != 1 && t != 2 && t != 5 { // source, target link-layer address; MTU
			return false
		}
		i += l
	}
	return true
}

// rewriteFastND rewrites a neighbor solicitation or advertisement of the
// fast path (IPv6 at off, the message at body, ndOptionsKnown, ending at
// ipEnd) as the walk does (icmp6, ndOptions): the MACs, the addresses,
// the target address (addr16), the link-layer address options (macAt),
// the ICMPv6 checksum by the sum of their differences and the
// pseudo-header's (see adjustSum).
func (s *Sanitizer) rewriteFastND(f []byte, off, body, ipEnd int) {
	// The target address, and e, the ones' complement difference of it
	// and the options, in 64-bit words with end-around carry.
	tg := (*[16]byte)(f[body+8 : body+24])
	k0, k1 := binary.BigEndian.Uint64(tg[0:8]), binary.BigEndian.Uint64(tg[8:16])
	m0, m1 := s.map16(k0, k1)
	binary.BigEndian.PutUint64(tg[0:8], m0)
	binary.BigEndian.PutUint64(tg[8:16], m1)
	e, c := bits.Add64(^k0, ^k1, 0)
	e, c = bits.Add64(e, m0, c)
	e, c = bits.Add64(e, m1, c)
	e, c = bits.Add64(e, 0, c)
	e += c // no carry out: the add before left 0 or no carry
	if s.mac != MACKeep {
		for i := body + 24; i < ipEnd; i += 8 {
			if f[i] == 5 { // MTU
				continue
			}
			p := f[i+2 : i+8]
			x := getMAC(p)
			if x == macBroadcast {
				continue
			}
			var m uint64
			if s.mac == MACKeyed {
				m = s.mapMAC(x)
			}
			putMAC(p, m)
			// ~x + m in 16-bit words: the 48 bits in a 64-bit word
			// with its top 16 bits 0 in both (^x's are 0xffff: a
			// multiple of 0xffff, which changes nothing).
			e, c = bits.Add64(e, ^x&(1<<48-1), 0)
			e, c = bits.Add64(e, m, c)
			e, c = bits.Add64(e, 0, c)
			e += c
		}
	}
	s.rewriteFastExtra(f, off, body, ipICMPv6, true, e)
}

// quoteUDPKept tells whether fast takes the packet an ICMP or ICMPv6
// error quotes at q (up to end), and how much of the frame the walk keeps
// then (the UDP header's end): an IPv4 header without options (not a
// later fragment) or an IPv6 header without extension headers, and a
// whole UDP header that is not a tunnel's. rewriteQuoteUDP then rewrites
// it.
func quoteUDPKept(f []byte, q, end int) (keep int, ok bool) {
	var ipEnd, u int
	switch v := end - q; {
	case v >= 28 && f[q] == 0x45:
		if f[q+9] != ipUDP || binary.BigEndian.Uint16(f[q+6:q+8])&0x1fff != 0 {
			return 0, false
		}
		total := int(binary.BigEndian.Uint16(f[q+2 : q+4]))
		if total < 20 {
			return 0, false // 0 (offload), or invalid
		}
		ipEnd, u = min(q+total, end), q+20
	case v >= 48 && f[q]>>4 == 6:
		if f[q+6] != ipUDP {
			return 0, false
		}
		plen := int(binary.BigEndian.Uint16(f[q+4 : q+6]))
		ipEnd, u = q+40+plen, q+40
		if plen == 0 || ipEnd > end {
			ipEnd = end
		}
	default:
		return 0, false
	}
	if ipEnd-u < 8 {
		return 0, false
	}
	l := int(binary.BigEndian.Uint16(f[u+4 : u+6]))
	if l != 0 && l < 8 {
		return 0, false // the walk cuts it
	}
	udpEnd := ipEnd
	if l != 0 && u+l < ipEnd {
		udpEnd = u + l
	}
	if u+8 == udpEnd && udpEnd < ipEnd {
		return 0, false // bytes after an empty datagram: cut
	}
	if p := binary.BigEndian.Uint16(f[u+2 : u+4]); p == portVXLAN || p == portGeneve {
		return 0, false
	}
	return u + 8, true
}

// rewriteQuoteUDP rewrites the quote at q that quoteUDPKept took, as the
// walk does (quote, ipv4 or ipv6, udp): the addresses, the IPv4 header
// checksum and the UDP checksum (by the addresses' difference). It
// returns extra, the difference of all it rewrote for the ICMP checksum
// (64-bit sum of 16-bit words, see fold64); the walk applies them to it
// one by one, which adjustSum shows comes to the same.
func (s *Sanitizer) rewriteQuoteUDP(f []byte, q int) (extra uint64) {
	var d uint16
	u := q + 40
	if f[q] == 0x45 {
		u = q + 20
		h := (*[20]byte)(f[q : q+20])
		x1, x2 := binary.BigEndian.Uint32(h[12:16]), binary.BigEndian.Uint32(h[16:20])
		m1, m2 := s.map4(x1), s.map4(x2)
		binary.BigEndian.PutUint32(h[12:16], m1)
		binary.BigEndian.PutUint32(h[16:20], m2)
		extra = uint64(^x1) + uint64(^x2) + uint64(m1) + uint64(m2)
		d = fold64(extra)
		hc := binary.BigEndian.Uint16(h[10:12])
		nc := adjustSum(hc, d)
		binary.BigEndian.PutUint16(h[10:12], nc)
		extra += uint64(^hc) + uint64(nc) // the header checksum's change
	} else {
		h := (*[40]byte)(f[q : q+40])
		k0, k1 := binary.BigEndian.Uint64(h[8:16]), binary.BigEndian.Uint64(h[16:24])
		k2, k3 := binary.BigEndian.Uint64(h[24:32]), binary.BigEndian.Uint64(h[32:40])
		m0, m1 := s.map16(k0, k1)
		m2, m3 := s.map16(k2, k3)
		binary.BigEndian.PutUint64(h[8:16], m0)
		binary.BigEndian.PutUint64(h[16:24], m1)
		binary.BigEndian.PutUint64(h[24:32], m2)
		binary.BigEndian.PutUint64(h[32:40], m3)
		e, c := bits.Add64(^k0, ^k1, 0)
		e, c = bits.Add64(e, ^k2, c)
		e, c = bits.Add64(e, ^k3, c)
		e, c = bits.Add64(e, m0, c)
		e, c = bits.Add64(e, m1, c)
		e, c = bits.Add64(e, m2, c)
		e, c = bits.Add64(e, m3, c)
		e, c = bits.Add64(e, 0, c)
		extra = e + c // no carry out: the add before left 0 or no carry
		d = fold64(extra)
	}
	p := (*[2]byte)(f[u+6 : u+8])
	uc := binary.BigEndian.Uint16(p[:])
	nc := adjustSumUDP(uc, d)
	binary.BigEndian.PutUint16(p[:], nc)
	// The UDP checksum's change, with end-around carry.
	e, c := bits.Add64(extra, uint64(^uc)+uint64(nc), 0)
	e, c = bits.Add64(e, 0, c)
	return e + c
}

// protoNone stands for no transport header in rewriteFast (a later IPv4
// fragment): the protocol number 0 is IPv6 hop-by-hop options, which fast
// never takes over IPv4.
const protoNone = 0

// rewriteFast rewrites a frame of the fast path: the MACs, the addresses
// of the IP header at off and the checksums that cover them, the
// transport's (proto) at body included, as the walk does.
func (s *Sanitizer) rewriteFast(f []byte, off, body int, proto uint8, v6 bool) {
	s.rewriteFastExtra(f, off, body, proto, v6, 0)
}

// rewriteFastExtra is rewriteFast with extra, a difference of bytes the
// caller rewrote under the transport checksum (a 64-bit sum of 16-bit
// words, see fold64), added to the pseudo-header's.
func (s *Sanitizer) rewriteFastExtra(f []byte, off, body int, proto uint8, v6 bool, extra uint64) {
	if s.mac != MACKeep { // macAt of the destination, then of the source
		s.macFast((*[12]byte)(f[0:12]))
	}
	// The addresses, and sum, the ones' complement difference they make
	// (RFC 1624: ~m + m' for each word), in 64-bit words with end-around
	// carry. The walk applies one difference per address to each
	// checksum in turn; applied at once the result is the same, because
	// adjust depends on a difference only modulo 0xffff (see adjustSum).
	// d is the difference, folded.
	var d uint16
	if v6 { // addr16 of the source, then of the destination
		h := (*[40]byte)(f[off : off+40])
		k0, k1 := binary.BigEndian.Uint64(h[8:16]), binary.BigEndian.Uint64(h[16:24])
		k2, k3 := binary.BigEndian.Uint64(h[24:32]), binary.BigEndian.Uint64(h[32:40])
		var m0, m1, m2, m3 uint64 // map16, the first way's hit inline
		if set := &s.memo.v6[set16(k0, k1)]; set[0].k0 == k0 && set[0].k1 == k1 {
			m0, m1 = set[0].v0, set[0].v1
		} else {
			m0, m1 = s.map16Miss(k0, k1, set)
		}
		if set := &s.memo.v6[set16(k2, k3)]; set[0].k0 == k2 && set[0].k1 == k3 {
			m2, m3 = set[0].v0, set[0].v1
		} else {
			m2, m3 = s.map16Miss(k2, k3, set)
		}
		binary.BigEndian.PutUint64(h[8:16], m0)
		binary.BigEndian.PutUint64(h[16:24], m1)
		binary.BigEndian.PutUint64(h[24:32], m2)
		binary.BigEndian.PutUint64(h[32:40], m3)
		sum, c := bits.Add64(^k0, ^k1, 0)
		sum, c = bits.Add64(sum, ^k2, c)
		sum, c = bits.Add64(sum, ^k3, c)
		sum, c = bits.Add64(sum, m0, c)
		sum, c = bits.Add64(sum, m1, c)
		sum, c = bits.Add64(sum, m2, c)
		sum, c = bits.Add64(sum, m3, c)
		sum, c = bits.Add64(sum, extra, c)
		sum, c = bits.Add64(sum, 0, c)
		d = fold64(sum + c) // no carry out: the add before left 0 or no carry
	} else {
		// addr4 of the source then of the destination; the header
		// checksum covers both.
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
		d = fold64(uint64(^x1) + uint64(^x2) + uint64(m1) + uint64(m2))
		binary.BigEndian.PutUint16(h[10:12], adjustSum(binary.BigEndian.Uint16(h[10:12]), d))
		if proto == 1 && extra != 0 { // an ICMP error's quote
			p := (*[2]byte)(f[body+2 : body+4])
			binary.BigEndian.PutUint16(p[:], adjustSum(binary.BigEndian.Uint16(p[:]), fold64(extra)))
		}
		if proto == 1 || proto == ipSCTP || proto == protoNone {
			return // ICMP, SCTP: no pseudo-header; a later fragment: no transport header
		}
	}
	// transportSum: the pseudo-header difference.
	switch proto {
	case ipSCTP:
	case ipUDP:
		p := (*[2]byte)(f[body+6 : body+8])
		binary.BigEndian.PutUint16(p[:], adjustSumUDP(binary.BigEndian.Uint16(p[:]), d))
	case ipICMPv6:
		p := (*[2]byte)(f[body+2 : body+4])
		binary.BigEndian.PutUint16(p[:], adjustSum(binary.BigEndian.Uint16(p[:]), d))
	default: // TCP
		p := (*[2]byte)(f[body+16 : body+18])
		binary.BigEndian.PutUint16(p[:], adjustSum(binary.BigEndian.Uint16(p[:]), d))
	}
}

// macFast applies the MAC mode (keyed or zero) to the destination and
// source MAC addresses at the start of a frame, as macAt does: each but
// the broadcast address is mapped, or zeroed.
func (s *Sanitizer) macFast(h *[12]byte) {
	w0, w1 := binary.BigEndian.Uint64(h[0:8]), binary.BigEndian.Uint32(h[8:12])
	dst, src := w0>>16, (w0&0xffff)<<32|uint64(w1)
	md, ms := dst, src
	if s.mac == MACKeyed { // mapMAC
		if dst != macBroadcast {
			if set := &s.memo.mac[setMAC(dst)]; set[0].k == dst|memoValid {
				md = set[0].v
			} else {
				md = s.mapMACMiss(dst, set)
			}
		}
		if src != macBroadcast {
			if set := &s.memo.mac[setMAC(src)]; set[0].k == src|memoValid {
				ms = set[0].v
			} else {
				ms = s.mapMACMiss(src, set)
			}
		}
	} else {
		if dst != macBroadcast {
			md = 0
		}
		if src != macBroadcast {
			ms = 0
		}
	}
	binary.BigEndian.PutUint64(h[0:8], md<<16|ms>>32)
	binary.BigEndian.PutUint32(h[8:12], uint32(ms))
}

// fold64 reduces a sum of 16-bit words to 16 bits with end-around carry;
// the result is congruent to x modulo 0xffff (it may be 0 or 0xffff for
// a multiple of 0xffff, which adjustSum treats alike).
func fold64(x uint64) uint16 {
	x = x&0xffffffff + x>>32 // < 2^33
	x = x&0xffff + x>>16     // < 2^17 + 2^16
	x = x&0xffff + x>>16     // < 2^16 + 3
	x = x&0xffff + x>>16     // <= 0xffff
	return uint16(x)
}

// adjustSum is the sumPlain checksum hc after the ones' complement
// difference d, as applyDelta and fixSum leave a checksum after each of
// the differences that add up to d. A checksum of 0xffff is left alone. Otherwise
// the result depends on d only modulo 0xffff: a difference of 0 or 0xffff
// (nothing changed) gives ~fold(~hc) = hc, as skipping it does; and
// applying d1 then d2 gives ~fold(fold(~hc+d1)+d2) = ~fold(~hc+d1+d2),
// because fold keeps a non-zero sum's value modulo 0xffff and never makes
// it 0.
func adjustSum(hc, d uint16) uint16 {
	if hc == 0xffff {
		return hc
	}
	return ^fold(uint32(^hc) + uint32(d))
}

// adjustSumUDP is adjustSum of a UDP checksum: 0 (none) stays 0, 0xffff
// is a checksum (a computed 0, which is sent as 0xffff).
func adjustSumUDP(hc, d uint16) uint16 {
	if hc == 0 {
		return 0
	}
	if hc = ^fold(uint32(^hc) + uint32(d)); hc == 0 {
		return 0xffff
	}
	return hc
}

// tcpOptionsKept says whether Sanitizer.tcpOptions keeps the options o as
// they are: every option known and whole, nothing but zeros after an end
// of options.
func tcpOptionsKept(o []byte) bool {
	if len(o) == 12 && binary.BigEndian.Uint32(o) == 0x0101080a {
		return true // NOP, NOP, timestamps: most segments of a connection
	}
	if len(o) == 20 && binary.BigEndian.Uint16(o) == 0x0204 && binary.BigEndian.Uint32(o[4:]) == 0x0402080a &&
		binary.BigEndian.Uint32(o[16:])>>8 == 0x010303 {
		return true // MSS, SACK permitted, timestamps, NOP, window scale: Linux's SYN
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
