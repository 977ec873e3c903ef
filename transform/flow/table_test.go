package flow

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gimsproject/gims/packet"
)

// base is the time the test traffic starts at.
var base = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

const sec = time.Second

// pk describes one test packet; build turns it into a Summary.
type pk struct {
	t          time.Duration
	src, dst   string // "addr" or "addr:port" ("[v6]:port")
	proto      uint8
	flags      uint8
	ipLen      int
	vlan       uint16
	icmp       uint16 // type<<8 | code, for ICMP
	nonIP      bool
	frag       bool
	fragOff    uint16
	fragID     uint32
	noPorts    bool // the decoder found no ports (truncated TCP, GRE...)
	truncated  bool
	malformed  bool
	expireOnly bool // not a packet: Expire(base + t)
}

func parseEnd(tb testing.TB, s string) (netip.Addr, uint16) {
	tb.Helper()
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), ap.Port()
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		tb.Fatalf("bad test address %q: %v", s, err)
	}
	return a, 0
}

func put16(a netip.Addr) (b [16]byte) {
	if a.Is4() {
		v := a.As4()
		copy(b[:], v[:])
		return b
	}
	return a.As16()
}

func (p pk) build(tb testing.TB) packet.Summary {
	tb.Helper()
	s := packet.Summary{Timestamp: base.Add(p.t), WireLen: p.ipLen + 14, CapLen: p.ipLen + 14, VLAN: p.vlan}
	if p.nonIP {
		return s
	}
	src, sport := parseEnd(tb, p.src)
	dst, dport := parseEnd(tb, p.dst)
	s.IPVersion = 4
	if src.Is6() {
		s.IPVersion = 6
	}
	s.Src, s.Dst = put16(src), put16(dst)
	s.IPLen, s.Proto = p.ipLen, p.proto
	s.Truncated, s.Malformed = p.truncated, p.malformed
	first := !p.frag || p.fragOff == 0
	if first && !p.noPorts {
		switch p.proto {
		case protoICMP, protoICMPv6:
			s.HasPorts, s.DstPort = true, p.icmp
		case protoTCP, 17, 132:
			s.HasPorts, s.SrcPort, s.DstPort = true, sport, dport
			if p.proto == protoTCP {
				s.TCPFlags = p.flags
			}
		}
	}
	if p.frag {
		s.Fragment, s.FragOffset, s.FragID = true, p.fragOff, p.fragID
		s.MoreFragments = true
	}
	return s
}

// show renders a record on one line for comparisons.
func show(r *Record) string {
	k := &r.Key
	return fmt.Sprintf("%v %v:%d>%v:%d/%d vlan%d p=%d b=%d rp=%d rb=%d f=%02x rf=%02x %v-%v %v",
		k.IPVersion, k.SrcAddr(), k.SrcPort, k.DstAddr(), k.DstPort, k.Proto, k.VLAN,
		r.Packets, r.Bytes, r.RevPackets, r.RevBytes, r.TCPFlags, r.RevTCPFlags,
		r.Start.Sub(base), r.End.Sub(base), r.EndReason)
}

const (
	syn    = 0x02
	ack    = 0x10
	synack = syn | ack
	fin    = 0x01
	finack = fin | ack
	rst    = 0x04
)

