package packet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"

	"github.com/google/gopacket/layers"
)

// maxSanitizeDepth bounds the nesting of tunnels and ICMP quotes a
// Sanitizer follows.
const maxSanitizeDepth = 4

// maxActiveSums bounds the checksums covering one byte; deeper ones are not
// updated (only possible past maxSanitizeDepth).
const maxActiveSums = 16

// Byte classes of the trace a test can ask a Sanitizer to record: why each
// byte may be kept.
const (
	classNone      byte = iota // not vouched for: must not be kept
	classKept                  // a header field kept as captured
	classRewritten             // an address rewritten, an option neutralized
	classZeroed                // zeroed
	classPayload               // a transport payload kept with PayloadKeep
)

// SanitizerConfig is what a Sanitizer does (SPEC §8 `payload` and `mac`)
// and the mappings it uses.
type SanitizerConfig struct {
	// Payload says what to do with payloads. Default PayloadStrip.
	Payload PayloadMode
	// MAC says what to do with MAC addresses. Default MACKeyed.
	MAC MACMode
	// IP maps IP addresses (a *cryptopan.Cipher). Required. The Sanitizer
	// wraps it with KeepReserved.
	IP Anonymizer
	// MACs maps MAC addresses (a *macanon.Mapper made from the same
	// experiment key). Required when MAC is MACKeyed.
	MACs MACAnonymizer
}

// SanitizeResult tells what Sanitize did to a frame.
type SanitizeResult struct {
	// Drop says nothing safe is left (keep is 0): the frame must not be
	// written, and is counted in sanitized_drops.
	Drop bool
	// Cut says bytes were cut (keep < len(frame)), for the payload mode or
	// for default deny.
	Cut bool
	// Denied says bytes were cut or overwritten because the sanitizer does
	// not understand them (an unknown EtherType, protocol or option, a
	// truncated or inconsistent header), not because of the payload mode.
	Denied bool
}

// Sanitizer rewrites frames of one link type in place so that nothing
// identifying is left in the bytes it keeps. It does not allocate. A
// Sanitizer is not safe for concurrent use (the Anonymizer and
// MACAnonymizer it is given may be shared).
//
// Sanitization (SPEC §8) is default deny. A Sanitizer walks a frame header by
// header and, for each field, keeps it (a field that names no host:
// lengths, ports, flags, protocol numbers, VLAN and MPLS labels, TCP
// sequence numbers), rewrites it (IP addresses with the Anonymizer, MAC
// addresses with the MAC mode), neutralizes it in place (IPv4 and TCP
// options it does not know become NOPs, IPv6 options PadN, padding
// zeros), or cuts the frame there: the frame is rewritten in place and
// Sanitize returns how many of its bytes are safe to keep. Everything
// after the first byte it cannot vouch for is cut (an unknown EtherType or
// IP protocol, a header that is truncated or inconsistent, trailing bytes
// after an IP packet, ICMP extensions). Payloads after the innermost known
// transport header follow the PayloadMode.
//
// What is understood:
//
//   - Link: Ethernet (802.1Q, 802.1ad and 0x9100 tags, MPLS with an
//     Ethernet pseudowire control word), Linux cooked v1 and v2 (the
//     address field is a MAC when the ARPHRD type is Ethernet or loopback
//     and its length 6, otherwise it is zeroed), BSD loopback, raw IP.
//   - ARP and RARP for Ethernet/IPv4 (hardware types 1 and 6): sender and
//     target MACs and IPs rewritten; other ARP kinds keep their 8-byte
//     fixed header only.
//   - IPv4: addresses; options: EOL, NOP, Record Route, LSRR, SSRR and
//     Timestamp (addresses rewritten) kept, any other option overwritten
//     with NOPs and the bytes after EOL with zeros.
//   - IPv6: addresses; hop-by-hop and destination options (Pad1, PadN with
//     its data zeroed, Router Alert and Jumbo Payload kept, any other
//     option replaced by a PadN of its length); routing headers of types
//     0, 2 and 4 (addresses and the SRH segment list rewritten, SRH TLVs
//     replaced by padding; other routing types: cut after the first 4
//     bytes); fragment header.
//   - Non-first fragments: the body is cut, or kept with PayloadKeep when
//     the protocol is TCP, UDP, UDP-Lite or SCTP.
//   - TCP (options MSS, window scale, SACK-permitted, SACK, timestamps,
//     NOP and EOL kept, others overwritten with NOPs), UDP, UDP-Lite, SCTP
//     (common header; the chunks are payload: its CRC32c checksum is not
//     updated when PayloadZero zeroes them).
//   - ICMP: echo (the body is payload); destination unreachable, source
//     quench, redirect (gateway rewritten), time exceeded, parameter
//     problem (the quoted packet is sanitized like a packet; RFC 4884
//     extensions are cut); any other type keeps its first 4 bytes.
//   - ICMPv6: errors (quote sanitized), echo (body is payload), router
//     solicitation and advertisement, neighbor solicitation and
//     advertisement, redirect (target and destination rewritten); their
//     options: source and target link-layer address (MAC mode), prefix
//     information (prefix mapped with the Anonymizer, bits past the prefix
//     length zeroed), redirected header (quote sanitized), MTU; an unknown
//     option cuts the frame there. Other types keep their first 4 bytes.
//   - Tunnels: IPv4 and IPv6 in IP (protocols 4 and 41), GRE version 0
//     without routing (IPv4, IPv6, MPLS, transparent Ethernet bridging
//     0x6558; key and sequence number kept, checksum updated), VXLAN (UDP
//     port 4789) and Geneve (UDP port 6081, options zeroed): the inner frame
//     is sanitized with the same rules, up to maxSanitizeDepth nested
//     tunnels and ICMP quotes; deeper, it is cut.
//
// Every checksum covering a rewritten byte (IPv4 header, TCP, UDP,
// UDP-Lite and ICMPv6 with their pseudo-headers, ICMP over its quote, GRE,
// checksums inside quotes and tunnels) is updated incrementally (RFC 1624),
// so it stays as valid as it was for the original length. IP and transport
// length fields are left as captured: only the capture length shrinks.
//
// Kept as they are (they name no host): the addresses KeepReserved keeps
// (0.0.0.0, 255.255.255.255, ::), the broadcast MAC ff:ff:ff:ff:ff:ff and
// 00:00:00:00:00:00 (multicast MACs are mapped: they embed bits of IP
// addresses), VLAN identifiers and MPLS labels, GRE
// keys, VXLAN and Geneve network identifiers, IPv6 flow labels, TCP
// timestamps and sequence numbers, SCTP verification tags.
type Sanitizer struct {
	link    fastLink // fastNone stands for BSD loopback here
	payload PayloadMode
	// fastOK tells that the fast path may take frames: Ethernet, payload
	// stripped.
	fastOK bool
	mac    MACMode
	ip     keepReserved
	macs   MACAnonymizer

	// State of the Sanitize call in progress.
	f     []byte
	res   SanitizeResult
	nsums int
	sums  [maxActiveSums]activeSum
	// trace, when not nil (tests), receives the class of each byte.
	trace []byte

	// memo remembers the mappings this Sanitizer has made (see
	// sanitize_memo.go).
	memo sanitizeMemo
}

