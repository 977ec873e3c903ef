package main

import (
	"bufio"
	"fmt"
	"io"
	"math/bits"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Shape of the traffic mix. The numbers are meant to look like the uplink
// of a campus or small ISP: a few elephant flows carry a large part of the
// packets, most flows are short.
const (
	// maxClients is the largest (and default) number of client hosts;
	// clientPorts ephemeral ports (32768–60999) per client make every
	// 5-tuple unique for up to Clients*clientPorts flows.
	maxClients  = 4096
	clientPorts = 28232
	// maxServers is the largest (and default) number of server hosts.
	maxServers = 762
	// flowsPerLong: one long flow (TCP transfer or UDP stream) per so many
	// flows, at least two when there are 20 flows or more.
	flowsPerLong = 5000
	// longSharePct of the packets go to long flows, unless the short flows
	// need more (too many flows for the packets) or cannot use them all
	// (too few flows), in which case long flows get the rest.
	longSharePct = 50
	// longTCPPct of the long flows' packets are TCP, the rest UDP.
	longTCPPct = 70
	minLongTCP = 16
	minLongUDP = 8
	// fragPPM of the IPv4 DNS responses are large and fragmented.
	fragPPM = 10_000
	// fillerWindow is the range of offsets into the filler payload block.
	fillerWindow = 16384
	maxFrame     = ethLen + vlanLen + ipv6Len + udpLen + 1452 // 1518
)

// Stats summarises a generated trace. Flows are counted by kind so a test
// or a user can compare them with what a flow meter reports.
type Stats struct {
	Packets       int64     // packets written
	Bytes         int64     // bytes on the wire (sum of frame lengths)
	CapturedBytes int64     // bytes in the file (sum of capture lengths)
	Fragments     int64     // IPv4 fragments (first and non-first)
	Flows         int       // all flows; equals Config.Flows
	TCPFlows      int       // TCP connections (long and short)
	UDPFlows      int       // DNS exchanges and long UDP streams
	ICMPFlows     int       // ping sessions
	LongFlows     int       // long TCP transfers and long UDP streams
	IPv6Flows     int       // flows over IPv6
	VLANFlows     int       // flows whose frames carry an 802.1Q tag
	First         time.Time // timestamp of the first packet
	Last          time.Time // timestamp of the last packet
}

// Generator writes synthetic traces. It is built by New, which plans the
// flows without I/O, and is not safe for concurrent use.
type Generator struct {
	cfg                Config
	v6PPM, vlanPPM     int
	tcpPermille        int // short flows that are TCP connections, per mille
	dnsPermille        int // short flows that are DNS exchanges, per mille
	nLong, nLongTCP    int
	nSmall             int
	smallSpan          int64 // µs over which short flows start
	extraNum, extraDen int64 // short flows' optional packets are scaled by num/den
	long               []flow
	filler             []byte
	now                int64 // time of the packet being built, µs since Start
	buf                [maxFrame + 64]byte
	dgram              [4096]byte
}

// New validates cfg and plans the trace: how many packets each flow gets so
// that the trace has exactly cfg.Packets packets in cfg.Flows flows.
func New(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	g := &Generator{
		cfg:     cfg,
		v6PPM:   int(cfg.IPv6Share*1e6 + 0.5),
		vlanPPM: int(cfg.VLANShare*1e6 + 0.5),
		// The shares are rounded to per mille, as the mix has always been.
		tcpPermille: int(cfg.TCPShare*1000 + 0.5),
		dnsPermille: int(cfg.DNSShare*1000 + 0.5),
		extraNum:    1,
		extraDen:    1,
	}
	g.nLong = 1
	if cfg.Flows >= 20 {
		g.nLong = max(2, cfg.Flows/flowsPerLong)
	}
	g.nLongTCP = (g.nLong + 1) / 2
	g.nSmall = cfg.Flows - g.nLong
	span := cfg.Duration.Microseconds()
	g.smallSpan = span - min(5_000_000, span/10) // let the last ones finish

	// Pass 1: what the short flows need and would like.
	var f flow
	var base, extra int64
	for i := range g.nSmall {
		g.planSmall(&f, i)
		base += int64(f.base)
		extra += int64(f.extra)
	}
	nLongUDP := g.nLong - g.nLongTCP
	longMin := int64(g.nLongTCP*minLongTCP + nLongUDP*minLongUDP)
	packets := int64(cfg.Packets)
	if base+longMin > packets {
		return nil, fmt.Errorf("%d flows need at least %d packets with this traffic mix, not %d",
			cfg.Flows, base+longMin, packets)
	}
	avail := max(packets-base-max(longMin, packets*longSharePct/100), 0)
	if extra > avail {
		g.extraNum, g.extraDen = avail, extra
	}
	// Pass 2: the short flows' packets once scaled; long flows get the rest.
	var small int64
	for i := range g.nSmall {
		g.planSmall(&f, i)
		small += int64(f.total)
	}
	g.long = make([]flow, g.nLong)
	for j := range g.long {
		g.planLong(&g.long[j], j)
	}
	rest := packets - small
	tcp := rest
	if nLongUDP > 0 {
		tcp = min(max(rest*longTCPPct/100, int64(g.nLongTCP*minLongTCP)), rest-int64(nLongUDP*minLongUDP))
	}
	distribute(g.long[:g.nLongTCP], tcp, minLongTCP)
	distribute(g.long[g.nLongTCP:], rest-tcp, minLongUDP)
	for j := range g.long {
		l := &g.long[j]
		l.gap = max(l.gap/int64(l.total), 1) // gap held the flow's span
		if l.kind == kindLongUDP && l.sub == subRTP {
			l.gap = min(l.gap, 10_000) // 20 ms per direction
		}
	}

	fr := newRNG(cfg.Seed, 1<<62)
	g.filler = make([]byte, fillerWindow+1600)
	for i := range g.filler {
		g.filler[i] = byte(fr.next())
	}
	return g, nil
}

// distribute gives each flow min packets plus a share of the rest of budget
// by the weight planLong left in extra.
func distribute(flows []flow, budget int64, minPackets int) {
	if len(flows) == 0 {
		return
	}
	var w int64
	for i := range flows {
		w += int64(flows[i].extra)
	}
	rest := budget - int64(len(flows)*minPackets)
	given := int64(0)
	for i := range flows {
		n := rest * int64(flows[i].extra) / w
		flows[i].total = minPackets + int(n)
		given += n
	}
	flows[0].total += int(rest - given)
}

// endpoints fills in the addresses, ports and per-side state of a flow
// from its id and random stream. Clients are in 10.0.0.0/8 and
// 2001:db8:c1::/48, servers in the IPv4 documentation ranges and
// 2001:db8:5e::/48; clustered, all are in 10.1.0.0/16 and 2001:db8:1::/48
// (clients in the lower half of the last 16 bits, servers in the upper).
func (g *Generator) endpoints(f *flow, server int) {
	r := &f.rng
	nc := g.cfg.Clients
	c := f.id % nc
	// For a given client, the port is a bijection of id/Clients (7919 is
	// prime to clientPorts), so no two flows share a 5-tuple.
	f.cli.port = uint16(32768 + (f.id/nc*7919+c*13)%clientPorts)
	f.cli.mac = [6]byte{0x02, 0xc1, 0, 0, byte(c >> 8), byte(c)}
	f.srv.mac = [6]byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01} // the gateway
	if g.cfg.Clustered {
		host := uint16(c + 1)
		peer := uint16(0x8000 + server + 1)
		if server < 0 {
			peer = 0xff53 // the resolver
		}
		if f.v6 {
			f.cli.ip = [16]byte{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 14: byte(host >> 8), 15: byte(host)}
			f.srv.ip = [16]byte{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 14: byte(peer >> 8), 15: byte(peer)}
		} else {
			f.cli.ip = [16]byte{10, 1, byte(host >> 8), byte(host)}
			f.srv.ip = [16]byte{10, 1, byte(peer >> 8), byte(peer)}
		}
	} else if f.v6 {
		f.cli.ip = [16]byte{0x20, 0x01, 0x0d, 0xb8, 0x00, 0xc1, 0, byte(c >> 8), 14: 0x10, 15: byte(c)}
		if server < 0 { // a resolver
			f.srv.ip = [16]byte{0x20, 0x01, 0x0d, 0xb8, 14: 0x00, 15: 0x53}
		} else {
			f.srv.ip = [16]byte{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x5e, 13: 1, 14: byte(server >> 8), 15: byte(server)}
		}
	} else {
		f.cli.ip = [16]byte{10, byte(1 + c>>8), byte(c), byte(2 + c%250)}
		switch {
		case server < 0:
			f.srv.ip = [16]byte{192, 0, 2, 53}
		case server < 254:
			f.srv.ip = [16]byte{192, 0, 2, byte(1 + server)}
		case server < 508:
			f.srv.ip = [16]byte{198, 51, 100, byte(1 + server - 254)}
		default:
			f.srv.ip = [16]byte{203, 0, 113, byte(1 + server - 508)}
		}
	}
	f.cli.ttl = 64
	if c%3 == 0 {
		f.cli.ttl = 128
	}
	switch r.intn(3) {
	case 0:
		f.srv.ttl = uint8(64 - r.between(3, 20))
	case 1:
		f.srv.ttl = uint8(128 - r.between(3, 20))
	default:
		f.srv.ttl = uint8(255 - r.between(3, 20))
	}
	for _, e := range [2]*endpoint{&f.cli, &f.srv} {
		v := r.next()
		e.ipID = uint16(v)
		e.label = uint32(v>>16) & 0xfffff
		e.seq = uint32(v >> 32)
		v = r.next()
		e.tsOff = uint32(v)
		e.win = uint16(500 + (v>>32)%3000)
	}
	if r.ppm(g.vlanPPM) {
		f.vlan = [4]uint16{10, 20, 30, 100}[c%4]
	}
	f.rtt = int64(r.between(1_000, 40_000))
	if r.intn(10) == 0 {
		f.rtt = int64(r.between(40_000, 300_000)) // far away
	}
}

