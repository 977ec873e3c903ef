package ipfix

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gimsproject/gims/transform/flow"
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
			top := NewTopFlows(tc.n)
			var all []FlowRow
			for _, i := range rand.New(rand.NewPCG(1, 2)).Perm(tc.flows) {
				r := mkFlow(i, uint64(i%37)*1000+uint64(i))
				top.Add(FlowRowOf(r))
				all = append(all, FlowRowOf(r))
			}
			slices.SortFunc(all, func(a, b FlowRow) int { return compareFlows(&a, &b) })
			want := all[:min(tc.n, len(all))]
			if got := top.Sorted(); !slices.Equal(got, want) {
				t.Errorf("Sorted() (-got, +want):\n-%v\n+%v", got, want)
			}
			top.Reset()
			if got := top.Sorted(); len(got) != 0 {
				t.Errorf("Sorted() after Reset() = %v, want none", got)
			}
		})
	}
}

// TestReadTopFlows writes flows with the exporter and reads them back.
func TestReadTopFlows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flows.ipfix")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(DefaultConfiguration(), NewFileTransport(f))
	if err != nil {
		t.Fatal(err)
	}
	want := NewTopFlows(10000)
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
		want.Add(FlowRowOf(r))
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	got := NewTopFlows(10000)
	n, err := got.Load(path)
	if err != nil || n != 500 {
		t.Fatalf("Load() = %d, %v; want 500 flows", n, err)
	}
	if g, w := got.Sorted(), want.Sorted(); !slices.Equal(g, w) {
		t.Errorf("Load() first rows (-got, +want):\n-%+v\n+%+v", g[:3], w[:3])
	}
	top, err := ReadTopFlows(path, 10)
	if err != nil {
		t.Fatalf("ReadTopFlows() error: %v", err)
	}
	if w := want.Sorted()[:10]; !slices.Equal(top, w) {
		t.Errorf("ReadTopFlows() (-got, +want):\n-%+v\n+%+v", top, w)
	}
	if n, err := got.Load(filepath.Join(t.TempDir(), "missing")); n != 0 || err != nil {
		t.Errorf("Load(missing) = %d, %v; want 0, nil", n, err)
	}
	if rows, err := ReadTopFlows(filepath.Join(t.TempDir(), "missing"), 10); len(rows) != 0 || err != nil {
		t.Errorf("ReadTopFlows(missing) = %v, %v; want none", rows, err)
	}
}

// messages builds consecutive IPFIX message headers with bodies of the
// given lengths.
func messages(bodies ...int) []byte {
	var b []byte
	for _, n := range bodies {
		b = binary.BigEndian.AppendUint16(b, 10)
		b = binary.BigEndian.AppendUint16(b, uint16(16+n))
		b = append(b, make([]byte, 12)...)
		b = append(b, bytes.Repeat([]byte{0xee}, n)...)
	}
	return b
}

func TestWalkMessages(t *testing.T) {
	two := messages(100, 40)
	for _, tc := range []struct {
		name string
		data []byte
		want int64
		msgs int
	}{
		{"complete", two, int64(len(two)), 2},
		{"partial header", two[:116+10], 116, 1},
		{"partial body", two[:len(two)-1], 116, 1},
		{"not a message after", append(slices.Clone(two), 0, 9, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16), int64(len(two)), 2},
		{"length below the header", append(slices.Clone(two), messages(0)[:2]...), int64(len(two)), 2},
		{"empty", nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msgs := 0
			got, err := WalkMessages(bytes.NewReader(tc.data), func([]byte) error { msgs++; return nil })
			if err != nil || got != tc.want || msgs != tc.msgs {
				t.Errorf("WalkMessages() = %d, %v after %d messages; want %d, nil after %d", got, err, msgs, tc.want, tc.msgs)
			}
		})
	}
}

func TestTopFlowsAddAllocs(t *testing.T) {
	top := NewTopFlows(1000)
	for i := range 1000 {
		top.Add(FlowRowOf(mkFlow(i, uint64(i))))
	}
	r := mkFlow(5000, 1<<40)
	if n := testing.AllocsPerRun(1000, func() { top.Add(FlowRowOf(r)) }); n != 0 {
		t.Errorf("TopFlows.Add allocates %v times, want 0", n)
	}
}

// BenchmarkTopFlowsAdd measures what every exported flow costs the results
// bookkeeping, with a full heap.
func BenchmarkTopFlowsAdd(b *testing.B) {
	const n = 10000
	top := NewTopFlows(n)
	recs := make([]*flow.Record, 4096)
	for i := range recs {
		recs[i] = mkFlow(i, uint64(rand.IntN(1<<20)))
	}
	for i := range n {
		top.Add(FlowRowOf(recs[i%len(recs)]))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		top.Add(FlowRowOf(recs[i%len(recs)]))
	}
}