// activeSum is a checksum field at field covering the bytes [start, end)
// of the frame (and maybe a pseudo-header).
type activeSum struct {
	field, start, end int
	kind              sumKind
}

// sanIP tells a transport header the pseudo-header change of its IP
// header: the ones' complement difference of its source and (final)
// destination addresses.
type sanIP struct {
	v6       bool
	src, dst uint16
}

func (c sanIP) pseudo() uint16 { return fold(uint32(c.src) + uint32(c.dst)) }

var errNoAnonymizer = errors.New("no IP anonymizer")

// NewSanitizer returns a Sanitizer for frames of the given link type (the
// link types NewDecoder accepts) and configuration. It allocates the
// Sanitizer's memos of mapped addresses (512 KiB, outside the Go heap, see sanitize_memo.go)
// once; Sanitize then allocates nothing.
func NewSanitizer(linkType layers.LinkType, cfg SanitizerConfig) (*Sanitizer, error) {
	first, err := firstLayer(linkType)
	if err != nil {
		return nil, fmt.Errorf("unable to sanitize frames: %w", err)
	}
	if cfg.IP == nil {
		return nil, fmt.Errorf("unable to sanitize frames: %w", errNoAnonymizer)
	}
	if int(cfg.Payload) >= len(payloadModeNames) {
		return nil, fmt.Errorf("unable to sanitize frames: invalid payload mode %d", cfg.Payload)
	}
	if int(cfg.MAC) >= len(macModeNames) {
		return nil, fmt.Errorf("unable to sanitize frames: invalid MAC mode %d", cfg.MAC)
	}
	if cfg.MAC == MACKeyed && cfg.MACs == nil {
		return nil, errors.New("unable to sanitize frames: MAC mode keyed needs a MAC anonymizer")
	}
	memo, release := newSanitizeMemo(true)
	s := &Sanitizer{payload: cfg.Payload, mac: cfg.MAC, macs: cfg.MACs, ip: keepReserved{cfg.IP}, memo: memo}
	runtime.AddCleanup(s, func(release func()) { release() }, release)
	if k, ok := cfg.IP.(keepReserved); ok {
		s.ip = k
	}
	switch first {
	case layers.LayerTypeEthernet:
		s.link = fastEthernet
	case layers.LayerTypeLinuxSLL:
		s.link = fastSLL
	case layerTypeSLL2:
		s.link = fastSLL2
	case layerTypeRawIP:
		s.link = fastRawIP
	default:
		s.link = fastNone // BSD loopback
	}
	s.fastOK = s.link == fastEthernet && s.payload == PayloadStrip
	return s, nil
}

// Sanitize rewrites frame in place and returns how many of its first bytes
// are safe to keep (the new capture length; the wire length stays) and
// what it did. With keep 0 (res.Drop) the frame must be dropped. Sanitize
// never reads or writes outside frame and never panics.
func (s *Sanitizer) Sanitize(frame []byte) (keep int, res SanitizeResult) {
	n := len(frame)
	if k, ok := s.fast(frame, frame); ok {
		// 0 < k <= n, and the fast path takes no frame with bytes it
		// does not understand.
		return k, SanitizeResult{Cut: k < n}
	}
	s.f, s.res, s.nsums = frame, SanitizeResult{}, 0
	keep = max(0, min(s.walk(n), n))
	s.res.Cut = keep < n
	s.res.Drop = keep == 0
	s.f = nil
	return keep, s.res
}

// walk sanitizes the n bytes of s.f header by header.
func (s *Sanitizer) walk(n int) (keep int) {
	switch s.link {
	case fastEthernet:
		keep = s.ethernet(0, n, 0)
	case fastSLL:
		keep = s.sll(n, false)
	case fastSLL2:
		keep = s.sll(n, true)
	case fastRawIP:
		keep = s.ipAny(0, n, 0)
	default:
		keep = s.loopback(n)
	}
	return keep
}

// sanitizeTraced is Sanitize recording the class of each byte in trace
// (len(trace) >= len(frame)).
func (s *Sanitizer) sanitizeTraced(frame, trace []byte) (int, SanitizeResult) {
	s.trace = trace
	defer func() { s.trace = nil }()
	return s.Sanitize(frame)
}

// Helpers.

func (s *Sanitizer) u16(off int) uint16 { return binary.BigEndian.Uint16(s.f[off:]) }

// mark records the class of bytes [a, b) in the trace.
func (s *Sanitizer) mark(a, b int, class byte) {
	if s.trace == nil {
		return
	}
	for i := max(a, 0); i < b && i < len(s.trace); i++ {
		s.trace[i] = class
	}
}

