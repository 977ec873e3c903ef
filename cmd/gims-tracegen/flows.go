package main

import (
	"encoding/binary"
	"strconv"
)

// kind is the traffic pattern of a flow.
type kind uint8

const (
	// kindLongTCP is a bulk transfer: handshake, a request, thousands of
	// MSS-sized segments, a stretch ACK every third segment (as a receiver
	// with GRO sends), FIN close.
	kindLongTCP kind = iota
	// kindLongUDP is a long UDP stream: QUIC-like (large datagrams one way,
	// small acknowledgements back) or RTP-like (small packets both ways at
	// a constant rate).
	kindLongUDP
	// kindShortTCP is a web-like connection: handshake, one or more
	// request/response exchanges, then FIN or RST.
	kindShortTCP
	// kindDNS is a DNS query and its response, sometimes a large response
	// fragmented by IPv4.
	kindDNS
	// kindICMP is a ping: echo requests and replies one second apart.
	kindICMP
)

// Close modes of short TCP connections.
const (
	closeServerFIN = iota // FIN on the last response segment, client FIN, server ACK
	closeClientFIN        // client FIN, server FIN, client ACK
	closeRST              // client RST after the last response
)

// Sub-kinds of long flows.
const (
	subDownload = 0 // long TCP: data from the server
	subUpload   = 1 // long TCP: data from the client
	subQUIC     = 0 // long UDP: QUIC-like
	subRTP      = 1 // long UDP: RTP-like
)

// TCP option layouts.
const (
	optNone = iota
	optSYN  // MSS, SACK permitted, timestamps, NOP, window scale: 20 bytes
	optTS   // NOP, NOP, timestamps: 12 bytes
)

// Payload contents.
const (
	bodyFiller = iota
	bodyHTTPRequest
	bodyHTTPResponse
)

// flow is the state of one flow: its plan (fixed when it is created) and
// its progress. Flows are generated lazily, one packet at a time, so memory
// holds only the flows active at the current simulated time.
type flow struct {
	id    int
	kind  kind
	sub   uint8
	v6    bool
	df    bool   // IPv4 don't-fragment bit on unfragmented packets
	vlan  uint16 // 802.1Q tag control information, 0 when untagged
	cli   endpoint
	srv   endpoint
	total int   // packets in the flow
	sent  int   // packets emitted so far
	next  int64 // time of the next packet, µs since the start of the trace
	gap   int64 // long flows: mean gap between packets, µs
	rtt   int64 // round-trip time between the capture point and the server, µs
	rng   rng

	base  int // small flows: packets the pattern cannot do without
	extra int // small flows: optional packets (exchanges, echoes), scaled by the plan

	// Short TCP.
	dataN   int  // packets of the data phase (requests, responses, ACKs)
	left    int  // data-phase packets still to send
	k       int  // segments of the current response, 0 between exchanges
	seg     int  // segments of the current response already sent
	acked   bool // the current pair of segments has been acknowledged
	lastLen int  // payload of the last segment of the current response
	reqLen  int  // payload of requests

	// DNS.
	dnsID uint16
	nAns  int  // answer records
	frag  bool // the response is fragmented (IPv4 only)
	edns  bool
	aaaa  bool

	// ICMP echo identifier; RTP SSRCs and sequence numbers per direction.
	icmpID uint16
	ssrc   [2]uint32
	rtpSeq [2]uint16
}

// ends returns the sender and receiver of a packet.
func (f *flow) ends(fromClient bool) (src, dst *endpoint) {
	if fromClient {
		return &f.cli, &f.srv
	}
	return &f.srv, &f.cli
}

// mss is the payload of a full-size segment with the timestamps option in a
// 1500-byte MTU: frames of 1514 bytes (1518 with a VLAN tag).
func (f *flow) mss() int {
	if f.v6 {
		return 1500 - ipv6Len - tcpLen - 12
	}
	return 1500 - ipv4Len - tcpLen - 12
}