func TestTable(t *testing.T) {
	a, b := "10.0.0.1:40000", "10.0.0.2:80"
	cases := []struct {
		name  string
		cfg   func(*Configuration)
		pkts  []pk
		flush bool // Flush at the end
		want  []string
		stats Stats // compared when non-zero fields are set: see check
	}{
		{
			name: "biflow: first packet's source is Src, reply counted as reverse",
			pkts: []pk{
				{t: 0, src: a, dst: b, proto: 6, flags: syn, ipLen: 60},
				{t: 1 * sec, src: b, dst: a, proto: 6, flags: synack, ipLen: 60},
				{t: 2 * sec, src: a, dst: b, proto: 6, flags: ack, ipLen: 52},
			},
			flush: true,
			want: []string{
				"4 10.0.0.1:40000>10.0.0.2:80/6 vlan0 p=2 b=112 rp=1 rb=60 f=12 rf=12 0s-2s forced",
			},
			stats: Stats{Created: 1, Exported: 1, Packets: 3, Bytes: 172},
		}, {
			name: "biflow: orientation follows the first packet even from the higher address",
			pkts: []pk{
				{t: 0, src: b, dst: a, proto: 17, ipLen: 100},
				{t: 1 * sec, src: a, dst: b, proto: 17, ipLen: 30},
			},
			flush: true,
			want: []string{
				"4 10.0.0.2:80>10.0.0.1:40000/17 vlan0 p=1 b=100 rp=1 rb=30 f=00 rf=00 0s-1s forced",
			},
		}, {
			name: "uni-flow mode: one flow per direction",
			cfg:  func(c *Configuration) { c.Biflow = false },
			pkts: []pk{
				{t: 0, src: a, dst: b, proto: 17, ipLen: 100},
				{t: 1 * sec, src: b, dst: a, proto: 17, ipLen: 30},
				{t: 2 * sec, src: a, dst: b, proto: 17, ipLen: 100},
			},
			flush: true,
			want: []string{
				"4 10.0.0.2:80>10.0.0.1:40000/17 vlan0 p=1 b=30 rp=0 rb=0 f=00 rf=00 1s-1s forced",
				"4 10.0.0.1:40000>10.0.0.2:80/17 vlan0 p=2 b=200 rp=0 rb=0 f=00 rf=00 0s-2s forced",
			},
			stats: Stats{Created: 2, Exported: 2},
		}, {
			name: "idle timeout ends the flow; the next packet starts a new one",
			cfg:  func(c *Configuration) { c.IdleTimeout = 10 * sec },
			pkts: []pk{
				{t: 0, src: a, dst: b, proto: 17, ipLen: 100},
				{t: 5 * sec, src: b, dst: a, proto: 17, ipLen: 100},
				{t: 15 * sec, src: b, dst: a, proto: 17, ipLen: 50}, // 10s idle: not yet
				{t: 26 * sec, src: b, dst: a, proto: 17, ipLen: 40}, // 11s idle
			},
			flush: true,
			want: []string{
				"4 10.0.0.1:40000>10.0.0.2:80/17 vlan0 p=1 b=100 rp=2 rb=150 f=00 rf=00 0s-15s idle",
				"4 10.0.0.2:80>10.0.0.1:40000/17 vlan0 p=1 b=40 rp=0 rb=0 f=00 rf=00 26s-26s forced",
			},
			stats: Stats{Created: 2, Exported: 2},
		}, {
			name: "idle timeout through another flow's packet and through Expire",
			cfg:  func(c *Configuration) { c.IdleTimeout = 10 * sec },
			pkts: []pk{
				{t: 0, src: a, dst: b, proto: 17, ipLen: 100},
				{t: 1 * sec, src: "10.9.9.9:1", dst: b, proto: 17, ipLen: 10},
				{t: 10500 * time.Millisecond, src: "10.8.8.8:1", dst: b, proto: 17, ipLen: 20},
				{t: 30 * sec, expireOnly: true},
			},
			want: []string{
				"4 10.0.0.1:40000>10.0.0.2:80/17 vlan0 p=1 b=100 rp=0 rb=0 f=00 rf=00 0s-0s idle",
				"4 10.9.9.9:1>10.0.0.2:80/17 vlan0 p=1 b=10 rp=0 rb=0 f=00 rf=00 1s-1s idle",
				"4 10.8.8.8:1>10.0.0.2:80/17 vlan0 p=1 b=20 rp=0 rb=0 f=00 rf=00 10.5s-10.5s idle",
			},
			stats: Stats{Active: 0, Created: 3, Exported: 3},
		}, {
			name: "active timeout splits records; the flow keeps its orientation",
			cfg:  func(c *Configuration) { c.ActiveTimeout = 10 * sec; c.IdleTimeout = 100 * sec },
			pkts: []pk{
				{t: 0, src: a, dst: b, proto: 6, flags: syn, ipLen: 60},
				{t: 4 * sec, src: b, dst: a, proto: 6, flags: synack, ipLen: 60},
				{t: 8 * sec, src: a, dst: b, proto: 6, flags: ack, ipLen: 100},
				{t: 12 * sec, src: b, dst: a, proto: 6, flags: ack, ipLen: 200}, // record 1 is 12s old
				{t: 16 * sec, src: a, dst: b, proto: 6, flags: ack, ipLen: 300},
				{t: 25 * sec, expireOnly: true}, // record 2 started 12s: 13s old
				{t: 30 * sec, src: b, dst: a, proto: 6, flags: ack, ipLen: 400},
			},
			flush: true,
			want: []string{
				"4 10.0.0.1:40000>10.0.0.2:80/6 vlan0 p=2 b=160 rp=1 rb=60 f=12 rf=12 0s-8s active",
				"4 10.0.0.1:40000>10.0.0.2:80/6 vlan0 p=1 b=300 rp=1 rb=200 f=10 rf=10 12s-16s active",
				"4 10.0.0.1:40000>10.0.0.2:80/6 vlan0 p=0 b=0 rp=1 rb=400 f=00 rf=10 30s-30s forced",
			},
			stats: Stats{Created: 1, Exported: 3, Packets: 6, Bytes: 1120},
		}, {
			name: "active-timed-out flow with no further packet goes away silently on idle",
			cfg:  func(c *Configuration) { c.ActiveTimeout = 5 * sec; c.IdleTimeout = 20 * sec },
			pkts: []pk{
				{t: 0, src: a, dst: b, proto: 17, ipLen: 10},
				{t: 3 * sec, src: a, dst: b, proto: 17, ipLen: 10},
				{t: 10 * sec, expireOnly: true},
				{t: 40 * sec, expireOnly: true},
			},
			flush: true,
			want: []string{
				"4 10.0.0.1:40000>10.0.0.2:80/17 vlan0 p=2 b=20 rp=0 rb=0 f=00 rf=00 0s-3s active",
			},
			stats: Stats{Active: 0, Created: 1, Exported: 1},
		}, {
			name: "FIN from both directions ends the flow; the last ACK is a new flow",
			pkts: []pk{
				{t: 0, src: a, dst: b, proto: 6, flags: syn, ipLen: 60},
				{t: 1 * sec, src: b, dst: a, proto: 6, flags: synack, ipLen: 60},
				{t: 2 * sec, src: a, dst: b, proto: 6, flags: finack, ipLen: 52},
				{t: 3 * sec, src: b, dst: a, proto: 6, flags: finack, ipLen: 52},
				{t: 4 * sec, src: a, dst: b, proto: 6, flags: ack, ipLen: 52},
			},
			flush: true,
			want: []string{
				"4 10.0.0.1:40000>10.0.0.2:80/6 vlan0 p=2 b=112 rp=2 rb=112 f=13 rf=13 0s-3s end",
				"4 10.0.0.1:40000>10.0.0.2:80/6 vlan0 p=1 b=52 rp=0 rb=0 f=10 rf=00 4s-4s forced",
			},
			stats: Stats{Created: 2, Exported: 2},
		}, {
			name: "FIN from one direction only does not end a biflow",
			pkts: []pk{
				{t: 0, src: a, dst: b, proto: 6, flags: finack, ipLen: 52},
				{t: 1 * sec, src: a, dst: b, proto: 6, flags: finack, ipLen: 52},
			},
			flush: true,
			want: []string{
				"4 10.0.0.1:40000>10.0.0.2:80/6 vlan0 p=2 b=104 rp=0 rb=0 f=11 rf=00 0s-1s forced",
			},
		}, {
			name: "FIN ends a uni-flow",
			cfg:  func(c *Configuration) { c.Biflow = false },
			pkts: []pk{
				{t: 0, src: a, dst: b, proto: 6, flags: ack, ipLen: 52},
				{t: 1 * sec, src: a, dst: b, proto: 6, flags: finack, ipLen: 52},
				{t: 2 * sec, src: b, dst: a, proto: 6, flags: ack, ipLen: 52},
			},
			flush: true,
			want: []string{
				"4 10.0.0.1:40000>10.0.0.2:80/6 vlan0 p=2 b=104 rp=0 rb=0 f=11 rf=00 0s-1s end",
				"4 10.0.0.2:80>10.0.0.1:40000/6 vlan0 p=1 b=52 rp=0 rb=0 f=10 rf=00 2s-2s forced",
			},
		}, {
			name: "RST in either direction ends the flow",
			pkts: []pk{
				{t: 0, src: a, dst: b, proto: 6, flags: syn, ipLen: 60},
				{t: 1 * sec, src: b, dst: a, proto: 6, flags: rst | ack, ipLen: 40},
			},
			want: []string{
				"4 10.0.0.1:40000>10.0.0.2:80/6 vlan0 p=1 b=60 rp=1 rb=40 f=02 rf=14 0s-1s end",
			},
			stats: Stats{Active: 0, Created: 1, Exported: 1},
		}, {
			name: "FIN state survives an active timeout",
			cfg:  func(c *Configuration) { c.ActiveTimeout = 5 * sec },
			pkts: []pk{
				{t: 0, src: a, dst: b, proto: 6, flags: finack, ipLen: 52},
				{t: 10 * sec, src: b, dst: a, proto: 6, flags: finack, ipLen: 52},
			},
			want: []string{
				"4 10.0.0.1:40000>10.0.0.2:80/6 vlan0 p=1 b=52 rp=0 rb=0 f=11 rf=00 0s-0s active",
				"4 10.0.0.1:40000>10.0.0.2:80/6 vlan0 p=0 b=0 rp=1 rb=52 f=00 rf=11 10s-10s end",
			},
		}, {
			name: "MaxFlows evicts the least recently active flow",
			cfg:  func(c *Configuration) { c.MaxFlows = 2 },
			pkts: []pk{
				{t: 0, src: "10.0.0.1:1", dst: b, proto: 17, ipLen: 10},
				{t: 1 * sec, src: "10.0.0.3:1", dst: b, proto: 17, ipLen: 20},
				{t: 2 * sec, src: "10.0.0.1:1", dst: b, proto: 17, ipLen: 10}, // .3 is now oldest
				{t: 3 * sec, src: "10.0.0.4:1", dst: b, proto: 17, ipLen: 30}, // evicts .3
				{t: 4 * sec, src: "10.0.0.5:1", dst: b, proto: 17, ipLen: 40}, // evicts .1
			},
			flush: true,
			want: []string{
				"4 10.0.0.3:1>10.0.0.2:80/17 vlan0 p=1 b=20 rp=0 rb=0 f=00 rf=00 1s-1s resources",
				"4 10.0.0.1:1>10.0.0.2:80/17 vlan0 p=2 b=20 rp=0 rb=0 f=00 rf=00 0s-2s resources",
				"4 10.0.0.4:1>10.0.0.2:80/17 vlan0 p=1 b=30 rp=0 rb=0 f=00 rf=00 3s-3s forced",
				"4 10.0.0.5:1>10.0.0.2:80/17 vlan0 p=1 b=40 rp=0 rb=0 f=00 rf=00 4s-4s forced",
			},
			stats: Stats{Created: 4, Exported: 4, Evicted: 2},
		}, {
			name: "IPv6 biflow",
			pkts: []pk{
				{t: 0, src: "[2001:db8::2]:5353", dst: "[2001:db8::1]:53", proto: 17, ipLen: 80},
				{t: 1 * sec, src: "[2001:db8::1]:53", dst: "[2001:db8::2]:5353", proto: 17, ipLen: 120},
				{t: 1 * sec, src: "[2001:db8::1]:53", dst: "[2001:db8::3]:5353", proto: 17, ipLen: 120},
			},
			flush: true,
			want: []string{
				"6 2001:db8::2:5353>2001:db8::1:53/17 vlan0 p=1 b=80 rp=1 rb=120 f=00 rf=00 0s-1s forced",
				"6 2001:db8::1:53>2001:db8::3:5353/17 vlan0 p=1 b=120 rp=0 rb=0 f=00 rf=00 1s-1s forced",
			},
		}, {
			name: "VLANs keep the same 5-tuple apart",
			pkts: []pk{
				{t: 0, src: a, dst: b, proto: 17, ipLen: 10, vlan: 10},
				{t: 1 * sec, src: b, dst: a, proto: 17, ipLen: 20, vlan: 20},
				{t: 2 * sec, src: b, dst: a, proto: 17, ipLen: 30, vlan: 10},
			},
			flush: true,
			want: []string{
				"4 10.0.0.2:80>10.0.0.1:40000/17 vlan20 p=1 b=20 rp=0 rb=0 f=00 rf=00 1s-1s forced",
				"4 10.0.0.1:40000>10.0.0.2:80/17 vlan10 p=1 b=10 rp=1 rb=30 f=00 rf=00 0s-2s forced",
			},
		}, {
			name: "ICMP ping is one biflow keyed by the first packet's type",
			pkts: []pk{
				{t: 0, src: "10.0.0.9", dst: "10.0.0.1", proto: 1, icmp: 8 << 8, ipLen: 84},
				{t: 1 * sec, src: "10.0.0.1", dst: "10.0.0.9", proto: 1, icmp: 0, ipLen: 84},
				{t: 2 * sec, src: "10.0.0.9", dst: "10.0.0.1", proto: 1, icmp: 8 << 8, ipLen: 84},
				{t: 3 * sec, src: "10.0.0.1", dst: "10.0.0.9", proto: 1, icmp: 3<<8 | 3, ipLen: 56},
			},
			flush: true,
			want: []string{
				"4 10.0.0.9:0>10.0.0.1:2048/1 vlan0 p=2 b=168 rp=1 rb=84 f=00 rf=00 0s-2s forced",
				"4 10.0.0.1:0>10.0.0.9:771/1 vlan0 p=1 b=56 rp=0 rb=0 f=00 rf=00 3s-3s forced",
			},
		}, {
			name: "ICMPv6 ping seen from its reply",
			pkts: []pk{
				{t: 0, src: "2001:db8::1", dst: "2001:db8::9", proto: 58, icmp: 129 << 8, ipLen: 104},
				{t: 1 * sec, src: "2001:db8::9", dst: "2001:db8::1", proto: 58, icmp: 128 << 8, ipLen: 104},
			},
			flush: true,
			want: []string{
				"6 2001:db8::1:0>2001:db8::9:33024/58 vlan0 p=1 b=104 rp=1 rb=104 f=00 rf=00 0s-1s forced",
			},
		}, {
			name: "uni-flow ping: request and reply apart",
			cfg:  func(c *Configuration) { c.Biflow = false },
			pkts: []pk{
				{t: 0, src: "10.0.0.9", dst: "10.0.0.1", proto: 1, icmp: 8 << 8, ipLen: 84},
				{t: 1 * sec, src: "10.0.0.1", dst: "10.0.0.9", proto: 1, icmp: 0, ipLen: 84},
			},
			flush: true,
			want: []string{
				"4 10.0.0.9:0>10.0.0.1:2048/1 vlan0 p=1 b=84 rp=0 rb=0 f=00 rf=00 0s-0s forced",
				"4 10.0.0.1:0>10.0.0.9:0/1 vlan0 p=1 b=84 rp=0 rb=0 f=00 rf=00 1s-1s forced",
			},
		}, {
			name: "fragments in order join their first fragment's flow",
			pkts: []pk{
				{t: 0, src: "10.0.0.1:5000", dst: "10.0.0.2:53", proto: 17, ipLen: 1500, frag: true, fragID: 7},
				{t: 0, src: "10.0.0.1:5000", dst: "10.0.0.2:53", proto: 17, ipLen: 1500, frag: true, fragID: 7, fragOff: 1480},
				{t: 0, src: "10.0.0.1:5000", dst: "10.0.0.2:53", proto: 17, ipLen: 100, frag: true, fragID: 7, fragOff: 2960},
				{t: 1 * sec, src: "10.0.0.2:53", dst: "10.0.0.1:5000", proto: 17, ipLen: 60},
			},
			flush: true,
			want: []string{
				"4 10.0.0.1:5000>10.0.0.2:53/17 vlan0 p=3 b=3100 rp=1 rb=60 f=00 rf=00 0s-1s forced",
			},
			stats: Stats{Created: 1, Exported: 1, Fragments: 3, FragmentsUnmatched: 0},
		}, {
			name: "fragment before its first goes to the port-0 flow",
			pkts: []pk{
				{t: 0, src: "10.0.0.1:5000", dst: "10.0.0.2:53", proto: 17, ipLen: 100, frag: true, fragID: 7, fragOff: 1480},
				{t: 0, src: "10.0.0.1:5000", dst: "10.0.0.2:53", proto: 17, ipLen: 1500, frag: true, fragID: 7},
				{t: 0, src: "10.0.0.1:5000", dst: "10.0.0.2:53", proto: 17, ipLen: 200, frag: true, fragID: 8, fragOff: 1480},
			},
			flush: true,
			want: []string{
				// Flush goes least recently active first.
				"4 10.0.0.1:5000>10.0.0.2:53/17 vlan0 p=1 b=1500 rp=0 rb=0 f=00 rf=00 0s-0s forced",
				"4 10.0.0.1:0>10.0.0.2:0/17 vlan0 p=2 b=300 rp=0 rb=0 f=00 rf=00 0s-0s forced",
			},
			stats: Stats{Created: 2, Exported: 2, Fragments: 3, FragmentsUnmatched: 2},
		}, {
			name: "fragment after the fragment timeout is unmatched",
			pkts: []pk{
				{t: 0, src: "10.0.0.1:5000", dst: "10.0.0.2:53", proto: 17, ipLen: 1500, frag: true, fragID: 7},
				{t: 31 * sec, src: "10.0.0.1:5000", dst: "10.0.0.2:53", proto: 17, ipLen: 100, frag: true, fragID: 7, fragOff: 1480},
			},
			flush: true,
			want: []string{
				"4 10.0.0.1:5000>10.0.0.2:53/17 vlan0 p=1 b=1500 rp=0 rb=0 f=00 rf=00 0s-0s forced",
				"4 10.0.0.1:0>10.0.0.2:0/17 vlan0 p=1 b=100 rp=0 rb=0 f=00 rf=00 31s-31s forced",
			},
			stats: Stats{Fragments: 2, FragmentsUnmatched: 1},
		}, {
			name: "fragmented ping reply joins the ping",
			pkts: []pk{
				{t: 0, src: "10.0.0.9", dst: "10.0.0.1", proto: 1, icmp: 8 << 8, ipLen: 1500, frag: true, fragID: 1},
				{t: 0, src: "10.0.0.9", dst: "10.0.0.1", proto: 1, ipLen: 600, frag: true, fragID: 1, fragOff: 1480},
				{t: 1 * sec, src: "10.0.0.1", dst: "10.0.0.9", proto: 1, icmp: 0, ipLen: 1500, frag: true, fragID: 2},
				{t: 1 * sec, src: "10.0.0.1", dst: "10.0.0.9", proto: 1, ipLen: 600, frag: true, fragID: 2, fragOff: 1480},
			},
			flush: true,
			want: []string{
				"4 10.0.0.9:0>10.0.0.1:2048/1 vlan0 p=2 b=2100 rp=2 rb=2100 f=00 rf=00 0s-1s forced",
			},
			stats: Stats{Fragments: 4},
		}, {
			name: "non-IP ignored and counted; truncated and malformed counted and accounted",
			pkts: []pk{
				{t: 0, nonIP: true},
				{t: 0, src: a, dst: b, proto: 6, ipLen: 1500, noPorts: true, truncated: true},
				{t: 0, src: "10.0.0.1", dst: "10.0.0.2", proto: 47, ipLen: 100, malformed: true},
				{t: 0, nonIP: true},
			},
			flush: true,
			want: []string{
				"4 10.0.0.1:0>10.0.0.2:0/6 vlan0 p=1 b=1500 rp=0 rb=0 f=00 rf=00 0s-0s forced",
				"4 10.0.0.1:0>10.0.0.2:0/47 vlan0 p=1 b=100 rp=0 rb=0 f=00 rf=00 0s-0s forced",
			},
			stats: Stats{Created: 2, Exported: 2, Packets: 2, Bytes: 1600, NonIP: 2, Truncated: 1, Malformed: 1},
		}, {
			name: "out-of-order packet extends Start backwards",
			pkts: []pk{
				{t: 5 * sec, src: a, dst: b, proto: 17, ipLen: 10},
				{t: 3 * sec, src: b, dst: a, proto: 17, ipLen: 10},
			},
			flush: true,
			want: []string{
				"4 10.0.0.1:40000>10.0.0.2:80/17 vlan0 p=1 b=10 rp=1 rb=10 f=00 rf=00 3s-5s forced",
			},
		}, {
			name: "same host, swapped ports: one biflow",
			pkts: []pk{
				{t: 0, src: "127.0.0.1:9000", dst: "127.0.0.1:8000", proto: 6, flags: syn, ipLen: 60},
				{t: 1 * sec, src: "127.0.0.1:8000", dst: "127.0.0.1:9000", proto: 6, flags: synack, ipLen: 60},
			},
			flush: true,
			want: []string{
				"4 127.0.0.1:9000>127.0.0.1:8000/6 vlan0 p=1 b=60 rp=1 rb=60 f=02 rf=12 0s-1s forced",
			},
		},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d %s", i, tc.name), func(t *testing.T) {
			cfg := DefaultConfiguration()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			var got []string
			tbl, err := New(cfg, func(r *Record) { got = append(got, show(r)) })
			if err != nil {
				t.Fatalf("New() error:\n%+v", err)
			}
			for _, p := range tc.pkts {
				if p.expireOnly {
					tbl.Expire(base.Add(p.t))
					continue
				}
				s := p.build(t)
				tbl.Add(&s)
			}
			if tc.flush {
				tbl.Flush()
				if tbl.Len() != 0 {
					t.Errorf("Len() = %d after Flush, want 0", tbl.Len())
				}
			}
			if diff := diffLines(got, tc.want); diff != "" {
				t.Errorf("records (-got, +want):\n%s", diff)
			}
			checkStats(t, tbl.Stats(), tc.stats)
		})
	}
}