// keep marks the header fields [a, b) as kept and returns b.
func (s *Sanitizer) keep(a, b int) int {
	s.mark(a, b, classKept)
	return b
}

// cut ends what is kept at at; the bytes up to end are cut because they
// are not understood.
func (s *Sanitizer) cut(at, end int) int {
	if at < end {
		s.res.Denied = true
	}
	return at
}

// sum16 is the ones' complement sum of b as 16-bit words starting at an
// even position.
func sum16(b []byte) uint16 {
	var x uint32
	for len(b) >= 2 {
		x += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		x += uint32(b[0]) << 8
	}
	return fold(x)
}

// changed updates the checksums covering [a, b) after the bytes there
// changed from the sum old (sum16 before) and returns the difference.
func (s *Sanitizer) changed(a, b int, old uint16) uint16 {
	d := fold(uint32(^old) + uint32(sum16(s.f[a:b])))
	if s.nsums > 0 && d != 0xffff && d != 0 {
		s.applyDelta(a, d, s.nsums)
	}
	return d
}

// applyDelta applies the difference d of the bytes starting at off to the
// first n active checksums that cover off, innermost first, and the
// change of each checksum field to the checksums covering it. Checksums
// nest (a later one covers bytes inside the region of an earlier one, and
// never an earlier one's field), so one pass from the innermost outward
// sees every change before the checksums covering it.
func (s *Sanitizer) applyDelta(off int, d uint16, n int) {
	if n == 1 { // the usual case: one checksum, no field change to pass on
		c := &s.sums[0]
		if off < c.start || off >= c.end {
			return
		}
		if (off-c.start)&1 == 1 {
			d = d<<8 | d>>8
		}
		hc := s.u16(c.field)
		if nc, ok := adjust(hc, d, c.kind); ok {
			binary.BigEndian.PutUint16(s.f[c.field:], nc)
		}
		return
	}
	var (
		at  [maxActiveSums + 1]int32
		dd  [maxActiveSums + 1]uint16
		num = 1
	)
	at[0], dd[0] = int32(off), d
	for i := n - 1; i >= 0; i-- {
		c := &s.sums[i]
		var x uint32
		for k := range num {
			if int(at[k]) < c.start || int(at[k]) >= c.end {
				continue
			}
			v := dd[k]
			if (int(at[k])-c.start)&1 == 1 {
				v = v<<8 | v>>8
			}
			x += uint32(v)
		}
		if x == 0 {
			continue
		}
		hc := s.u16(c.field)
		nc, ok := adjust(hc, fold(x), c.kind)
		if !ok {
			continue
		}
		binary.BigEndian.PutUint16(s.f[c.field:], nc)
		at[num], dd[num] = int32(c.field), fold(uint32(^hc)+uint32(nc))
		num++
	}
}

// fixSum applies the pseudo-header difference d to checksum i and its
// change to the checksums covering it.
func (s *Sanitizer) fixSum(i int, d uint16) {
	c := &s.sums[i]
	hc := s.u16(c.field)
	n, ok := adjust(hc, d, c.kind)
	if !ok {
		return
	}
	binary.BigEndian.PutUint16(s.f[c.field:], n)
	s.applyDelta(c.field, fold(uint32(^hc)+uint32(n)), i)
}

// pushSum makes the checksum at field, covering [start, end), active and
// returns its index, or -1 when it was not captured (end is where the
// layer holding it ends).
func (s *Sanitizer) pushSum(field, start, end int, kind sumKind) int {
	if field+2 > end || field+2 > len(s.f) || s.nsums >= maxActiveSums {
		return -1
	}
	s.sums[s.nsums] = activeSum{field: field, start: start, end: end, kind: kind}
	s.nsums++
	return s.nsums - 1
}

// fill overwrites [a, b) with v (marking it class).
func (s *Sanitizer) fill(a, b int, v byte, class byte) {
	if a >= b {
		return
	}
	p := s.f[a:b]
	dirty := false
	for _, c := range p {
		if c != v {
			dirty = true
			break
		}
	}
	if dirty {
		old := sum16(p)
		for i := range p {
			p[i] = v
		}
		s.changed(a, b, old)
	}
	s.mark(a, b, class)
}

// neutralize overwrites [a, b) with v because it is not understood.
func (s *Sanitizer) neutralize(a, b int, v byte) {
	if a < b {
		s.res.Denied = true
	}
	s.fill(a, b, v, classRewritten)
}

// addr4 rewrites the IPv4 address at off and returns the difference.
func (s *Sanitizer) addr4(off int) uint16 {
	p := s.f[off : off+4]
	x := binary.BigEndian.Uint32(p)
	m := s.map4(x)
	s.mark(off, off+4, classRewritten)
	if m == x {
		return 0xffff
	}
	binary.BigEndian.PutUint32(p, m)
	d := fold(uint32(^fold(x>>16+x&0xffff)) + uint32(fold(m>>16+m&0xffff)))
	if s.nsums > 0 && d != 0xffff && d != 0 {
		s.applyDelta(off, d, s.nsums)
	}
	return d
}

// addr16 rewrites the IPv6 address at off and returns the difference. With
// plen < 128 the bits past plen are zeroed (a prefix).
func (s *Sanitizer) addr16(off int, plen int) uint16 {
	p := s.f[off : off+16]
	k0, k1 := binary.BigEndian.Uint64(p[:8]), binary.BigEndian.Uint64(p[8:])
	m0, m1 := s.map16(k0, k1)
	switch {
	case plen <= 0:
		m0, m1 = 0, 0
	case plen < 64:
		m0, m1 = m0&^(^uint64(0)>>plen), 0
	case plen == 64:
		m1 = 0
	case plen < 128:
		m1 &^= ^uint64(0) >> (plen - 64)
	}
	s.mark(off, off+16, classRewritten)
	if m0 == k0 && m1 == k1 {
		return 0xffff
	}
	binary.BigEndian.PutUint64(p[:8], m0)
	binary.BigEndian.PutUint64(p[8:], m1)
	d := fold(uint32(^fold(words64(k0)+words64(k1))) + uint32(fold(words64(m0)+words64(m1))))
	if s.nsums > 0 && d != 0xffff && d != 0 {
		s.applyDelta(off, d, s.nsums)
	}
	return d
}

