package web

import (
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/deviceapi"
)

// mustRE compiles a test's regular expression.
func mustRE(s string) *regexp.Regexp { return regexp.MustCompile(s) }

// htmlUnescape reads text out of a page.
func htmlUnescape(s string) string { return html.UnescapeString(s) }

func TestSortFlows(t *testing.T) {
	flows := []amapi.FlowRow{
		{FlowEntry: deviceapi.FlowEntry{Src: "10.0.0.9", Dst: "192.0.2.1", SrcPort: 5, DstPort: 80, Proto: 6, Packets: 5, Bytes: 100, RevBytes: 900, StartMS: 30, EndMS: 40}},
		{FlowEntry: deviceapi.FlowEntry{Src: "10.0.0.10", Dst: "192.0.2.2", SrcPort: 9, DstPort: 53, Proto: 17, Packets: 50, Bytes: 600, StartMS: 10, EndMS: 90}},
		{FlowEntry: deviceapi.FlowEntry{Src: "2001:db8::1", Dst: "192.0.2.3", SrcPort: 1, DstPort: 443, Proto: 1, Packets: 7, Bytes: 700, StartMS: 20, EndMS: 21}},
	}
	srcs := func(f []amapi.FlowRow) []string {
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
			f := append([]amapi.FlowRow(nil), flows...)
			sortFlows(f, tc.key, tc.dir)
			if got := srcs(f); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("order (-got, +want):\n-%v\n+%v", got, tc.want)
			}
		})
	}
}

func TestFillSeries(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	t1 := t0.Add(500 * time.Millisecond)
	ms0, ms1 := t0.UnixMilli(), t1.UnixMilli()
	// rates builds the expected protocolRates.
	rates := func(tcp, udp, icmp, other []float64) protocolRates {
		return protocolRates{TCP: tcp, UDP: udp, ICMP: icmp, Other: other}
	}
	cases := []struct {
		name         string
		rows         []amapi.CounterRow
		times        []int64
		pps, bps     protocolRates
		unclassified []float64
	}{
		{
			name:  "no rows: empty arrays, not nulls",
			times: []int64{},
			pps:   rates([]float64{}, []float64{}, []float64{}, []float64{}),
			bps:   rates([]float64{}, []float64{}, []float64{}, []float64{}),
		}, {
			name: "two devices summed per interval, bytes by protocol",
			rows: []amapi.CounterRow{
				{CounterEntry: deviceapi.CounterEntry{Time: t0, Packets: 6, Bytes: 1000, TCPPackets: 4, UDPPackets: 2,
					TCPBytes: 800, UDPBytes: 200}, Device: "a", Interface: "eth0"},
				{CounterEntry: deviceapi.CounterEntry{Time: t0, Packets: 2, Bytes: 500, ICMPPackets: 1, OtherPackets: 1,
					ICMPBytes: 100, OtherBytes: 400}, Device: "b", Interface: "eth1"},
				{CounterEntry: deviceapi.CounterEntry{Time: t1, Packets: 3, Bytes: 250, TCPPackets: 3, TCPBytes: 250}, Device: "b", Interface: "eth1"},
			},
			times: []int64{ms0, ms1},
			pps:   rates([]float64{8, 6}, []float64{4, 0}, []float64{2, 0}, []float64{2, 0}),
			bps:   rates([]float64{12800, 4000}, []float64{3200, 0}, []float64{1600, 0}, []float64{6400, 0}),
		}, {
			name: "counters without bytes by protocol are unclassified",
			rows: []amapi.CounterRow{
				{CounterEntry: deviceapi.CounterEntry{Time: t0, Packets: 6, Bytes: 1000, TCPPackets: 4, UDPPackets: 2}, Device: "a", Interface: "eth0"},
				{CounterEntry: deviceapi.CounterEntry{Time: t1, Packets: 1, Bytes: 100, TCPPackets: 1}, Device: "a", Interface: "eth0"},
			},
			times:        []int64{ms0, ms1},
			pps:          rates([]float64{8, 2}, []float64{4, 0}, []float64{0, 0}, []float64{0, 0}),
			bps:          rates([]float64{0, 0}, []float64{0, 0}, []float64{0, 0}, []float64{0, 0}),
			unclassified: []float64{16000, 1600},
		}, {
			name: "an old device beside a new one, unclassified from the second interval",
			rows: []amapi.CounterRow{
				{CounterEntry: deviceapi.CounterEntry{Time: t0, Packets: 1, Bytes: 100, UDPPackets: 1, UDPBytes: 100}, Device: "new", Interface: "eth0"},
				{CounterEntry: deviceapi.CounterEntry{Time: t1, Packets: 1, Bytes: 100, UDPPackets: 1, UDPBytes: 100}, Device: "new", Interface: "eth0"},
				{CounterEntry: deviceapi.CounterEntry{Time: t1, Packets: 1, Bytes: 50, UDPPackets: 1}, Device: "old", Interface: "eth0"},
			},
			times:        []int64{ms0, ms1},
			pps:          rates([]float64{0, 0}, []float64{2, 4}, []float64{0, 0}, []float64{0, 0}),
			bps:          rates([]float64{0, 0}, []float64{1600, 1600}, []float64{0, 0}, []float64{0, 0}),
			unclassified: []float64{0, 800},
		},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d %s", i, tc.name), func(t *testing.T) {
			out := counterSeries{IntervalMS: 500}
			fillSeries(&out, tc.rows, nil)
			out.Devices = nil // TestFillSeriesDevices
			want := counterSeries{IntervalMS: 500, Times: tc.times, PPS: tc.pps}
			want.BPS.protocolRates, want.BPS.Unclassified = tc.bps, tc.unclassified
			if !reflect.DeepEqual(out, want) {
				t.Errorf("series (-got, +want):\n-%+v\n+%+v", out, want)
			}
		})
	}
}