// server picks a server index in [0,n), popular ones more often.
func server(r *rng, n int) int {
	u := int64(r.intn(1000))
	return int(int64(n) * u * u * u / 1_000_000_000)
}

// planLong plans long flow j (flow id j). Its packet count is set by New;
// until then extra holds its weight and gap its span.
func (g *Generator) planLong(f *flow, j int) {
	*f = flow{id: j, rng: newRNG(g.cfg.Seed, uint64(j))}
	r := &f.rng
	f.v6 = int64(j+1)*int64(g.v6PPM)/1e6 > int64(j)*int64(g.v6PPM)/1e6
	f.df = true
	g.endpoints(f, server(r, g.cfg.Servers))
	d := g.cfg.Duration.Microseconds()
	f.next = int64(r.next() % uint64(d/4))
	f.gap = d - f.next - int64(r.next()%uint64(d/8))
	f.extra = r.between(1, 4)
	if j < g.nLongTCP {
		f.kind = kindLongTCP
		if r.intn(100) < 20 {
			f.sub = subUpload
		}
		f.srv.port = 443
		if r.intn(100) < 25 {
			f.srv.port = 80
		}
		f.reqLen = r.between(200, 600)
		return
	}
	f.kind = kindLongUDP
	if j%3 == 2 { // one stream in three is RTP, the others QUIC
		f.sub = subRTP
	}
	f.srv.port = 443
	if f.sub == subRTP {
		f.df = false
		f.srv.port = uint16(16384 + 2*r.intn(8192))
		v := r.next()
		f.ssrc = [2]uint32{uint32(v), uint32(v >> 32)}
		v = r.next()
		f.rtpSeq = [2]uint16{uint16(v), uint16(v >> 16)}
	}
}