// emit writes the next packet of f into g.buf, advances f (its packet count
// and the time of its next packet) and returns the frame length. Builders
// read the packet's own time from g.now.
func (g *Generator) emit(f *flow) int {
	g.now = f.next
	var n int
	switch f.kind {
	case kindLongTCP:
		n = g.emitLongTCP(f)
	case kindShortTCP:
		n = g.emitShortTCP(f)
	case kindDNS:
		n = g.emitDNS(f)
	case kindICMP:
		n = g.emitICMP(f)
	default:
		n = g.emitLongUDP(f)
	}
	f.sent++
	return n
}

func (g *Generator) emitLongTCP(f *flow) int {
	i, p := f.sent, f.total
	fromSender := f.sub == subUpload // client sends the data
	r := &f.rng
	switch {
	case i == 0:
		f.next += f.rtt
		return g.tcp(f, true, tcpSYN, 0, optSYN, bodyFiller)
	case i == 1:
		f.next += int64(r.between(20, 120))
		return g.tcp(f, false, tcpSYN|tcpACK, 0, optSYN, bodyFiller)
	case i == 2:
		f.next += int64(r.between(50, 500))
		return g.tcp(f, true, tcpACK, 0, optTS, bodyFiller)
	case i == 3:
		f.next += f.rtt + int64(r.between(1000, 20000))
		body := bodyFiller
		if f.srv.port == 80 {
			body = bodyHTTPRequest
		}
		return g.tcp(f, true, tcpPSH|tcpACK, f.reqLen, optTS, body)
	case i < p-3:
		f.next += r.jitter(f.gap)
		j := i - 4
		if j%4 == 3 {
			return g.tcp(f, !fromSender, tcpACK, 0, optTS, bodyFiller)
		}
		body := bodyFiller
		if j == 0 && f.srv.port == 80 && f.sub == subDownload {
			body = bodyHTTPResponse
		}
		flags := uint8(tcpACK)
		if i == p-4 {
			flags |= tcpPSH
		}
		return g.tcp(f, fromSender, flags, f.mss(), optTS, body)
	case i == p-3:
		f.next += int64(r.between(100, 2000))
		return g.tcp(f, fromSender, tcpFIN|tcpACK, 0, optTS, bodyFiller)
	case i == p-2:
		f.next += f.rtt
		return g.tcp(f, !fromSender, tcpFIN|tcpACK, 0, optTS, bodyFiller)
	default:
		return g.tcp(f, fromSender, tcpACK, 0, optTS, bodyFiller)
	}
}

// Payload caps of Config.Tiny: an IPv4 frame without a VLAN tag is then
// 60 bytes, the Ethernet minimum.
const (
	tinyTCP      = minFrame - ethLen - ipv4Len - tcpLen // 6
	tinyDatagram = minFrame - ethLen - ipv4Len - udpLen // 18, for UDP and ICMP echo
)

// exchangeCost is the number of packets of a request answered by k
// segments, the client acknowledging every second segment but the last.
func exchangeCost(k int) int { return 1 + k + (k-1)/2 }

func (g *Generator) emitShortTCP(f *flow) int {
	i := f.sent
	r := &f.rng
	switch {
	case i == 0:
		f.next += f.rtt
		return g.tcp(f, true, tcpSYN, 0, optSYN, bodyFiller)
	case i == 1:
		f.next += int64(r.between(20, 100))
		return g.tcp(f, false, tcpSYN|tcpACK, 0, optSYN, bodyFiller)
	case i == 2:
		f.next += int64(r.between(100, 2000))
		return g.tcp(f, true, tcpACK, 0, optTS, bodyFiller)
	case i < 3+f.dataN:
		return g.shortTCPData(f)
	}
	c := i - 3 - f.dataN // closing step
	switch f.sub {
	case closeServerFIN: // the server's FIN rode on the last segment
		if c == 0 {
			f.next += f.rtt
			return g.tcp(f, true, tcpFIN|tcpACK, 0, optTS, bodyFiller)
		}
		return g.tcp(f, false, tcpACK, 0, optTS, bodyFiller)
	case closeClientFIN:
		switch c {
		case 0:
			f.next += f.rtt
			return g.tcp(f, true, tcpFIN|tcpACK, 0, optTS, bodyFiller)
		case 1:
			f.next += int64(r.between(20, 100))
			return g.tcp(f, false, tcpFIN|tcpACK, 0, optTS, bodyFiller)
		}
		return g.tcp(f, true, tcpACK, 0, optTS, bodyFiller)
	}
	return g.tcp(f, true, tcpRST|tcpACK, 0, optNone, bodyFiller)
}

