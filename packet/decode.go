package packet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

var (
	errVersion   = errors.New("IP version does not match the protocol announced by the lower layer")
	errTooDeep   = fmt.Errorf("more than %d nested IP headers", maxIPHeaders)
	errShortExt  = errors.New("IPv6 extension header too short")
	errShortUDPL = errors.New("UDP-Lite header too short")
)

// Decoder decodes frames of one link type into Summary. It is built around a
// gopacket.DecodingLayerParser whose layers and decoded-layer slice are
// reused, so decoding does not allocate. A Decoder is not safe for
// concurrent use: use one per capture goroutine.
type Decoder struct {
	parser  *gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
	fast    fastLink // how decodeFast reads this link type

	eth     ethernetLayer
	dot1q   dot1qLayer
	mpls    mplsLayer
	pwcw    pwControlWordLayer
	sll     sllLayer
	sll2    sllLayer
	loop    loopbackLayer
	raw     rawIPLayer
	ip4     ipv4Layer
	ip6     ipv6Layer
	hop     ipv6ExtLayer
	routing ipv6ExtLayer
	dest    ipv6ExtLayer
	frag    ipv6ExtLayer
	tcp     tcpLayer
	udp     udpLayer
	udplite udpLiteLayer
	sctp    sctpLayer
	icmp4   icmpv4Layer
	icmp6   icmpv6Layer

	// State of the Decode call in progress.
	s        *Summary
	frame    []byte
	cur      []byte // input of the layer being decoded
	vlanSeen bool
	nIP      int   // IP headers entered, ICMP quotes excluded
	ip       ipCtx // innermost IP header so far
	hardErr  bool  // the error is a malformed header even in a truncated frame
	lastErr  error // error of the last Decode, for tests
	l4sum    int8  // checksum of the transport header, or -1
	// sites says the fast path records rewrite sites (Decode, not
	// DecodeSummary).
	sites bool
}

// ipCtx is what transport headers need to know about the IP header that
// carries them.
type ipCtx struct {
	v6       bool
	src, dst int8 // address sites in Summary.rw, -1 when not captured
}

// NewDecoder returns a Decoder for frames of the given link type: Ethernet
// (with 802.1Q, 802.1ad and MPLS), Linux cooked v1 and v2
// (LinkTypeLinuxSLL2), raw IP (12, 14, 101, 228, 229) and BSD loopback (0,
// 108). Other link types are an error.
func NewDecoder(linkType layers.LinkType) (*Decoder, error) {
	first, err := firstLayer(linkType)
	if err != nil {
		return nil, fmt.Errorf("unable to decode frames: %w", err)
	}
	d := &Decoder{decoded: make([]gopacket.LayerType, 0, 16)}
	switch first {
	case layers.LayerTypeEthernet:
		d.fast = fastEthernet
	case layers.LayerTypeLinuxSLL:
		d.fast = fastSLL
	case layerTypeSLL2:
		d.fast = fastSLL2
	case layerTypeRawIP:
		d.fast = fastRawIP
	}
	d.eth.d, d.dot1q.d, d.mpls.d, d.pwcw.d, d.sll.d, d.sll2.d, d.loop.d, d.raw.d = d, d, d, d, d, d, d, d
	d.sll2.v2 = true
	d.ip4.d, d.ip6.d, d.tcp.d, d.udp.d, d.udplite.d, d.sctp.d, d.icmp4.d, d.icmp6.d = d, d, d, d, d, d, d, d
	d.hop = ipv6ExtLayer{typ: layers.LayerTypeIPv6HopByHop, d: d}
	d.routing = ipv6ExtLayer{typ: layers.LayerTypeIPv6Routing, d: d}
	d.dest = ipv6ExtLayer{typ: layers.LayerTypeIPv6Destination, d: d}
	d.frag = ipv6ExtLayer{typ: layers.LayerTypeIPv6Fragment, d: d}
	// A sparse container (a slice indexed by layer type) is a fifth faster
	// than the default map; it costs a 2000-entry slice per Decoder.
	dlc := gopacket.DecodingLayerContainer(gopacket.DecodingLayerSparse(nil))
	for _, l := range []gopacket.DecodingLayer{
		&d.eth, &d.dot1q, &d.mpls, &d.pwcw, &d.sll, &d.sll2, &d.loop, &d.raw,
		&d.ip4, &d.ip6, &d.hop, &d.routing, &d.dest, &d.frag,
		&d.tcp, &d.udp, &d.udplite, &d.sctp, &d.icmp4, &d.icmp6,
	} {
		dlc = dlc.Put(l)
	}
	d.parser = gopacket.NewDecodingLayerParser(first)
	d.parser.SetDecodingLayerContainer(dlc)
	// Layers we do not follow (ARP, application payloads...) end decoding
	// quietly; panics inside layer decoders become errors (Malformed).
	d.parser.IgnoreUnsupported = true
	return d, nil
}