// planSmall plans short flow i (flow id nLong+i). It draws from the flow's
// own random stream only, so passes over the plan and the generation agree.
func (g *Generator) planSmall(f *flow, i int) {
	id := g.nLong + i
	*f = flow{id: id, rng: newRNG(g.cfg.Seed, uint64(id))}
	r := &f.rng
	// Start times are non-decreasing in i: flow i starts in the i-th slice
	// of the span.
	n := uint64(g.nSmall)
	hi, lo := bits.Mul64(uint64(i), uint64(g.smallSpan))
	start, _ := bits.Div64(hi, lo, n)
	f.next = int64(start) + int64(r.next()%(uint64(g.smallSpan)/n+1))
	f.v6 = r.ppm(g.v6PPM)
	switch x := r.intn(1000); {
	case x < g.tcpPermille:
		f.kind = kindShortTCP
		f.df = true
		g.endpoints(f, server(r, g.cfg.Servers))
		closing := 3
		switch x := r.intn(100); {
		case x < 45:
			f.sub, closing = closeServerFIN, 2
		case x < 75:
			f.sub = closeClientFIN
		default:
			f.sub, closing = closeRST, 1
		}
		switch x := r.intn(100); {
		case x < 75:
			f.srv.port = 443
			f.reqLen = r.between(100, 1200)
		case x < 95:
			f.srv.port = 80
			f.reqLen = r.between(150, 700)
		default:
			f.srv.port = 8443
			f.reqLen = r.between(100, 1200)
		}
		switch x := r.intn(100); {
		case x < 35:
		case x < 70:
			f.extra = r.between(1, 4)
		case x < 92:
			f.extra = r.between(5, 14)
		default:
			f.extra = r.between(15, 60)
		}
		f.base = 3 + 2 + closing
		f.extra = int(int64(f.extra) * g.extraNum / g.extraDen)
		f.dataN = 2 + f.extra
		f.left = f.dataN
	case x < g.tcpPermille+g.dnsPermille:
		f.kind = kindDNS
		g.endpoints(f, -1)
		f.srv.port = 53
		f.frag = !f.v6 && r.ppm(fragPPM) && !g.cfg.Tiny
		f.edns = f.frag || r.intn(100) < 70
		f.aaaa = r.intn(100) < 40
		f.dnsID = uint16(r.next())
		f.nAns = r.between(1, 6)
		f.base = 2
		if f.frag {
			f.nAns = r.between(6, 10)
			f.base = 3
		}
	default:
		f.kind = kindICMP
		f.df = true
		g.endpoints(f, server(r, g.cfg.Servers))
		f.icmpID = uint16(r.next())
		f.base = 2
		f.extra = 2 * r.between(0, 4)
		f.extra = int(int64(f.extra)*g.extraNum/g.extraDen) &^ 1
	}
	f.total = f.base + f.extra
}