// shortTCPData emits one packet of the request/response phase of a short
// TCP connection.
func (g *Generator) shortTCPData(f *flow) int {
	r := &f.rng
	f.left--
	if f.k == 0 { // a new exchange starts with a request
		rest := f.left + 1
		switch rest {
		case 2:
			f.k = 1
		case 3:
			f.k = 2
		default:
			k := 1 + r.intn(12)
			for exchangeCost(k) > rest || rest-exchangeCost(k) == 1 {
				k--
			}
			f.k = k
		}
		f.seg, f.acked = 0, false
		f.lastLen = f.mss()
		if r.intn(100) < 50 {
			f.lastLen = r.between(80, f.mss())
		}
		f.next += f.rtt + int64(r.between(200, 30000))
		body := bodyFiller
		if f.srv.port == 80 {
			body = bodyHTTPRequest
		}
		return g.tcp(f, true, tcpPSH|tcpACK, f.reqLen, optTS, body)
	}
	if f.seg > 0 && f.seg%2 == 0 && f.seg < f.k && !f.acked {
		f.acked = true
		f.next += int64(r.between(10, 100))
		return g.tcp(f, true, tcpACK, 0, optTS, bodyFiller)
	}
	body := bodyFiller
	if f.seg == 0 && f.srv.port == 80 {
		body = bodyHTTPResponse
	}
	plen, flags := f.mss(), uint8(tcpACK)
	f.seg++
	f.acked = false
	if f.seg < f.k {
		f.next += int64(r.between(10, 120))
		return g.tcp(f, false, flags, plen, optTS, body)
	}
	// Last segment of the response.
	plen = f.lastLen
	flags |= tcpPSH
	f.k = 0
	switch {
	case f.left > 0: // the user thinks, then asks again
		f.next += int64(r.between(1000, 800_000))
	case f.sub == closeServerFIN:
		flags |= tcpFIN
		f.next += int64(r.between(50, 5000))
	case f.sub == closeClientFIN:
		f.next += int64(r.between(10_000, 3_000_000))
	default:
		f.next += int64(r.between(1000, 1_000_000))
	}
	return g.tcp(f, false, flags, plen, optTS, body)
}

func (g *Generator) emitDNS(f *flow) int {
	switch f.sent {
	case 0:
		f.next += f.rtt + int64(f.rng.between(100, 20000))
		return g.dnsQuery(f)
	case 1:
		f.next += int64(f.rng.between(2, 10))
		return g.dnsResponse(f, 0)
	}
	return g.dnsResponse(f, 1)
}

func (g *Generator) emitICMP(f *flow) int {
	if f.sent%2 == 0 {
		f.next += f.rtt
		return g.icmpEcho(f, true)
	}
	f.next += max(1_000_000-f.rtt, 1000) + int64(f.rng.between(0, 300))
	return g.icmpEcho(f, false)
}

func (g *Generator) emitLongUDP(f *flow) int {
	i := f.sent
	r := &f.rng
	f.next += r.jitter(f.gap)
	if f.sub == subRTP {
		return g.rtp(f, i%2 == 0)
	}
	switch {
	case i == 0:
		return g.quic(f, true, 1252, true)
	case i == 1:
		return g.quic(f, false, 1252, true)
	case (i-2)%5 == 4:
		return g.quic(f, true, r.between(25, 60), false)
	}
	return g.quic(f, false, r.between(1350, 1452), false)
}

