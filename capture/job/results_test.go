package job

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gimsproject/gims/transform/flow"
	"github.com/gimsproject/gims/transform/ipfix"
)

func mkFlow(i int, bytes uint64) *flow.Record {
	r := &flow.Record{Packets: 1 + bytes/100, Bytes: bytes, RevPackets: 1, RevBytes: 40,
		Start: time.Unix(1700000000, int64(i)*int64(time.Millisecond)), EndReason: flow.EndIdleTimeout}
	r.End = r.Start.Add(time.Second)
	r.Key.IPVersion = 4
	copy(r.Key.Src[:], []byte{10, 0, byte(i >> 8), byte(i)})
	copy(r.Key.Dst[:], []byte{192, 0, 2, 1})
	r.Key.SrcPort, r.Key.DstPort, r.Key.Proto = uint16(1024+i), 443, 6
	return r
}

// TestReadCounters reads counters.csv files as the counters package
// writes them (11 columns), as they were written before the per-protocol
// byte columns (7 columns), and mixed (a job resumed by a newer daemon
// appends 11-column rows to a 7-column file).
func TestReadCounters(t *testing.T) {
	const (
		header7  = "time,packets,bytes,tcp_packets,udp_packets,icmp_packets,other_packets\n"
		header11 = "time,packets,bytes,tcp_packets,udp_packets,icmp_packets,other_packets,tcp_bytes,udp_bytes,icmp_bytes,other_bytes\n"
		row7     = "2024-05-01T12:00:00Z,7,1500,3,2,1,1\n"
		row11    = "2024-05-01T12:00:01.5Z,7,1500,3,2,1,1,1000,300,98,102\n"
	)
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	old := CounterRow{Time: t0, Packets: 7, Bytes: 1500, TCPPackets: 3, UDPPackets: 2, ICMPPackets: 1, OtherPackets: 1}
	cur := old
	cur.Time = t0.Add(1500 * time.Millisecond)
	cur.TCPBytes, cur.UDPBytes, cur.ICMPBytes, cur.OtherBytes = 1000, 300, 98, 102
	for _, tc := range []struct {
		name          string
		content       string
		offset, limit int
		want          []CounterRow
		err           string
	}{
		{name: "11 columns", content: header11 + row11, limit: 10, want: []CounterRow{cur}},
		{name: "7 columns, bytes per protocol left at zero", content: header7 + row7, limit: 10, want: []CounterRow{old}},
		{name: "7-column file resumed with 11-column rows", content: header7 + row7 + row11, limit: 10, want: []CounterRow{old, cur}},
		{name: "offset", content: header11 + row7 + row11, offset: 1, limit: 10, want: []CounterRow{cur}},
		{name: "limit", content: header11 + row7 + row11, limit: 1, want: []CounterRow{old}},
		{name: "partial last row is not read", content: header11 + row11 + row11[:20], limit: 10, want: []CounterRow{cur}},
		{name: "header only", content: header11, limit: 10, want: []CounterRow{}},
		{
			name: "8 columns", content: header11 + "2024-05-01T12:00:00Z,7,1500,3,2,1,1,1000\n", limit: 10,
			err: "counters.csv row 1: want 11 columns (or 7), got 8",
		}, {
			name: "bad byte column", content: header11 + "2024-05-01T12:00:00Z,7,1500,3,2,1,1,1000,300,x,102\n", limit: 10,
			err: `counters.csv row 1: column 10: strconv.ParseUint: parsing "x": invalid syntax`,
		}, {
			name: "bad time", content: header11 + "yesterday,7,1500,3,2,1,1,1000,300,98,102\n", limit: 10,
			err: "counters.csv row 1: bad time",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), countersFile)
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := readCounters(path, tc.offset, tc.limit)
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("readCounters() error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("readCounters() error:\n%+v", err)
			}
			if !slices.EqualFunc(got, tc.want, func(a, b CounterRow) bool {
				return a.Time.Equal(b.Time) && a.Time.Location() == time.UTC && withTime(a, b.Time) == b
			}) {
				t.Errorf("readCounters() (-got, +want):\n-%+v\n+%+v", got, tc.want)
			}
		})
	}
}