// Decode fills s (reset first) from the frame data captured with ci. It
// never panics: a header that cannot be decoded sets s.Malformed, and the
// fields decoded before it stay valid. data must stay unchanged until
// Anonymize is done with s.
func (d *Decoder) Decode(data []byte, ci gopacket.CaptureInfo, s *Summary) {
	d.reset(&ci, s)
	d.sites = true
	if d.decodeFast(data, s) {
		d.lastErr = nil
		return
	}
	d.decodeLayers(data, ci, s)
}

// DecodeSummary fills s as Decode does, but for Anonymize: it does not
// record where the addresses and checksums are, which is a third of the
// work on the small packets of the fast path. It is for callers that only
// read the Summary (the meter's counters and flows; packets are sanitized
// by a Sanitizer of their own); Anonymize panics on a Summary it filled.
// ci is read, not kept: a pointer spares the copy of a 72-byte struct
// per packet.
func (d *Decoder) DecodeSummary(data []byte, ci *gopacket.CaptureInfo, s *Summary) {
	d.reset(ci, s)
	d.sites = false
	if !d.decodeFast(data, s) {
		d.decodeLayers(data, *ci, s)
	} else if d.lastErr != nil {
		d.lastErr = nil
	}
	s.rw.noSites = true
}

// reset starts s afresh for a frame captured with ci. It sets every field
// but the rewrite site arrays, whose entries past their counts are never
// read: clearing a whole Summary costs more than decoding a TCP packet.
// The fields from VLAN to the arrays are cleared in one assignment of
// resetBytes bytes (a few 16-byte stores, and reset goes inline where it
// is called: its field-by-field form was a call of 38 instructions per
// packet). TestResetClearsEveryField keeps the field list complete and
// TestResetRangeHasNoPointers checks that the bytes cleared so hold no
// pointer, which must not be cleared behind the garbage collector's back.
func (d *Decoder) reset(ci *gopacket.CaptureInfo, s *Summary) {
	s.Timestamp = ci.Timestamp
	s.WireLen, s.CapLen = ci.Length, ci.CaptureLength
	*(*[resetBytes]byte)(unsafe.Pointer(&s.VLAN)) = [resetBytes]byte{}
	s.Truncated = ci.CaptureLength < ci.Length
}

// resetBytes is the length of a Summary's fields from VLAN up to the
// rewrite site arrays, which reset clears at once.
const resetBytes = unsafe.Offsetof(Summary{}.rw) + unsafe.Offsetof(rewriteInfo{}.addrs) - unsafe.Offsetof(Summary{}.VLAN)

// decodeLayers is Decode with gopacket's DecodingLayerParser and the
// layers of this package, for every frame: the reference the fast path is
// checked against, and the path of the frames it declines.
func (d *Decoder) decodeLayers(data []byte, ci gopacket.CaptureInfo, s *Summary) {
	d.reset(&ci, s)
	d.s, d.frame, d.cur = s, data, data
	d.vlanSeen, d.nIP, d.hardErr, d.l4sum = false, 0, false, -1
	d.ip = ipCtx{src: -1, dst: -1}

	err := d.parser.DecodeLayers(data, &d.decoded)
	d.lastErr = err
	if err != nil && (d.hardErr || !s.Truncated || !d.atFrameEnd(d.cur)) {
		// A header that fails where the capture stopped early is
		// truncation; anywhere else it is malformed.
		s.Malformed = true
	}
	if s.rw.full {
		s.Malformed = true
	}
	d.s, d.frame, d.cur = nil, nil, nil
}

// offset returns where b (a subslice of the frame) starts in the frame.
func (d *Decoder) offset(b []byte) int { return cap(d.frame) - cap(b) }

// atFrameEnd tells whether b runs to the last captured byte.
func (d *Decoder) atFrameEnd(b []byte) bool { return d.offset(b)+len(b) == len(d.frame) }