// tcp writes a TCP segment and returns the frame length. Sequence and
// acknowledgement numbers follow from the endpoints' state.
func (g *Generator) tcp(f *flow, fromClient bool, flags uint8, plen, opts, body int) int {
	if g.cfg.Tiny {
		opts, plen = optNone, min(plen, tinyTCP)
	}
	src, dst := f.ends(fromClient)
	optLen := 0
	switch opts {
	case optSYN:
		optLen = 20
	case optTS:
		optLen = 12
	}
	hl := tcpLen + optLen
	l4 := hl + plen
	b := g.buf[:]
	off := header(b, f, src, dst, protoTCP, l4, 0, false)
	t := b[off : off+l4]
	binary.BigEndian.PutUint16(t[0:], src.port)
	binary.BigEndian.PutUint16(t[2:], dst.port)
	binary.BigEndian.PutUint32(t[4:], src.seq)
	var ack uint32
	if flags&tcpACK != 0 {
		ack = dst.seq
	}
	binary.BigEndian.PutUint32(t[8:], ack)
	t[12] = byte(hl/4) << 4
	t[13] = flags
	win := src.win
	if flags&tcpSYN != 0 {
		win = uint16(44 * f.mss())
	}
	binary.BigEndian.PutUint16(t[14:], win)
	t[16], t[17], t[18], t[19] = 0, 0, 0, 0
	if opts != optNone {
		tsval := src.tsOff + uint32(g.now/1000) // a 1 ms clock
		src.tsLast = tsval
		var tsecr uint32
		if flags != tcpSYN {
			tsecr = dst.tsLast
		}
		o := t[tcpLen:hl]
		if opts == optSYN {
			o[0], o[1] = 2, 4
			binary.BigEndian.PutUint16(o[2:], uint16(f.mss()+12))
			o[4], o[5] = 4, 2
			o[6], o[7] = 8, 10
			binary.BigEndian.PutUint32(o[8:], tsval)
			binary.BigEndian.PutUint32(o[12:], tsecr)
			o[16], o[17], o[18], o[19] = 1, 3, 3, 7
		} else {
			o[0], o[1], o[2], o[3] = 1, 1, 8, 10
			binary.BigEndian.PutUint32(o[4:], tsval)
			binary.BigEndian.PutUint32(o[8:], tsecr)
		}
	}
	if plen > 0 {
		g.body(f, t[hl:], body)
	}
	binary.BigEndian.PutUint16(t[16:], fold(sum16(t, pseudo(f, src, dst, protoTCP, l4))))
	src.seq += uint32(plen)
	if flags&(tcpSYN|tcpFIN) != 0 {
		src.seq++
	}
	return pad(b, off+l4)
}

// body fills a TCP payload: opaque bytes (TLS-like) or HTTP/1.1 text. p
// has spare capacity in g.buf, so text longer than p spills harmlessly.
func (g *Generator) body(f *flow, p []byte, body int) {
	fill := p
	switch body {
	case bodyHTTPRequest:
		h := append(p[:0], "GET /objects/"...)
		h = strconv.AppendUint(h, uint64(f.id), 16)
		h = append(h, " HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: gims-tracegen\r\nAccept: */*\r\nCookie: "...)
		for len(h) < len(p)-4 {
			h = append(h, 'a'+byte(len(h)%26))
		}
		_ = append(h, "\r\n\r\n"...) // written in place, in p's spare capacity
		return
	case bodyHTTPResponse:
		if len(p) < 200 { // too short for the header: an opaque body
			break
		}
		h := append(p[:0], "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "...)
		h = strconv.AppendUint(h, uint64(f.id%100000)*1000, 10)
		h = append(h, "\r\n\r\n"...)
		fill = p[min(len(h), len(p)):] // a short segment cuts the header

	}
	o := int(f.rng.next() % fillerWindow)
	copy(fill, g.filler[o:o+len(fill)])
}

// udp writes the UDP header and checksum around a payload already in place
// and returns the frame length.
func (g *Generator) udp(f *flow, fromClient bool, plen int) int {
	if g.cfg.Tiny {
		plen = min(plen, tinyDatagram)
	}
	src, dst := f.ends(fromClient)
	l4 := udpLen + plen
	b := g.buf[:]
	off := g.l4off(f)
	header(b, f, src, dst, protoUDP, l4, 0, false)
	u := b[off : off+l4]
	binary.BigEndian.PutUint16(u[0:], src.port)
	binary.BigEndian.PutUint16(u[2:], dst.port)
	binary.BigEndian.PutUint16(u[4:], uint16(l4))
	u[6], u[7] = 0, 0
	sum := fold(sum16(u, pseudo(f, src, dst, protoUDP, l4)))
	if sum == 0 {
		sum = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:], sum)
	return pad(b, off+l4)
}

