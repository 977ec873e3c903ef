package job

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
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
	cfg := ipfix.DefaultConfig()
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