// words64 is the sum of the four 16-bit words of x.
func words64(x uint64) uint32 {
	return uint32(x>>48) + uint32(x>>32&0xffff) + uint32(x>>16&0xffff) + uint32(x&0xffff)
}

// macAt applies the MAC mode to the address at off.
func (s *Sanitizer) macAt(off int) {
	p := s.f[off : off+6]
	x := getMAC(p)
	if s.mac == MACKeep || x == macBroadcast {
		s.mark(off, off+6, classKept)
		return
	}
	var m uint64
	if s.mac != MACZero {
		m = s.mapMAC(x)
	}
	s.mark(off, off+6, classRewritten)
	switch {
	case m == x:
	case s.nsums == 0: // no checksum covers it (the usual link header)
		putMAC(p, m)
	default: // in a neighbor discovery option or a tunnel
		o := sum16(p)
		putMAC(p, m)
		s.changed(off, off+6, o)
	}
}

// payloadAt applies the payload mode to the transport payload [a, b) and
// returns the end of what is kept.
func (s *Sanitizer) payloadAt(a, b int) int {
	if a >= b {
		return a
	}
	switch s.payload {
	case PayloadZero:
		s.fill(a, b, 0, classZeroed)
		return b
	case PayloadKeep:
		s.mark(a, b, classPayload)
		return b
	}
	return a
}

// Link layers.

// ethernet sanitizes the Ethernet frame in [off, end).
func (s *Sanitizer) ethernet(off, end, depth int) int {
	if depth > maxSanitizeDepth || end-off < 14 {
		return s.cut(off, end)
	}
	s.macAt(off)
	s.macAt(off + 6)
	s.keep(off+12, off+14)
	return s.ether(s.u16(off+12), off+14, end, depth)
}

// EtherTypes the sanitizer follows beyond those of fast.go.
const (
	etherARP     = 0x0806
	etherRARP    = 0x8035
	etherTEB     = 0x6558 // transparent Ethernet bridging (GRE, Geneve)
	etherMPLS    = 0x8847
	etherMPLSMC  = 0x8848
	maxVLANTags  = 8
	maxMPLSStack = 16
)

// ether sanitizes what follows an EtherType (or GRE/Geneve protocol
// type) etype at off.
func (s *Sanitizer) ether(etype uint16, off, end, depth int) int {
	for tags := 0; off < end; tags++ {
		switch etype {
		case uint16(layers.EthernetTypeIPv4):
			return s.ipv4(off, end, depth)
		case uint16(layers.EthernetTypeIPv6):
			return s.ipv6(off, end, depth)
		case etherARP, etherRARP:
			return s.arp(off, end)
		case etherTEB:
			return s.ethernet(off, end, depth+1)
		case etherMPLS, etherMPLSMC:
			return s.mpls(off, end, depth)
		case etherDot1Q, etherQinQ, etherQinQv1:
			if tags >= maxVLANTags || end-off < 4 {
				return s.cut(off, end)
			}
			s.keep(off, off+4)
			etype = s.u16(off + 2)
			off += 4
		default:
			return s.cut(off, end)
		}
	}
	return off
}

// mpls sanitizes an MPLS label stack at off and what it carries.
func (s *Sanitizer) mpls(off, end, depth int) int {
	for range maxMPLSStack {
		if end-off < 4 {
			return s.cut(off, end)
		}
		s.keep(off, off+4)
		bottom := s.f[off+2]&1 != 0
		off += 4
		if !bottom {
			continue
		}
		if off >= end {
			return off
		}
		switch s.f[off] >> 4 {
		case 4:
			return s.ipv4(off, end, depth)
		case 6:
			return s.ipv6(off, end, depth)
		case 0: // Ethernet pseudowire control word (RFC 4448)
			if end-off < 4 {
				return s.cut(off, end)
			}
			s.keep(off, off+4)
			return s.ethernet(off+4, end, depth+1)
		}
		return s.cut(off, end)
	}
	return s.cut(off, end)
}

// ARPHRD types whose Linux cooked address is a MAC.
const (
	arphrdEther    = 1
	arphrdLoopback = 772
	arphrdNetlink  = 824
)

// sll sanitizes a Linux cooked v1 or v2 frame of n bytes.
func (s *Sanitizer) sll(n int, v2 bool) int {
	hl, proto, hatype, halen, addr := 16, 14, 2, 4, 6
	if v2 {
		hl, proto, hatype, halen, addr = 20, 0, 8, 11, 12
	}
	if n < hl {
		return s.cut(0, n)
	}
	if v2 {
		s.keep(0, 12)
	} else {
		s.keep(0, 6)
		s.keep(14, 16)
	}
	ht := s.u16(hatype)
	al := int(s.f[halen])
	if v2 {
		s.keep(halen, halen+1)
	} else {
		al = int(s.u16(halen))
	}
	if (ht == arphrdEther || ht == arphrdLoopback) && al == 6 {
		s.macAt(addr)
		s.fill(addr+6, addr+8, 0, classZeroed)
	} else {
		s.fill(addr, addr+8, 0, classZeroed)
	}
	if ht == arphrdNetlink {
		return s.cut(hl, n)
	}
	return s.ether(s.u16(proto), hl, n, 0)
}

// loopback sanitizes a BSD loopback frame of n bytes.
func (s *Sanitizer) loopback(n int) int {
	if n < 4 {
		return s.cut(0, n)
	}
	s.keep(0, 4)
	f := s.f
	var family uint32
	if f[0] == 0 && f[1] == 0 {
		family = binary.BigEndian.Uint32(f)
	} else {
		family = binary.LittleEndian.Uint32(f)
	}
	switch family {
	case 2:
		return s.ipv4(4, n, 0)
	case 10, 24, 28, 30:
		return s.ipv6(4, n, 0)
	}
	return s.cut(4, n)
}