// l4off is the offset of the transport header in a frame of f.
func (g *Generator) l4off(f *flow) int {
	off := ethLen + ipv4Len
	if f.v6 {
		off = ethLen + ipv6Len
	}
	if f.vlan != 0 {
		off += vlanLen
	}
	return off
}

func (g *Generator) quic(f *flow, fromClient bool, plen int, long bool) int {
	p := g.buf[g.l4off(f)+udpLen:]
	o := int(f.rng.next() % fillerWindow)
	copy(p[:plen], g.filler[o:o+plen])
	if long { // long header, Initial, version 1, 8-byte connection IDs
		p[0] = 0xc3
		binary.BigEndian.PutUint32(p[1:], 1)
		p[5] = 8
		binary.BigEndian.PutUint64(p[6:], uint64(f.id)<<8|1)
		p[14] = 8
		binary.BigEndian.PutUint64(p[15:], uint64(f.id)<<8|2)
	} else { // short header
		p[0] = 0x40 | p[0]&0x1f
		binary.BigEndian.PutUint64(p[1:], uint64(f.id)<<8|1)
	}
	return g.udp(f, fromClient, plen)
}

func (g *Generator) rtp(f *flow, fromClient bool) int {
	d := 0
	if !fromClient {
		d = 1
	}
	p := g.buf[g.l4off(f)+udpLen:]
	p[0], p[1] = 0x80, 0 // version 2, PCMU
	binary.BigEndian.PutUint16(p[2:], f.rtpSeq[d])
	binary.BigEndian.PutUint32(p[4:], uint32(f.rtpSeq[d])*160)
	binary.BigEndian.PutUint32(p[8:], f.ssrc[d])
	f.rtpSeq[d]++
	o := int(f.rng.next() % fillerWindow)
	copy(p[12:172], g.filler[o:o+160])
	return g.udp(f, fromClient, 172)
}

func (g *Generator) icmpEcho(f *flow, request bool) int {
	src, dst := f.ends(request)
	plen := 56
	if g.cfg.Tiny {
		plen = tinyDatagram
	}
	l4 := icmpLen + plen
	b := g.buf[:]
	proto, typ := uint8(protoICMP), uint8(8) // echo request
	switch {
	case f.v6 && request:
		proto, typ = protoICMP6, 128
	case f.v6:
		proto, typ = protoICMP6, 129
	case !request:
		typ = 0 // echo reply
	}
	off := header(b, f, src, dst, proto, l4, 0, false)
	m := b[off : off+l4]
	m[0], m[1], m[2], m[3] = typ, 0, 0, 0
	binary.BigEndian.PutUint16(m[4:], f.icmpID)
	binary.BigEndian.PutUint16(m[6:], uint16(f.sent/2+1))
	// Linux ping data: the send time as a struct timeval, then 0x10, 0x11...
	us := g.now
	if !request {
		us -= f.rtt // the time of the request
	}
	binary.LittleEndian.PutUint64(m[8:], uint64(g.cfg.Start.Unix()+us/1_000_000))
	binary.LittleEndian.PutUint64(m[16:], uint64(us%1_000_000))
	for j := 16; j < plen; j++ {
		m[8+j] = byte(j)
	}
	var acc uint64
	if f.v6 {
		acc = pseudo(f, src, dst, protoICMP6, l4)
	}
	binary.BigEndian.PutUint16(m[2:], fold(sum16(m, acc)))
	return pad(b, off+l4)
}

// dnsZone returns the zone of a query, in wire format; all are reserved
// for documentation.
func dnsZone(id int) string {
	switch id % 4 {
	case 0:
		return "\x07example\x03com"
	case 1:
		return "\x07example\x03net"
	case 2:
		return "\x07example\x03org"
	}
	return "\x03www\x07example\x03com"
}

