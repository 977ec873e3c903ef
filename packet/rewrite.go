package packet

import (
	"encoding/binary"

	"github.com/google/gopacket/layers"
)

// Anonymizer maps IP addresses. *cryptopan.Cipher implements it; the mapping
// of an address must not depend on anything but the address.
type Anonymizer interface {
	// Anonymize4 maps an IPv4 address.
	Anonymize4([4]byte) [4]byte
	// Anonymize16 maps an IPv6 address.
	Anonymize16([16]byte) [16]byte
}

// Limits of what one packet may hold. Four IP headers cover an outer header
// with two levels of tunnels and an ICMP quote; a packet needing more is
// reported Malformed rather than half anonymized silently.
const (
	maxIPHeaders = 4
	maxAddrs     = 12 // two per IP header, quote included, plus ICMP body addresses
	maxSums      = 12
	maxCover     = 3 // checksums covering one address: IP header, transport, ICMP
)

// addrRole tells Anonymize which Summary field an address feeds.
type addrRole uint8

const (
	roleOther addrRole = iota
	roleSrc            // outer header source: Summary.Src
	roleDst            // outer header destination: Summary.Dst
)

// addrSite is one address in the frame and the checksums that cover it,
// directly or through a pseudo-header.
type addrSite struct {
	off  int32 // offset of the address in the frame
	size uint8 // 4 or 16
	role addrRole
	n    uint8 // checksums in sums
	sums [maxCover]int8
}

// sumSite is one checksum field in the frame.
type sumSite struct {
	off    int32 // offset of the 16-bit checksum field in the frame
	kind   sumKind
	parent int8 // checksum covering this field (the ICMP checksum of a quote), or -1
}

// rewriteInfo records, while decoding, every address Anonymize rewrites and
// every checksum it must update. Fixed-size arrays keep Summary reusable
// without allocation. Only addresses and checksum fields whose bytes were
// all captured are recorded.
type rewriteInfo struct {
	nAddr, nSum uint8
	full        bool // a limit was hit: some address could not be recorded
	noSites     bool // filled by DecodeSummary: the sites were not recorded
	addrs       [maxAddrs]addrSite
	sums        [maxSums]sumSite
}

// addSum records a checksum field at off and returns its index, or -1.
func (rw *rewriteInfo) addSum(off int, kind sumKind, parent int8) int8 {
	if int(rw.nSum) >= maxSums {
		rw.full = true
		return -1
	}
	i := rw.nSum
	rw.sums[i] = sumSite{off: int32(off), kind: kind, parent: parent}
	rw.nSum++
	return int8(i)
}

// addAddr records an address of size bytes at off, covered by the given
// checksums (negative indexes are ignored), and returns its index, or -1.
func (rw *rewriteInfo) addAddr(off, size int, role addrRole, sums ...int8) int8 {
	if int(rw.nAddr) >= maxAddrs {
		rw.full = true
		return -1
	}
	i := rw.nAddr
	rw.addrs[i] = addrSite{off: int32(off), size: uint8(size), role: role}
	rw.nAddr++
	for _, s := range sums {
		rw.cover(int8(i), s)
	}
	return int8(i)
}

// cover adds checksum sum to those covering address addr.
func (rw *rewriteInfo) cover(addr, sum int8) {
	if addr < 0 || sum < 0 {
		return
	}
	a := &rw.addrs[addr]
	if int(a.n) >= maxCover {
		rw.full = true
		return
	}
	a.sums[a.n] = sum
	a.n++
}