// ipAny sanitizes the IP packet at off whatever its version.
func (s *Sanitizer) ipAny(off, end, depth int) int {
	if off >= end {
		return off
	}
	switch s.f[off] >> 4 {
	case 4:
		return s.ipv4(off, end, depth)
	case 6:
		return s.ipv6(off, end, depth)
	}
	return s.cut(off, end)
}

// arp sanitizes an ARP or RARP message at off.
func (s *Sanitizer) arp(off, end int) int {
	n := end - off
	if n < 8 {
		return s.cut(s.keep(off, end), end)
	}
	s.keep(off, off+8)
	ht, pt := s.u16(off), s.u16(off+2)
	if ht != 1 && ht != 6 || pt != uint16(layers.EthernetTypeIPv4) || s.f[off+4] != 6 || s.f[off+5] != 4 {
		return s.cut(off+8, end)
	}
	// Sender MAC, sender IP, target MAC, target IP; cut at the first
	// field not captured whole.
	at := off + 8
	for i, size := range [4]int{6, 4, 6, 4} {
		if at+size > end {
			return s.cut(at, end)
		}
		if i%2 == 0 {
			s.macAt(at)
		} else {
			s.addr4(at)
		}
		at += size
	}
	return at // Ethernet padding after the message is cut
}

// IP.

// ipv4 sanitizes the IPv4 packet at off; end is where the enclosing layer
// ends.
func (s *Sanitizer) ipv4(off, end, depth int) int {
	n := end - off
	if depth > maxSanitizeDepth || n < 1 || s.f[off]>>4 != 4 {
		return s.cut(off, end)
	}
	saved := s.nsums
	defer func() { s.nsums = saved }()
	hl := int(s.f[off]&0x0f) * 4
	hend := min(off+max(hl, 20), end)
	s.pushSum(off+10, off, hend, sumPlain)
	if n < 20 {
		// Fixed fields, then each address captured whole.
		safe := s.keep(off, off+min(n, 12))
		if n >= 16 {
			s.addr4(off + 12)
			safe = off + 16
		}
		return s.cut(safe, end)
	}
	s.keep(off, off+12)
	ip := sanIP{src: s.addr4(off + 12), dst: s.addr4(off + 16)}
	if hl < 20 {
		return s.cut(off+20, end)
	}
	if final, ok := s.ipv4Options(off+20, hend); ok {
		ip.dst = final
	}
	if off+hl > end {
		return hend // options cut by the capture
	}
	s.nsums = saved // the header checksum covers nothing after
	total := int(s.u16(off + 2))
	ipEnd := off + total
	switch {
	case total == 0: // segmentation offload: the NIC sets the length
		ipEnd = end
	case total < hl:
		return s.cut(off+hl, end)
	case ipEnd > end:
		ipEnd = end
	}
	body, proto := off+hl, s.f[off+9]
	if s.u16(off+6)&0x1fff != 0 {
		return s.fragment(proto, body, ipEnd)
	}
	return s.ipBody(proto, body, ipEnd, depth, ip)
}

// ipv4Options sanitizes the IPv4 options in [a, b) and returns the
// difference of the final destination of a source route in progress.
func (s *Sanitizer) ipv4Options(a, b int) (final uint16, routed bool) {
	f := s.f
	for i := a; i < b; {
		t := f[i]
		switch t {
		case 0: // end of options: the rest is padding
			s.keep(i, i+1)
			s.neutralizeIfSet(i+1, b, 0)
			return final, routed
		case 1:
			s.keep(i, i+1)
			i++
			continue
		}
		if i+1 >= b || f[i+1] < 2 || i+int(f[i+1]) > b {
			s.neutralize(i, b, 1)
			return final, routed
		}
		l := int(f[i+1])
		switch {
		case (t == 7 || t == 131 || t == 137) && l >= 3 && (l-3)%4 == 0:
			s.keep(i, i+3)
			var last uint16
			for p := i + 3; p < i+l; p += 4 {
				last = s.addr4(p)
			}
			// A source route not yet done ends at its last address,
			// which the transport pseudo-header uses.
			if t != 7 && l > 3 && int(f[i+2]) <= l {
				final, routed = last, true
			}
		case t == 68 && l >= 4:
			flg := f[i+3] & 0x0f
			switch {
			case flg == 0 && (l-4)%4 == 0:
				s.keep(i, i+l)
			case (flg == 1 || flg == 3) && (l-4)%8 == 0:
				s.keep(i, i+4)
				for p := i + 4; p < i+l; p += 8 {
					s.addr4(p)
					s.keep(p+4, p+8)
				}
			default:
				s.neutralize(i, i+l, 1)
			}
		default:
			s.neutralize(i, i+l, 1)
		}
		i += l
	}
	return final, routed
}

// neutralizeIfSet fills [a, b) with v, counting it as denied only if a
// byte there differed.
func (s *Sanitizer) neutralizeIfSet(a, b int, v byte) {
	for i := a; i < b; i++ {
		if s.f[i] != v {
			s.neutralize(a, b, v)
			return
		}
	}
	s.mark(a, b, classZeroed)
}

// ipv6 sanitizes the IPv6 packet at off.
func (s *Sanitizer) ipv6(off, end, depth int) int {
	n := end - off
	if depth > maxSanitizeDepth || n < 1 || s.f[off]>>4 != 6 {
		return s.cut(off, end)
	}
	if n < 40 {
		safe := s.keep(off, off+min(n, 8))
		if n >= 24 {
			s.addr16(off+8, 128)
			safe = off + 24
		}
		return s.cut(safe, end)
	}
	s.keep(off, off+8)
	ip := sanIP{v6: true, src: s.addr16(off+8, 128), dst: s.addr16(off+24, 128)}
	plen := int(s.u16(off + 4))
	ipEnd := off + 40 + plen
	if plen == 0 || ipEnd > end {
		ipEnd = end // jumbogram or cut by the capture
	}
	return s.ipv6Ext(s.f[off+6], off+40, ipEnd, depth, ip)
}