// withTime returns r with Time set to t, so that rows compare with ==
// once their times have been compared with Equal.
func withTime(r CounterRow, t time.Time) CounterRow {
	r.Time = t
	return r
}

// TestTopFlows checks that the heap keeps exactly the n largest flows,
// whatever the order they come in.
func TestTopFlows(t *testing.T) {
	for _, tc := range []struct {
		name     string
		n, flows int
	}{
		{"fewer than kept", 10, 5},
		{"as many as kept", 10, 10},
		{"more than kept", 10, 1000},
		{"one kept", 1, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := newTopFlows(tc.n)
			var all []FlowRow
			for _, i := range rand.New(rand.NewPCG(1, 2)).Perm(tc.flows) {
				r := mkFlow(i, uint64(i%37)*1000+uint64(i))
				top.add(flowRow(r))
				all = append(all, flowRow(r))
			}
			slices.SortFunc(all, func(a, b FlowRow) int { return compareFlows(&a, &b) })
			want := all[:min(tc.n, len(all))]
			if got := top.sorted(); !slices.Equal(got, want) {
				t.Errorf("sorted() (-got, +want):\n-%v\n+%v", got, want)
			}
		})
	}
}

// TestLoadFlows writes flows with the ipfix exporter and reads them back.
func TestLoadFlows(t *testing.T) {
	path := filepath.Join(t.TempDir(), flowsFile)
	f := mustCreate(t, path)
	cfg := ipfix.DefaultConfiguration()
	e, err := ipfix.New(cfg, ipfix.NewFileTransport(f))
	if err != nil {
		t.Fatal(err)
	}
	want := newTopFlows(TopFlows)
	for i := range 500 {
		r := mkFlow(i, uint64(i)*10)
		if i%7 == 0 {
			r.Key.IPVersion = 6
			r.Key.Src = netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i)).As16()
			r.Key.Dst = netip.MustParseAddr("2001:db8::1").As16()
		}
		if err := e.Add(r); err != nil {
			t.Fatal(err)
		}
		want.add(flowRow(r))
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	got := newTopFlows(TopFlows)
	n, err := loadFlows(path, got)
	if err != nil || n != 500 {
		t.Fatalf("loadFlows() = %d, %v; want 500 flows", n, err)
	}
	if g, w := got.sorted(), want.sorted(); !slices.Equal(g, w) {
		t.Errorf("loadFlows() first rows (-got, +want):\n-%+v\n+%+v", g[:3], w[:3])
	}
	if n, err := loadFlows(filepath.Join(t.TempDir(), "missing"), got); n != 0 || err != nil {
		t.Errorf("loadFlows(missing) = %d, %v; want 0, nil", n, err)
	}
}

func TestAddAllocs(t *testing.T) {
	top := newTopFlows(1000)
	for i := range 1000 {
		top.add(flowRow(mkFlow(i, uint64(i))))
	}
	r := mkFlow(5000, 1<<40)
	if n := testing.AllocsPerRun(1000, func() { top.add(flowRow(r)) }); n != 0 {
		t.Errorf("topFlows.add allocates %v times, want 0", n)
	}
}

// BenchmarkTopFlowsAdd measures what every exported flow costs the Results
// bookkeeping, with a full heap.
func BenchmarkTopFlowsAdd(b *testing.B) {
	top := newTopFlows(TopFlows)
	recs := make([]*flow.Record, 4096)
	for i := range recs {
		recs[i] = mkFlow(i, uint64(rand.IntN(1<<20)))
	}
	for i := range TopFlows {
		top.add(flowRow(recs[i%len(recs)]))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		top.add(flowRow(recs[i%len(recs)]))
	}
}