// TestFillSeriesJSON checks the shape the charts read: bps by protocol
// like pps, unclassified only when some counters lack bytes by protocol.
func TestFillSeriesJSON(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	for _, tc := range []struct {
		name string
		row  amapi.CounterRow
		want string
	}{
		{
			name: "bytes by protocol",
			row: amapi.CounterRow{CounterEntry: deviceapi.CounterEntry{Time: t0, Packets: 1, Bytes: 125, TCPPackets: 1, TCPBytes: 125},
				Device: "tap1", Interface: "lo"},
			want: `{"state":"","interval_ms":1000,"times":[1700000000000],` +
				`"pps":{"tcp":[1],"udp":[0],"icmp":[0],"other":[0]},` +
				`"bps":{"tcp":[1000],"udp":[0],"icmp":[0],"other":[0]},` +
				`"devices":[{"name":"tap1:lo","pps":{"tcp":[1],"udp":[0],"icmp":[0],"other":[0]},"bps":[1000]}]}`,
		}, {
			name: "older counters",
			row: amapi.CounterRow{CounterEntry: deviceapi.CounterEntry{Time: t0, Packets: 1, Bytes: 125, TCPPackets: 1},
				Device: "tap1", Interface: "lo"},
			want: `{"state":"","interval_ms":1000,"times":[1700000000000],` +
				`"pps":{"tcp":[1],"udp":[0],"icmp":[0],"other":[0]},` +
				`"bps":{"tcp":[0],"udp":[0],"icmp":[0],"other":[0],"unclassified":[1000]},` +
				`"devices":[{"name":"tap1:lo","pps":{"tcp":[1],"udp":[0],"icmp":[0],"other":[0]},"bps":[1000]}]}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := counterSeries{IntervalMS: 1000}
			fillSeries(&out, []amapi.CounterRow{tc.row}, nil)
			got, err := json.Marshal(&out)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("JSON:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestFillSeriesDevices: one series per device interface, in the
// experiment's order, null where a device has no counters, the same
// JSON shape with one device as with two.
func TestFillSeriesDevices(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	t1, t2 := t0.Add(500*time.Millisecond), t0.Add(time.Second)
	row := func(at time.Time, dev string, tcp, udp, bytes uint64) amapi.CounterRow {
		return amapi.CounterRow{CounterEntry: deviceapi.CounterEntry{Time: at, Packets: tcp + udp, Bytes: bytes,
			TCPPackets: tcp, UDPPackets: udp}, Device: dev, Interface: "eth0"}
	}
	for _, tc := range []struct {
		name  string
		rows  []amapi.CounterRow
		order []string
		want  string
	}{
		{
			name:  "no rows",
			want:  `[]`,
			order: []string{"a:eth0"},
		}, {
			name: "b starts later and ends earlier; the experiment lists b first",
			rows: []amapi.CounterRow{row(t0, "a", 1, 0, 100), row(t1, "a", 2, 1, 200), row(t1, "b", 0, 3, 50), row(t2, "a", 0, 0, 0)},
			// The rates are per 500 ms interval: twice the counts per second.
			order: []string{"b:eth0", "a:eth0"},
			want: `[{"name":"b:eth0","pps":{"tcp":[null,0,null],"udp":[null,6,null],"icmp":[null,0,null],"other":[null,0,null]},"bps":[null,800,null]},` +
				`{"name":"a:eth0","pps":{"tcp":[2,4,0],"udp":[0,2,0],"icmp":[0,0,0],"other":[0,0,0]},"bps":[1600,3200,0]}]`,
		}, {
			name:  "a device not in the order comes after",
			rows:  []amapi.CounterRow{row(t0, "x", 1, 0, 10), row(t0, "a", 1, 0, 10)},
			order: []string{"a:eth0"},
			want: `[{"name":"a:eth0","pps":{"tcp":[2],"udp":[0],"icmp":[0],"other":[0]},"bps":[160]},` +
				`{"name":"x:eth0","pps":{"tcp":[2],"udp":[0],"icmp":[0],"other":[0]},"bps":[160]}]`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := counterSeries{IntervalMS: 500}
			fillSeries(&out, tc.rows, tc.order)
			got, err := json.Marshal(out.Devices)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("devices:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestFillSeriesCap(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	var rows []amapi.CounterRow
	for i := range maxChartPoints + 10 {
		rows = append(rows, amapi.CounterRow{CounterEntry: deviceapi.CounterEntry{Time: t0.Add(time.Duration(i) * time.Second),
			Packets: 1, Bytes: 10, OtherPackets: 1, OtherBytes: uint64(i % 2 * 10)}}) // odd rows classified, even ones not
	}
	out := counterSeries{IntervalMS: 1000}
	fillSeries(&out, rows, nil)
	for name, n := range map[string]int{
		"times": len(out.Times), "pps.other": len(out.PPS.Other), "bps.tcp": len(out.BPS.TCP),
		"bps.other": len(out.BPS.Other), "bps.unclassified": len(out.BPS.Unclassified),
		"devices[0].bps": len(out.Devices[0].BPS), "devices[0].pps.tcp": len(out.Devices[0].PPS.TCP),
	} {
		if n != maxChartPoints {
			t.Errorf("%s has %d points, want %d", name, n, maxChartPoints)
		}
	}
	if first := t0.Add(10 * time.Second).UnixMilli(); len(out.Times) > 0 && out.Times[0] != first {
		t.Errorf("first time %d, want %d (the latest points are kept)", out.Times[0], first)
	}
	if len(out.BPS.Other) > 1 && (out.BPS.Other[0] != 0 || out.BPS.Other[1] != 80 ||
		out.BPS.Unclassified[0] != 80 || out.BPS.Unclassified[1] != 0) {
		t.Errorf("bps other %v, unclassified %v: not aligned with the times", out.BPS.Other[:2], out.BPS.Unclassified[:2])
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

// TestStatusStopPending: the status fragment marks a device whose stop is
// pending (SPEC §9) and shows its error.
func TestStatusStopPending(t *testing.T) {
	tmpl, err := template.New("error.html").Funcs(funcs()).ParseFS(templateFS,
		"templates/layout.html", "templates/partials.html", "templates/error.html")
	if err != nil {
		t.Fatal(err)
	}
	msg := "stop pending: device tap2 did not answer StopExperiment"
	d := amapi.DeviceStatus{Device: "tap2", Interface: "eth0", State: "running", StopPending: true, Errors: []string{msg}}
	v := view{Data: statusView{ID: 1, S: amapi.Status{ID: 1, State: "done", Devices: []amapi.DeviceStatus{d}},
		Devices: []deviceRow{{DeviceStatus: d}}}}
	var b strings.Builder
	if err := tmpl.ExecuteTemplate(&b, "status", v); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, ">stop pending</small>") || !strings.Contains(out, msg) {
		t.Errorf("status fragment without the pending stop:\n%s", out)
	}
}

func TestPseudoInterface(t *testing.T) {
	for name, want := range map[string]bool{
		"bluetooth-monitor": true, "dbus-system": true, "nflog": true, "nfqueue": true, "usbmon0": true,
		"eth0": false, "lo": false, "any": false, "file:trace.pcap": false, "wlan0": false, "enp0s3": false,
	} {
		if got := pseudoInterface(name); got != want {
			t.Errorf("pseudoInterface(%q) = %t, want %t", name, got, want)
		}
	}
}