// IPv6 extension headers and protocols the sanitizer follows.
const (
	ipHopByHop = 0
	ipIPv4     = 4
	ipTCP      = 6
	ipUDP      = 17
	ipIPv6     = 41
	ipRouting  = 43
	ipFragment = 44
	ipGRE      = 47
	ipICMPv6   = 58
	ipDestOpts = 60
	ipSCTP     = 132
	ipUDPLite  = 136
	maxExtHdrs = 8
)

// ipv6Ext sanitizes the extension headers from p, then the body.
func (s *Sanitizer) ipv6Ext(next uint8, p, ipEnd, depth int, ip sanIP) int {
	f := s.f
	for range maxExtHdrs {
		switch next {
		case ipHopByHop, ipDestOpts:
			if ipEnd-p < 2 || p+(int(f[p+1])+1)*8 > ipEnd {
				return s.cut(p, ipEnd)
			}
			hl := (int(f[p+1]) + 1) * 8
			s.keep(p, p+2)
			s.ipv6Options(p+2, p+hl)
			next, p = f[p], p+hl
		case ipRouting:
			if ipEnd-p < 4 {
				return s.cut(p, ipEnd)
			}
			hl := (int(f[p+1]) + 1) * 8
			s.keep(p, p+4)
			if p+hl > ipEnd {
				return s.cut(p+4, ipEnd)
			}
			final, ok := s.routing(p, hl)
			if !ok {
				return s.cut(p+4, ipEnd)
			}
			if f[p+3] > 0 { // segments left: the pseudo-header has the last
				ip.dst = final
			}
			next, p = f[p], p+hl
		case ipFragment:
			if ipEnd-p < 8 {
				return s.cut(s.keep(p, ipEnd), ipEnd)
			}
			s.keep(p, p+8)
			next = f[p]
			if s.u16(p+2)&0xfff8 != 0 {
				return s.fragment(next, p+8, ipEnd)
			}
			p += 8
		default:
			return s.ipBody(next, p, ipEnd, depth, ip)
		}
	}
	return s.cut(p, ipEnd)
}

// ipv6Options sanitizes the options of a hop-by-hop or destination
// options header in [a, b).
func (s *Sanitizer) ipv6Options(a, b int) {
	f := s.f
	for i := a; i < b; {
		t := f[i]
		if t == 0 { // Pad1
			s.keep(i, i+1)
			i++
			continue
		}
		if i+1 >= b || i+2+int(f[i+1]) > b {
			s.padN(i, b, 1, 0)
			return
		}
		e := i + 2 + int(f[i+1])
		switch {
		case t == 1: // PadN: its data must be zeros
			s.keep(i, i+2)
			s.neutralizeIfSet(i+2, e, 0)
		case t == 5 && e-i == 4, t == 0xc2 && e-i == 6: // router alert, jumbo
			s.keep(i, e)
		default:
			s.padN(i, e, 1, 0)
		}
		i = e
	}
}

// padN replaces [a, b) with padding options: padN (type, length, zeros)
// and, for a single byte, pad1.
func (s *Sanitizer) padN(a, b int, padN, pad1 byte) {
	if a >= b {
		return
	}
	s.res.Denied = true
	old := sum16(s.f[a:b])
	p := s.f[a:b]
	for len(p) > 0 {
		c := min(len(p), 257)
		if len(p)-c == 1 {
			c--
		}
		if c == 1 {
			p[0] = pad1
		} else {
			p[0], p[1] = padN, byte(c-2)
			clear(p[2:c])
		}
		p = p[c:]
	}
	s.changed(a, b, old)
	s.mark(a, b, classRewritten)
}

// routing sanitizes the routing header of hl bytes at p (captured whole)
// and returns the difference of its final destination; false for a
// routing type it does not know.
func (s *Sanitizer) routing(p, hl int) (uint16, bool) {
	f := s.f
	var final uint16 = 0xffff
	switch f[p+2] {
	case 0, 2: // RH0, Mobile IPv6: reserved, then addresses
		if hl < 8 || (hl-8)%16 != 0 {
			return 0, false
		}
		s.keep(p+4, p+8)
		for a := p + 8; a < p+hl; a += 16 {
			final = s.addr16(a, 128)
		}
	case 4: // segment routing header (RFC 8754)
		if hl < 8 {
			return 0, false
		}
		segEnd := p + 8 + (int(f[p+4])+1)*16
		if segEnd > p+hl {
			return 0, false
		}
		s.keep(p+4, p+8)
		for a := p + 8; a < segEnd; a += 16 {
			d := s.addr16(a, 128)
			if a == p+8 { // segment 0 is the final destination
				final = d
			}
		}
		s.padN(segEnd, p+hl, 4, 0)
	default:
		return 0, false
	}
	return final, true
}

// fragment handles the body [a, b) of a non-first fragment.
func (s *Sanitizer) fragment(proto uint8, a, b int) int {
	if s.payload == PayloadKeep {
		switch proto {
		case ipTCP, ipUDP, ipUDPLite, ipSCTP:
			return s.payloadAt(a, b)
		}
		return s.cut(a, b)
	}
	return a
}

// ipBody sanitizes what an IP header carries in [off, ipEnd).
func (s *Sanitizer) ipBody(proto uint8, off, ipEnd, depth int, ip sanIP) int {
	if off >= ipEnd {
		return off
	}
	switch proto {
	case ipTCP:
		return s.tcp(off, ipEnd, ip)
	case ipUDP:
		return s.udp(off, ipEnd, depth, ip, false)
	case ipUDPLite:
		return s.udp(off, ipEnd, depth, ip, true)
	case ipSCTP:
		return s.sctp(off, ipEnd)
	case 1:
		return s.icmp4(off, ipEnd, depth)
	case ipICMPv6:
		if ip.v6 {
			return s.icmp6(off, ipEnd, depth, ip)
		}
	case ipIPv4:
		return s.ipv4(off, ipEnd, depth+1)
	case ipIPv6:
		return s.ipv6(off, ipEnd, depth+1)
	case ipGRE:
		return s.gre(off, ipEnd, depth)
	}
	return s.cut(off, ipEnd)
}