// checkStats compares the fields of want that are set (non-zero), and
// Active always.
func checkStats(t *testing.T, got, want Stats) {
	t.Helper()
	type field struct {
		name      string
		got, want uint64
	}
	fields := []field{
		{"Active", uint64(got.Active), uint64(want.Active)},
		{"Created", got.Created, want.Created},
		{"Exported", got.Exported, want.Exported},
		{"Evicted", got.Evicted, want.Evicted},
		{"Packets", got.Packets, want.Packets},
		{"Bytes", got.Bytes, want.Bytes},
		{"NonIP", got.NonIP, want.NonIP},
		{"Fragments", got.Fragments, want.Fragments},
		{"FragmentsUnmatched", got.FragmentsUnmatched, want.FragmentsUnmatched},
		{"Truncated", got.Truncated, want.Truncated},
		{"Malformed", got.Malformed, want.Malformed},
	}
	for _, f := range fields {
		if (f.want != 0 || f.name == "Active") && f.got != f.want {
			t.Errorf("Stats.%s = %d, want %d", f.name, f.got, f.want)
		}
	}
	// Evicted flows count unconditionally when the row does not set it.
	if want.Evicted == 0 && got.Evicted != 0 {
		t.Errorf("Stats.Evicted = %d, want 0", got.Evicted)
	}
}