// dnsMessage writes a DNS query or response for f into p and returns its
// length. The messages are well formed so decoders have nothing to complain
// about; large responses carry TXT records.
func dnsMessage(p []byte, f *flow, response bool) int {
	binary.BigEndian.PutUint16(p[0:], f.dnsID)
	ar := uint16(0)
	if f.edns {
		ar = 1
	}
	an := uint16(0)
	flags := uint16(0x0100) // RD
	if response {
		flags, an = 0x8180, uint16(f.nAns) // QR, RD, RA
	}
	binary.BigEndian.PutUint16(p[2:], flags)
	binary.BigEndian.PutUint16(p[4:], 1)
	binary.BigEndian.PutUint16(p[6:], an)
	binary.BigEndian.PutUint16(p[8:], 0)
	binary.BigEndian.PutUint16(p[10:], ar)
	// Question: h<id>.<zone> A/AAAA/TXT IN.
	label := strconv.AppendUint(append(p[12:13], 'h'), uint64(f.id), 36)
	p[12] = byte(len(label) - 1)
	n := 12 + len(label)
	n += copy(p[n:], dnsZone(f.id))
	p[n] = 0
	n++
	qtype := uint16(1)
	switch {
	case f.frag:
		qtype = 16
	case f.aaaa:
		qtype = 28
	}
	binary.BigEndian.PutUint16(p[n:], qtype)
	binary.BigEndian.PutUint16(p[n+2:], 1)
	n += 4
	if response {
		for a := 0; a < f.nAns; a++ {
			binary.BigEndian.PutUint16(p[n:], 0xc00c) // the question's name
			binary.BigEndian.PutUint16(p[n+2:], qtype)
			binary.BigEndian.PutUint16(p[n+4:], 1)
			binary.BigEndian.PutUint32(p[n+6:], 300)
			n += 10
			switch qtype {
			case 16:
				binary.BigEndian.PutUint16(p[n:], 256)
				p[n+2] = 255
				for j := 0; j < 255; j++ {
					p[n+3+j] = 'a' + byte((j+a)%26)
				}
				n += 2 + 256
			case 28:
				binary.BigEndian.PutUint16(p[n:], 16)
				copy(p[n+2:], []byte{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x5e, 0, 0, 0, 0, 0, 0, 0, 0, byte(a), byte(f.id)})
				n += 2 + 16
			default:
				binary.BigEndian.PutUint16(p[n:], 4)
				copy(p[n+2:], []byte{203, 0, 113, byte(f.id + a)})
				n += 2 + 4
			}
		}
	}
	if f.edns { // OPT pseudo-record: root name, 1232-byte payload, no options
		p[n] = 0
		binary.BigEndian.PutUint16(p[n+1:], 41)
		binary.BigEndian.PutUint16(p[n+3:], 1232)
		binary.BigEndian.PutUint32(p[n+5:], 0)
		binary.BigEndian.PutUint16(p[n+9:], 0)
		n += 11
	}
	return n
}

func (g *Generator) dnsQuery(f *flow) int {
	n := dnsMessage(g.buf[g.l4off(f)+udpLen:], f, false)
	return g.udp(f, true, n)
}

// fragPayload is the IP payload of the first fragment of a fragmented DNS
// response: the largest multiple of 8 fitting a 1500-byte MTU.
const fragPayload = 1480

// dnsResponse writes the response, or part 0 or 1 of a fragmented response.
func (g *Generator) dnsResponse(f *flow, part int) int {
	if !f.frag {
		n := dnsMessage(g.buf[g.l4off(f)+udpLen:], f, true)
		return g.udp(f, false, n)
	}
	// Build the whole datagram, checksum included, then cut it.
	d := g.dgram[:]
	l4 := udpLen + dnsMessage(d[udpLen:], f, true)
	binary.BigEndian.PutUint16(d[0:], f.srv.port)
	binary.BigEndian.PutUint16(d[2:], f.cli.port)
	binary.BigEndian.PutUint16(d[4:], uint16(l4))
	d[6], d[7] = 0, 0
	sum := fold(sum16(d[:l4], pseudo(f, &f.srv, &f.cli, protoUDP, l4)))
	if sum == 0 {
		sum = 0xffff
	}
	binary.BigEndian.PutUint16(d[6:], sum)
	b := g.buf[:]
	if part == 0 {
		off := header(b, f, &f.srv, &f.cli, protoUDP, fragPayload, 0, true)
		return off + copy(b[off:], d[:fragPayload])
	}
	f.srv.ipID-- // the second fragment shares the first one's identification
	off := header(b, f, &f.srv, &f.cli, protoUDP, l4-fragPayload, fragPayload/8, false)
	return pad(b, off+copy(b[off:], d[fragPayload:l4]))
}