// enterIP counts a new IP header.
func (d *Decoder) enterIP() error {
	if d.nIP >= maxIPHeaders {
		d.hardErr = true
		return errTooDeep
	}
	d.nIP++
	return nil
}

// role is the Summary role of an address of the current IP header.
func (d *Decoder) role(r addrRole) addrRole {
	if d.nIP == 1 {
		return r
	}
	return roleOther
}

// ipNext maps an IP protocol number to the next layer we decode.
func ipNext(p layers.IPProtocol, v6 bool) gopacket.LayerType {
	switch p {
	case layers.IPProtocolTCP:
		return layers.LayerTypeTCP
	case layers.IPProtocolUDP:
		return layers.LayerTypeUDP
	case layers.IPProtocolUDPLite:
		return layers.LayerTypeUDPLite
	case layers.IPProtocolSCTP:
		return layers.LayerTypeSCTP
	case layers.IPProtocolICMPv4:
		return layers.LayerTypeICMPv4
	case layers.IPProtocolIPv4:
		return layers.LayerTypeIPv4
	case layers.IPProtocolIPv6:
		return layers.LayerTypeIPv6
	}
	if !v6 {
		return gopacket.LayerTypeZero
	}
	switch p {
	case layers.IPProtocolICMPv6:
		return layers.LayerTypeICMPv6
	case layers.IPProtocolIPv6HopByHop:
		return layers.LayerTypeIPv6HopByHop
	case layers.IPProtocolIPv6Routing:
		return layers.LayerTypeIPv6Routing
	case layers.IPProtocolIPv6Destination:
		return layers.LayerTypeIPv6Destination
	case layers.IPProtocolIPv6Fragment:
		return layers.LayerTypeIPv6Fragment
	}
	return gopacket.LayerTypeZero
}

// ipv4Layer is layers.IPv4 recording the header's addresses and checksum
// for Anonymize and, for the outer header, the Summary fields. Addresses
// are recorded as soon as their bytes are there, even when the rest of the
// header turns out malformed: an address left in clear is worse than a
// rewritten broken packet.
type ipv4Layer struct {
	layers.IPv4
	d *Decoder
}

func (l *ipv4Layer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	d := l.d
	d.cur = data
	if len(data) > 0 && data[0]>>4 != 4 {
		d.hardErr = true
		return errVersion
	}
	if err := d.enterIP(); err != nil {
		return err
	}
	rw := &d.s.rw
	base := d.offset(data)
	hs := int8(-1)
	if len(data) >= 12 {
		hs = rw.addSum(base+10, sumPlain, -1)
	}
	d.ip = ipCtx{src: -1, dst: -1}
	if len(data) >= 16 {
		d.ip.src = rw.addAddr(base+12, 4, d.role(roleSrc), hs)
	}
	if len(data) >= 20 {
		d.ip.dst = rw.addAddr(base+16, 4, d.role(roleDst), hs)
	}
	if d.nIP == 1 && len(data) >= 20 && data[0]&0x0f >= 5 {
		s := d.s
		s.IPVersion = 4
		copy(s.Src[:4], data[12:16])
		copy(s.Dst[:4], data[16:20])
		s.IPLen = int(binary.BigEndian.Uint16(data[2:4]))
		if s.IPLen == 0 {
			// TCP segmentation offload: the length is left to the NIC.
			// gopacket takes the captured length, so do we.
			s.IPLen = len(data)
		}
		if s.IPLen > len(data) {
			s.Truncated = true
		}
		s.Proto = data[9]
		ff := binary.BigEndian.Uint16(data[6:8])
		if ff&0x3fff != 0 { // MF or offset
			s.Fragment = true
			s.MoreFragments = ff&0x2000 != 0
			s.FragOffset = ff & 0x1fff * 8
			s.FragID = uint32(binary.BigEndian.Uint16(data[4:6]))
		}
	}
	return l.IPv4.DecodeFromBytes(data, df)
}

func (l *ipv4Layer) NextLayerType() gopacket.LayerType {
	if l.FragOffset != 0 {
		return gopacket.LayerTypeZero // no transport header in later fragments
	}
	return ipNext(l.Protocol, false)
}

// ipv6Layer is layers.IPv6 recording addresses and Summary fields like
// ipv4Layer. Extension headers, hop-by-hop included, are decoded by
// ipv6ExtLayer.
type ipv6Layer struct {
	layers.IPv6
	d *Decoder
}