func TestNewInvalid(t *testing.T) {
	export := func(*Record) {}
	cases := []struct {
		name   string
		cfg    func(*Configuration)
		export func(*Record)
		want   string
	}{
		{"zero active timeout", func(c *Configuration) { c.ActiveTimeout = 0 }, export,
			"invalid flow configuration: ActiveTimeout must be positive, got 0s"},
		{"negative idle timeout", func(c *Configuration) { c.IdleTimeout = -sec }, export,
			"invalid flow configuration: IdleTimeout must be positive, got -1s"},
		{"zero max flows", func(c *Configuration) { c.MaxFlows = 0 }, export,
			"invalid flow configuration: MaxFlows must be between 1 and 2147483647, got 0"},
		{"too many max flows", func(c *Configuration) { c.MaxFlows = 1 << 31 }, export,
			"invalid flow configuration: MaxFlows must be between 1 and 2147483647, got 2147483648"},
		{"nil export", nil, nil, "invalid flow configuration: nil export function"},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d %s", i, tc.name), func(t *testing.T) {
			cfg := DefaultConfiguration()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			_, err := New(cfg, tc.export)
			if err == nil || err.Error() != tc.want {
				t.Errorf("New() error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	got := DefaultConfiguration()
	want := Configuration{ActiveTimeout: 1800 * sec, IdleTimeout: 300 * sec, Biflow: true, MaxFlows: 1 << 20}
	if got != want {
		t.Errorf("DefaultConfiguration() = %+v, want %+v", got, want)
	}
}

// diffLines returns "" when got equals want, else the differing lines.
func diffLines(got, want []string) string {
	var b strings.Builder
	for i := 0; i < len(got) || i < len(want); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			fmt.Fprintf(&b, "%d: -%q\n%d: +%q\n", i, g, i, w)
		}
	}
	return b.String()
}