// Anonymize rewrites in place, in data (the frame just given to Decode with
// s), every IP address Decode found: the outer header, tunneled IPv4/IPv6
// headers, the header quoted by ICMP and ICMPv6 errors, the ICMP redirect
// gateway and the ICMPv6 neighbor discovery and redirect addresses. Each
// address is mapped with a, and every checksum covering it (IPv4 header,
// TCP/UDP/UDP-Lite/ICMPv6 pseudo-headers, ICMP over a quote, inner
// checksums inside a quote) is updated incrementally, so snaplen-truncated
// packets come out consistent too. s.Src and s.Dst are updated to the
// mapped outer addresses. Anonymize never panics, even when data is not
// the frame s was decoded from, unless s was filled by DecodeSummary
// (which records no address sites: a programming error).
func (d *Decoder) Anonymize(data []byte, s *Summary, a Anonymizer) {
	rw := &s.rw
	if rw.noSites {
		// Rewriting nothing would leave every address as captured.
		panic("packet: Anonymize of a Summary filled by DecodeSummary, which records no address sites")
	}
	for i := 0; i < int(rw.nAddr) && i < maxAddrs; i++ {
		site := &rw.addrs[i]
		off, size := int(site.off), int(site.size)
		if off < 0 || off+size > len(data) {
			continue
		}
		var old, mapped [16]byte
		switch size {
		case 4:
			old4 := [4]byte(data[off : off+4])
			new4 := a.Anonymize4(old4)
			copy(old[:], old4[:])
			copy(mapped[:], new4[:])
		case 16:
			old = [16]byte(data[off : off+16])
			mapped = a.Anonymize16(old)
		default:
			continue
		}
		copy(data[off:off+size], mapped[:size])
		switch {
		case site.role == roleSrc && s.IPVersion != 0:
			s.Src = mapped
		case site.role == roleDst && s.IPVersion != 0:
			s.Dst = mapped
		}
		if old == mapped {
			continue
		}
		delta := sumDelta(old[:size], mapped[:size])
		for j := 0; j < int(site.n) && j < maxCover; j++ {
			rw.update(data, site.sums[j], delta)
		}
	}
}

// update applies delta to checksum i and, when the field changes, the
// field's own change to the checksum covering it (an ICMP checksum over a
// quoted header or transport checksum).
func (rw *rewriteInfo) update(data []byte, i int8, delta uint16) {
	for hops := 0; hops < 3 && i >= 0 && int(i) < int(rw.nSum); hops++ {
		c := &rw.sums[i]
		off := int(c.off)
		if off < 0 || off+2 > len(data) {
			return
		}
		hc := binary.BigEndian.Uint16(data[off:])
		n, ok := adjust(hc, delta, c.kind)
		if !ok {
			return
		}
		binary.BigEndian.PutUint16(data[off:], n)
		delta = fold(uint32(^hc) + uint32(n))
		i = c.parent
	}
}

// Offsets of the checksum field in transport headers that cover the IP
// pseudo-header; -1 for those that do not.
func pseudoSum(proto layers.IPProtocol, v6 bool) (int, sumKind) {
	switch proto {
	case layers.IPProtocolTCP:
		return 16, sumPlain
	case layers.IPProtocolUDP, layers.IPProtocolUDPLite:
		return 6, sumUDP
	case layers.IPProtocolICMPv6:
		if v6 {
			return 2, sumPlain
		}
	}
	return -1, sumPlain
}

// icmpv4Body records the addresses an ICMP message carries: the header
// quoted by errors and the gateway of redirects. msg starts at the ICMP
// header and holds at least 8 bytes.
func (d *Decoder) icmpv4Body(msg []byte) {
	switch msg[0] {
	case layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4TypeSourceQuench,
		layers.ICMPv4TypeRedirect, layers.ICMPv4TypeTimeExceeded, layers.ICMPv4TypeParameterProblem:
	default:
		return
	}
	rw := &d.s.rw
	base := d.offset(msg)
	sum := rw.addSum(base+2, sumPlain, -1)
	if msg[0] == layers.ICMPv4TypeRedirect {
		rw.addAddr(base+4, 4, roleOther, sum)
	}
	d.quote(msg[8:], sum)
}