func (l *ipv6Layer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	d := l.d
	d.cur = data
	if len(data) > 0 && data[0]>>4 != 6 {
		d.hardErr = true
		return errVersion
	}
	if err := d.enterIP(); err != nil {
		return err
	}
	rw := &d.s.rw
	base := d.offset(data)
	d.ip = ipCtx{v6: true, src: -1, dst: -1}
	if len(data) >= 24 {
		d.ip.src = rw.addAddr(base+8, 16, d.role(roleSrc))
	}
	if len(data) >= 40 {
		d.ip.dst = rw.addAddr(base+24, 16, d.role(roleDst))
	}
	outer := d.nIP == 1 && len(data) >= 40
	if outer {
		s := d.s
		s.IPVersion = 6
		s.Src = [16]byte(data[8:24])
		s.Dst = [16]byte(data[24:40])
		s.IPLen = 40 + int(binary.BigEndian.Uint16(data[4:6]))
		if s.IPLen > len(data) {
			s.Truncated = true
		}
		s.Proto = data[6]
	}
	if len(data) >= 40 && layers.IPProtocol(data[6]) == layers.IPProtocolIPv6HopByHop {
		// gopacket decodes hop-by-hop options itself and allocates for
		// each; leave them to ipv6ExtLayer (MLD and router alerts are
		// common enough to be worth it).
		l.decodeFixed(data, df)
		if outer && l.Length == 0 { // jumbogram: the length is in an option
			d.s.IPLen = len(data)
		}
		return nil
	}
	return l.IPv6.DecodeFromBytes(data, df)
}

// decodeFixed decodes the 40-byte fixed header (len(data) >= 40) and
// leaves extension headers to the next layers.
func (l *ipv6Layer) decodeFixed(data []byte, df gopacket.DecodeFeedback) {
	l.Version = data[0] >> 4
	l.TrafficClass = uint8(binary.BigEndian.Uint16(data[0:2]) >> 4)
	l.FlowLabel = binary.BigEndian.Uint32(data[0:4]) & 0x000fffff
	l.Length = binary.BigEndian.Uint16(data[4:6])
	l.NextHeader = layers.IPProtocol(data[6])
	l.HopLimit = data[7]
	l.SrcIP, l.DstIP = data[8:24], data[24:40]
	l.HopByHop = nil
	end := 40 + int(l.Length)
	if l.Length == 0 || end > len(data) {
		if l.Length != 0 {
			df.SetTruncated()
		}
		end = len(data)
	}
	l.BaseLayer = layers.BaseLayer{Contents: data[:40], Payload: data[40:end]}
}

func (l *ipv6Layer) NextLayerType() gopacket.LayerType {
	if l.HopByHop != nil {
		return ipNext(l.HopByHop.NextHeader, true)
	}
	return ipNext(l.NextHeader, true)
}

// ipv6ExtLayer decodes one IPv6 extension header (hop-by-hop after the
// first, routing, destination options, fragment) without allocating:
// gopacket v1.1.19 allocates per option and its routing and fragment
// headers are not DecodingLayers. One instance per layer type, since a
// DecodingLayer is not told which type it decodes.
type ipv6ExtLayer struct {
	layers.BaseLayer
	typ     gopacket.LayerType
	next    layers.IPProtocol
	fragOff uint16
	d       *Decoder
}

func (l *ipv6ExtLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	d := l.d
	d.cur = data
	l.fragOff = 0
	hl := 8
	if l.typ != layers.LayerTypeIPv6Fragment {
		if len(data) < 2 {
			df.SetTruncated()
			return errShortExt
		}
		hl = (int(data[1]) + 1) * 8
	}
	if len(data) < hl {
		df.SetTruncated()
		return errShortExt
	}
	l.next = layers.IPProtocol(data[0])
	outer := d.nIP == 1
	if l.typ == layers.LayerTypeIPv6Fragment {
		fo := binary.BigEndian.Uint16(data[2:4])
		l.fragOff = fo & 0xfff8
		if outer {
			s := d.s
			s.Fragment = true
			s.FragOffset = l.fragOff
			s.MoreFragments = fo&1 != 0
			s.FragID = binary.BigEndian.Uint32(data[4:8])
		}
	}
	if outer {
		d.s.Proto = data[0]
	}
	l.BaseLayer = layers.BaseLayer{Contents: data[:hl], Payload: data[hl:]}
	return nil
}