// flowHeap orders active flows by the time of their next packet, then by
// id, so the output does not depend on anything but the plan.
type flowHeap []*flow

func before(a, b *flow) bool {
	return a.next < b.next || a.next == b.next && a.id < b.id
}

func (h *flowHeap) push(f *flow) {
	*h = append(*h, f)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !before(s[i], s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

// down restores the order after the first flow's time moved forward.
func (h flowHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && before(h[r], h[l]) {
			m = r
		}
		if !before(h[m], h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func (h *flowHeap) pop() *flow {
	s := *h
	f := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s[n] = nil
	*h = s[:n]
	h.down(0)
	return f
}

// Generate writes the trace to w as a pcap file with Ethernet link type and
// returns what it wrote. Calling it again writes the same bytes.
func (g *Generator) Generate(w io.Writer) (Stats, error) {
	var st Stats
	bw := bufio.NewWriterSize(w, 1<<20)
	pw := pcapgo.NewWriter(bw)
	snaplen := defaultSnaplen
	if g.cfg.Snaplen > 0 {
		snaplen = g.cfg.Snaplen
	}
	if err := pw.WriteFileHeader(uint32(snaplen), layers.LinkTypeEthernet); err != nil {
		return st, fmt.Errorf("unable to write the pcap file header: %w", err)
	}
	longs := make([]flow, len(g.long))
	copy(longs, g.long)
	h := make(flowHeap, 0, 4096)
	count := func(f *flow) {
		st.Flows++
		switch f.kind {
		case kindLongTCP, kindShortTCP:
			st.TCPFlows++
		case kindICMP:
			st.ICMPFlows++
		default:
			st.UDPFlows++
		}
		if f.kind <= kindLongUDP {
			st.LongFlows++
		}
		if f.v6 {
			st.IPv6Flows++
		}
		if f.vlan != 0 {
			st.VLANFlows++
		}
	}
	for j := range longs {
		h.push(&longs[j])
		count(&longs[j])
	}
	var free []*flow
	var pending *flow
	admitted := 0
	if g.nSmall > 0 {
		pending = new(flow)
		g.planSmall(pending, 0)
	}
	for range g.cfg.Packets {
		for pending != nil && (len(h) == 0 || !before(h[0], pending)) {
			h.push(pending)
			count(pending)
			admitted++
			pending = nil
			if admitted < g.nSmall {
				if n := len(free); n > 0 {
					pending, free = free[n-1], free[:n-1]
				} else {
					pending = new(flow)
				}
				g.planSmall(pending, admitted)
			}
		}
		if len(h) == 0 {
			return st, fmt.Errorf("internal error: no flow left after %d packets", st.Packets)
		}
		f := h[0]
		ts := g.cfg.Start.Add(time.Duration(f.next) * time.Microsecond)
		n := g.emit(f)
		if f.kind == kindDNS && f.frag && f.sent > 1 {
			st.Fragments++
		}
		capLen := n
		if g.cfg.Snaplen > 0 && capLen > g.cfg.Snaplen {
			capLen = g.cfg.Snaplen
		}
		ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: capLen, Length: n}
		if err := pw.WritePacket(ci, g.buf[:capLen]); err != nil {
			return st, fmt.Errorf("unable to write packet %d: %w", st.Packets+1, err)
		}
		if st.Packets == 0 {
			st.First = ts
		}
		st.Last = ts
		st.Packets++
		st.Bytes += int64(n)
		st.CapturedBytes += int64(capLen)
		if f.sent == f.total {
			h.pop()
			if f.kind != kindLongTCP && f.kind != kindLongUDP {
				free = append(free, f)
			}
		} else {
			h.down(0)
		}
	}
	if len(h) != 0 || pending != nil {
		return st, fmt.Errorf("internal error: %d flows unfinished after %d packets", len(h), st.Packets)
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("unable to write the trace: %w", err)
	}
	return st, nil
}