// Transport.

// transportSum makes the checksum at field active over [start, end) and
// applies the pseudo-header difference d to it.
func (s *Sanitizer) transportSum(field, start, end int, kind sumKind, d uint16) {
	if i := s.pushSum(field, start, end, kind); i >= 0 && d != 0xffff && d != 0 {
		s.fixSum(i, d)
	}
}

// tcp sanitizes the TCP segment in [off, ipEnd).
func (s *Sanitizer) tcp(off, ipEnd int, ip sanIP) int {
	saved := s.nsums
	defer func() { s.nsums = saved }()
	s.transportSum(off+16, off, ipEnd, sumPlain, ip.pseudo())
	if ipEnd-off < 20 {
		return s.keep(off, ipEnd) // every fixed field may be kept
	}
	s.keep(off, off+20)
	hl := int(s.f[off+12]>>4) * 4
	if hl < 20 {
		return s.cut(off+20, ipEnd)
	}
	optEnd := min(off+hl, ipEnd)
	s.tcpOptions(off+20, optEnd)
	return s.payloadAt(optEnd, ipEnd)
}

// tcpOptions sanitizes the TCP options in [a, b).
func (s *Sanitizer) tcpOptions(a, b int) {
	f := s.f
	for i := a; i < b; {
		t := f[i]
		switch t {
		case 0:
			s.keep(i, i+1)
			s.neutralizeIfSet(i+1, b, 0)
			return
		case 1:
			s.keep(i, i+1)
			i++
			continue
		}
		if i+1 >= b || f[i+1] < 2 || i+int(f[i+1]) > b {
			s.neutralize(i, b, 1)
			return
		}
		l := int(f[i+1])
		switch {
		case t == 2 && l == 4, t == 3 && l == 3, t == 4 && l == 2, t == 8 && l == 10,
			t == 5 && l >= 10 && (l-2)%8 == 0:
			s.keep(i, i+l)
		default:
			s.neutralize(i, i+l, 1)
		}
		i += l
	}
}

// UDP ports of the tunnels the sanitizer follows.
const (
	portVXLAN  = 4789
	portGeneve = 6081
)

// udp sanitizes the UDP or UDP-Lite datagram in [off, ipEnd).
func (s *Sanitizer) udp(off, ipEnd, depth int, ip sanIP, lite bool) int {
	saved := s.nsums
	defer func() { s.nsums = saved }()
	n := ipEnd - off
	cover := ipEnd
	if lite && n >= 6 {
		if c := int(s.u16(off + 4)); c >= 8 && off+c < ipEnd {
			cover = off + c
		}
	}
	s.transportSum(off+6, off, cover, sumUDP, ip.pseudo())
	if n < 8 {
		return s.keep(off, ipEnd)
	}
	s.keep(off, off+8)
	body, udpEnd := off+8, ipEnd
	if !lite {
		if l := int(s.u16(off + 4)); l != 0 && l < 8 {
			return s.cut(body, ipEnd)
		} else if l != 0 && off+l < ipEnd {
			udpEnd = off + l
		}
		switch s.u16(off + 2) {
		case portVXLAN:
			return s.vxlan(body, udpEnd, depth)
		case portGeneve:
			return s.geneve(body, udpEnd, depth)
		}
	}
	r := s.payloadAt(body, udpEnd)
	if r == udpEnd && udpEnd < ipEnd {
		return s.cut(r, ipEnd)
	}
	return r
}

// sctp sanitizes the SCTP packet in [off, ipEnd): the common header is
// kept, the chunks are payload. PayloadZero keeps the chunk headers (type,
// flags, length) so the packet still dissects, and zeroes their values.
func (s *Sanitizer) sctp(off, ipEnd int) int {
	if ipEnd-off < 12 {
		return s.keep(off, ipEnd)
	}
	s.keep(off, off+12)
	if s.payload != PayloadZero {
		return s.payloadAt(off+12, ipEnd)
	}
	for c := off + 12; c < ipEnd; {
		l := 0
		if ipEnd-c >= 4 {
			l = int(s.u16(c + 2))
		}
		if l < 4 {
			return s.payloadAt(c, ipEnd)
		}
		s.keep(c, c+4)
		next := min(c+(l+3)&^3, ipEnd)
		s.payloadAt(c+4, next)
		c = next
	}
	return ipEnd
}

// ICMP.

// quote sanitizes the packet an ICMP or ICMPv6 message quotes in [off,
// end).
func (s *Sanitizer) quote(off, end, depth int) int {
	if depth >= maxSanitizeDepth {
		return s.cut(off, end)
	}
	return s.ipAny(off, end, depth+1)
}

// icmp4 sanitizes the ICMP message in [off, ipEnd).
func (s *Sanitizer) icmp4(off, ipEnd, depth int) int {
	saved := s.nsums
	defer func() { s.nsums = saved }()
	s.pushSum(off+2, off, ipEnd, sumPlain)
	n := ipEnd - off
	if n < 8 {
		return s.cut(s.keep(off, off+min(n, 4)), ipEnd)
	}
	s.keep(off, off+4)
	switch t := s.f[off]; t {
	case layers.ICMPv4TypeEchoReply, layers.ICMPv4TypeEchoRequest:
		s.keep(off+4, off+8)
		return s.payloadAt(off+8, ipEnd)
	case layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4TypeSourceQuench, layers.ICMPv4TypeRedirect,
		layers.ICMPv4TypeTimeExceeded, layers.ICMPv4TypeParameterProblem:
		if t == layers.ICMPv4TypeRedirect {
			s.addr4(off + 4)
		} else {
			s.keep(off+4, off+8)
		}
		qEnd := ipEnd
		if t != layers.ICMPv4TypeRedirect && t != layers.ICMPv4TypeSourceQuench && s.f[off+5] != 0 {
			// RFC 4884: the quote's length; extensions follow it.
			qEnd = min(qEnd, off+8+int(s.f[off+5])*4)
		}
		r := s.quote(off+8, qEnd, depth)
		if r == qEnd {
			return s.cut(r, ipEnd)
		}
		return r
	}
	return s.cut(off+4, ipEnd)
}