func (l *ipv6ExtLayer) CanDecode() gopacket.LayerClass { return l.typ }

func (l *ipv6ExtLayer) NextLayerType() gopacket.LayerType {
	if l.fragOff != 0 {
		return gopacket.LayerTypeZero
	}
	return ipNext(l.next, true)
}

// transport records, before the gopacket layer checks the rest of the
// header, what a transport header gives: ports (or ICMP type and code) and
// TCP flags for the outer IP packet's transport, and the checksum that
// covers the IP pseudo-header. Reading them first keeps them when a
// snaplen cut the header short.
func (d *Decoder) transport(data []byte, proto layers.IPProtocol) {
	d.cur = data
	if d.nIP == 1 {
		s := d.s
		switch proto {
		case layers.IPProtocolTCP, layers.IPProtocolUDP, layers.IPProtocolSCTP, layers.IPProtocolUDPLite:
			if len(data) >= 4 {
				s.HasPorts = true
				s.SrcPort = binary.BigEndian.Uint16(data[0:2])
				s.DstPort = binary.BigEndian.Uint16(data[2:4])
			}
			if proto == layers.IPProtocolTCP && len(data) >= 14 {
				s.TCPFlags = data[13]
			}
		case layers.IPProtocolICMPv4, layers.IPProtocolICMPv6:
			if len(data) >= 2 {
				s.HasPorts = true
				s.DstPort = uint16(data[0])<<8 | uint16(data[1])
			}
		}
	}
	at, kind := pseudoSum(proto, d.ip.v6)
	if at < 0 || len(data) < at+2 {
		return
	}
	rw := &d.s.rw
	d.l4sum = rw.addSum(d.offset(data)+at, kind, -1)
	rw.cover(d.ip.src, d.l4sum)
	rw.cover(d.ip.dst, d.l4sum)
}

// Transport layers: gopacket's decoders with the ports and checksum
// recorded first, and decoding ending there (payloads are not ours).

type tcpLayer struct {
	layers.TCP
	d *Decoder
}

func (l *tcpLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	l.d.transport(data, layers.IPProtocolTCP)
	return l.TCP.DecodeFromBytes(data, df)
}

func (l *tcpLayer) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }

type udpLayer struct {
	layers.UDP
	d *Decoder
}

func (l *udpLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	l.d.transport(data, layers.IPProtocolUDP)
	return l.UDP.DecodeFromBytes(data, df)
}

func (l *udpLayer) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }

// udpLiteLayer decodes the UDP-Lite header (gopacket v1.1.19's UDPLite is
// not a DecodingLayer).
type udpLiteLayer struct {
	layers.BaseLayer
	d *Decoder
}

func (l *udpLiteLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	l.d.transport(data, layers.IPProtocolUDPLite)
	if len(data) < 8 {
		df.SetTruncated()
		return errShortUDPL
	}
	l.BaseLayer = layers.BaseLayer{Contents: data[:8], Payload: data[8:]}
	return nil
}

func (l *udpLiteLayer) CanDecode() gopacket.LayerClass    { return layers.LayerTypeUDPLite }
func (l *udpLiteLayer) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }

type sctpLayer struct {
	layers.SCTP
	d *Decoder
}

func (l *sctpLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	l.d.transport(data, layers.IPProtocolSCTP)
	return l.SCTP.DecodeFromBytes(data, df)
}

func (l *sctpLayer) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }

type icmpv4Layer struct {
	layers.ICMPv4
	d *Decoder
}

func (l *icmpv4Layer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	l.d.transport(data, layers.IPProtocolICMPv4)
	if err := l.ICMPv4.DecodeFromBytes(data, df); err != nil {
		return err
	}
	l.d.icmpv4Body(data)
	return nil
}

func (l *icmpv4Layer) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }

type icmpv6Layer struct {
	layers.ICMPv6
	d *Decoder
}

func (l *icmpv6Layer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	l.d.transport(data, layers.IPProtocolICMPv6)
	if err := l.ICMPv6.DecodeFromBytes(data, df); err != nil {
		return err
	}
	// ipNext follows ICMPv6 only over IPv6, so transport recorded its
	// checksum (with the pseudo-header) when it was captured.
	l.d.icmpv6Body(data, l.d.l4sum)
	return nil
}

func (l *icmpv6Layer) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }
