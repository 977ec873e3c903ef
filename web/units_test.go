package web

import (
	"fmt"
	"html"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/gimsproject/gims/am"
)

// mustRE compiles a test's regular expression.
func mustRE(s string) *regexp.Regexp { return regexp.MustCompile(s) }

// htmlUnescape reads text out of a page.
func htmlUnescape(s string) string { return html.UnescapeString(s) }

func TestSortFlows(t *testing.T) {
	flows := []am.FlowRow{
		{Src: "10.0.0.9", Dst: "192.0.2.1", SrcPort: 5, DstPort: 80, Proto: 6, Packets: 5, Bytes: 100, RevBytes: 900, StartMS: 30, EndMS: 40},
		{Src: "10.0.0.10", Dst: "192.0.2.2", SrcPort: 9, DstPort: 53, Proto: 17, Packets: 50, Bytes: 600, StartMS: 10, EndMS: 90},
		{Src: "2001:db8::1", Dst: "192.0.2.3", SrcPort: 1, DstPort: 443, Proto: 1, Packets: 7, Bytes: 700, StartMS: 20, EndMS: 21},
	}
	srcs := func(f []am.FlowRow) []string {
		var out []string
		for _, x := range f {
			out = append(out, x.Src)
		}
		return out
	}
	cases := []struct {
		key, dir string
		want     []string
	}{
		{"bytes", "desc", []string{"10.0.0.9", "2001:db8::1", "10.0.0.10"}},
		{"packets", "desc", []string{"10.0.0.10", "2001:db8::1", "10.0.0.9"}},
		{"src", "asc", []string{"10.0.0.9", "10.0.0.10", "2001:db8::1"}},
		{"dport", "asc", []string{"10.0.0.10", "10.0.0.9", "2001:db8::1"}},
		{"proto", "asc", []string{"2001:db8::1", "10.0.0.9", "10.0.0.10"}},
		{"start", "asc", []string{"10.0.0.10", "2001:db8::1", "10.0.0.9"}},
		{"duration", "desc", []string{"10.0.0.10", "10.0.0.9", "2001:db8::1"}},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%02d %s %s", i, tc.key, tc.dir), func(t *testing.T) {
			f := append([]am.FlowRow(nil), flows...)
			sortFlows(f, tc.key, tc.dir)
			if got := srcs(f); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("order (-got, +want):\n-%v\n+%v", got, tc.want)
			}
		})
	}
}

func TestFillSeries(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	rows := []am.CounterRow{
		{Time: t0, Device: "a", Interface: "eth0", Bytes: 1000, TCPPackets: 4, UDPPackets: 2},
		{Time: t0, Device: "b", Interface: "eth1", Bytes: 500, ICMPPackets: 1, OtherPackets: 1},
		{Time: t0.Add(500 * time.Millisecond), Device: "b", Interface: "eth1", Bytes: 250, TCPPackets: 3},
	}
	out := counterSeries{IntervalMS: 500}
	fillSeries(&out, rows)
	want := counterSeries{IntervalMS: 500, Times: []int64{t0.UnixMilli(), t0.UnixMilli() + 500},
		BPS: []deviceSeries{{Name: "a:eth0", Values: []float64{16000, 0}}, {Name: "b:eth1", Values: []float64{8000, 4000}}}}
	want.PPS.TCP, want.PPS.UDP, want.PPS.ICMP, want.PPS.Other = []float64{8, 6}, []float64{4, 0}, []float64{2, 0}, []float64{2, 0}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("series (-got, +want):\n-%+v\n+%+v", out, want)
	}
}

func TestRateTracker(t *testing.T) {
	now := time.Now()
	r := newRateTracker()
	k := rateKey{1, 0}
	steps := []struct {
		elapsed        float64
		packets, bytes uint64
		pps, bps       float64
	}{
		{0, 0, 0, 0, 0},             // first sample: no rate yet
		{1, 100, 1000, 100, 8000},   // one second later
		{1.2, 150, 1500, 100, 8000}, // too close: the previous rate
		{3, 300, 4000, 100, 12000},  // over two seconds
		{0.5, 10, 100, 0, 0},        // a new job (elapsed went back): start again
	}
	for i, s := range steps {
		pps, bps := r.rate(k, s.elapsed, s.packets, s.bytes, now)
		if pps != s.pps || bps != s.bps {
			t.Errorf("%d: rate = %v pkt/s, %v bit/s; want %v, %v", i, pps, bps, s.pps, s.bps)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for i, tc := range []struct{ in, want string }{
		{"/experiments/3", "/experiments/3"},
		{"//evil.example/x", "/experiments"},
		{"/\\evil.example", "/experiments"},
		{"https://evil.example", "/experiments"},
		{"", "/experiments"},
	} {
		if got := safeNext(tc.in); got != tc.want {
			t.Errorf("%d: safeNext(%q) = %q, want %q", i, tc.in, got, tc.want)
		}
	}
}