// icmp6 sanitizes the ICMPv6 message in [off, ipEnd).
func (s *Sanitizer) icmp6(off, ipEnd, depth int, ip sanIP) int {
	saved := s.nsums
	defer func() { s.nsums = saved }()
	s.transportSum(off+2, off, ipEnd, sumPlain, ip.pseudo())
	n := ipEnd - off
	if n < 4 {
		return s.keep(off, ipEnd)
	}
	s.keep(off, off+4)
	t := s.f[off]
	// fixed is the length of the message before its options, addrs the
	// offsets of its addresses.
	var fixed int
	switch t {
	case layers.ICMPv6TypeDestinationUnreachable, layers.ICMPv6TypePacketTooBig,
		layers.ICMPv6TypeTimeExceeded, layers.ICMPv6TypeParameterProblem:
		if n < 8 {
			return s.cut(off+4, ipEnd)
		}
		s.keep(off+4, off+8)
		qEnd := ipEnd
		if (t == layers.ICMPv6TypeDestinationUnreachable || t == layers.ICMPv6TypeTimeExceeded) && s.f[off+4] != 0 {
			qEnd = min(qEnd, off+8+int(s.f[off+4])*8) // RFC 4884
		}
		r := s.quote(off+8, qEnd, depth)
		if r == qEnd {
			return s.cut(r, ipEnd)
		}
		return r
	case layers.ICMPv6TypeEchoRequest, layers.ICMPv6TypeEchoReply:
		if n < 8 {
			return s.cut(off+4, ipEnd)
		}
		s.keep(off+4, off+8)
		return s.payloadAt(off+8, ipEnd)
	case layers.ICMPv6TypeRouterSolicitation:
		fixed = 8
	case layers.ICMPv6TypeRouterAdvertisement:
		fixed = 16
	case layers.ICMPv6TypeNeighborSolicitation, layers.ICMPv6TypeNeighborAdvertisement:
		fixed = 24
	case layers.ICMPv6TypeRedirect:
		fixed = 40
	default:
		return s.cut(off+4, ipEnd)
	}
	if n < fixed {
		return s.cut(off+4, ipEnd)
	}
	if fixed == 16 {
		s.keep(off+4, off+16)
	} else {
		s.keep(off+4, off+8)
	}
	for a := off + 8; fixed >= 24 && a+16 <= off+fixed; a += 16 {
		s.addr16(a, 128)
	}
	return s.ndOptions(off+fixed, ipEnd, depth)
}

// ndOptions sanitizes neighbor discovery options in [a, ipEnd).
func (s *Sanitizer) ndOptions(a, ipEnd, depth int) int {
	f := s.f
	for i := a; i < ipEnd; {
		if ipEnd-i < 2 {
			return s.cut(i, ipEnd)
		}
		l := int(f[i+1]) * 8
		if l == 0 || i+l > ipEnd {
			return s.cut(i, ipEnd)
		}
		switch t := f[i]; {
		case (t == 1 || t == 2) && l == 8: // source, target link-layer address
			s.keep(i, i+2)
			s.macAt(i + 2)
		case t == 3 && l == 32: // prefix information
			s.keep(i, i+16)
			s.addr16(i+16, int(f[i+2]))
		case t == 4: // redirected header
			s.keep(i, i+2)
			s.neutralizeIfSet(i+2, i+8, 0)
			if r := s.quote(i+8, i+l, depth); r < i+l {
				return r
			}
		case t == 5 && l == 8: // MTU
			s.keep(i, i+8)
		default:
			return s.cut(i, ipEnd)
		}
		i += l
	}
	return ipEnd
}

// Tunnels.

// gre sanitizes the GRE packet in [off, ipEnd).
func (s *Sanitizer) gre(off, ipEnd, depth int) int {
	saved := s.nsums
	defer func() { s.nsums = saved }()
	n := ipEnd - off
	if n < 4 {
		return s.keep(off, ipEnd)
	}
	flags := s.u16(off)
	if flags&0x7 != 0 || flags&0x4000 != 0 { // version 1 (PPTP), routing
		return s.cut(s.keep(off, off+4), ipEnd)
	}
	hl := 4
	for _, bit := range [3]uint16{0x8000, 0x2000, 0x1000} { // checksum, key, sequence
		if flags&bit != 0 {
			hl += 4
		}
	}
	if n < hl {
		return s.keep(off, ipEnd)
	}
	s.keep(off, off+hl)
	if flags&0x8000 != 0 {
		s.pushSum(off+4, off, ipEnd, sumPlain)
	}
	if depth >= maxSanitizeDepth {
		return s.cut(off+hl, ipEnd)
	}
	return s.ether(s.u16(off+2), off+hl, ipEnd, depth+1)
}

// vxlan sanitizes the VXLAN packet in [off, end).
func (s *Sanitizer) vxlan(off, end, depth int) int {
	if end-off < 8 {
		return s.keep(off, end)
	}
	s.keep(off, off+8)
	return s.ethernet(off+8, end, depth+1)
}

// geneve sanitizes the Geneve packet in [off, end).
func (s *Sanitizer) geneve(off, end, depth int) int {
	if end-off < 8 {
		return s.keep(off, end)
	}
	if s.f[off]>>6 != 0 {
		return s.cut(off, end)
	}
	s.keep(off, off+8)
	inner := off + 8 + int(s.f[off]&0x3f)*4
	s.neutralizeIfSet(off+8, min(inner, end), 0)
	if inner >= end {
		return end
	}
	return s.ether(s.u16(off+2), inner, end, depth+1)
}