// icmpv6Body records the addresses an ICMPv6 message carries: the packet
// quoted by errors, the target of neighbor solicitations and advertisements,
// and the target, destination and redirected header of redirects. msg starts
// at the ICMPv6 header (at least 4 bytes); sum is its checksum (or -1).
func (d *Decoder) icmpv6Body(msg []byte, sum int8) {
	rw := &d.s.rw
	base := d.offset(msg)
	switch msg[0] {
	case layers.ICMPv6TypeDestinationUnreachable, layers.ICMPv6TypePacketTooBig,
		layers.ICMPv6TypeTimeExceeded, layers.ICMPv6TypeParameterProblem:
		if len(msg) > 8 {
			d.quote(msg[8:], sum)
		}
	case layers.ICMPv6TypeNeighborSolicitation, layers.ICMPv6TypeNeighborAdvertisement:
		if len(msg) >= 24 {
			rw.addAddr(base+8, 16, roleOther, sum)
		}
	case layers.ICMPv6TypeRedirect:
		if len(msg) >= 24 {
			rw.addAddr(base+8, 16, roleOther, sum)
		}
		if len(msg) >= 40 {
			rw.addAddr(base+24, 16, roleOther, sum)
		}
		// Options: the Redirected Header option (type 4) quotes a packet
		// after 8 bytes of option header.
		for o := 40; o+2 <= len(msg); {
			n := int(msg[o+1]) * 8
			if n == 0 {
				return
			}
			if msg[o] == 4 && o+8 < len(msg) {
				d.quote(msg[o+8:min(o+n, len(msg))], sum)
			}
			o += n
		}
	}
}

// quote records the addresses of the IP header an ICMP or ICMPv6 message
// quotes, its header checksum and the quoted transport checksum when their
// bytes are present. icmp is the enclosing ICMP checksum, which covers all of
// them.
func (d *Decoder) quote(q []byte, icmp int8) {
	if len(q) == 0 {
		return
	}
	rw := &d.s.rw
	base := d.offset(q)
	switch q[0] >> 4 {
	case 4:
		hs := int8(-1)
		if len(q) >= 12 {
			hs = rw.addSum(base+10, sumPlain, icmp)
		}
		src, dst := int8(-1), int8(-1)
		if len(q) >= 16 {
			src = rw.addAddr(base+12, 4, roleOther, hs, icmp)
		}
		if len(q) >= 20 {
			dst = rw.addAddr(base+16, 4, roleOther, hs, icmp)
		}
		hl := int(q[0]&0x0f) * 4
		if hl < 20 || len(q) < hl || binary.BigEndian.Uint16(q[6:8])&0x1fff != 0 {
			return // no (first-fragment) transport header to look at
		}
		d.quoteTransport(q[hl:], layers.IPProtocol(q[9]), false, src, dst, icmp)
	case 6:
		src, dst := int8(-1), int8(-1)
		if len(q) >= 24 {
			src = rw.addAddr(base+8, 16, roleOther, icmp)
		}
		if len(q) >= 40 {
			dst = rw.addAddr(base+24, 16, roleOther, icmp)
		} else {
			return
		}
		next, p := layers.IPProtocol(q[6]), q[40:]
		for range 8 { // extension headers
			switch next {
			case layers.IPProtocolIPv6HopByHop, layers.IPProtocolIPv6Routing, layers.IPProtocolIPv6Destination:
				if len(p) < 2 || len(p) < (int(p[1])+1)*8 {
					return
				}
				next, p = layers.IPProtocol(p[0]), p[(int(p[1])+1)*8:]
				continue
			case layers.IPProtocolIPv6Fragment:
				if len(p) < 8 || binary.BigEndian.Uint16(p[2:4])&0xfff8 != 0 {
					return
				}
				next, p = layers.IPProtocol(p[0]), p[8:]
				continue
			}
			d.quoteTransport(p, next, true, src, dst, icmp)
			return
		}
	}
}

// quoteTransport records the checksum of a quoted transport header when it
// covers the quoted addresses through its pseudo-header and was captured.
func (d *Decoder) quoteTransport(p []byte, proto layers.IPProtocol, v6 bool, src, dst, icmp int8) {
	at, kind := pseudoSum(proto, v6)
	if at < 0 || len(p) < at+2 {
		return
	}
	rw := &d.s.rw
	i := rw.addSum(d.offset(p)+at, kind, icmp)
	rw.cover(src, i)
	rw.cover(dst, i)
}
