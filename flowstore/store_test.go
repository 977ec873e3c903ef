package flowstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gimsproject/gims/flowfilter"
	"github.com/gimsproject/gims/transform/flow"
	"github.com/gimsproject/gims/transform/ipfix"
)

// testFlows makes n deterministic flows over a few hosts, ports and
// protocols, IPv4 and IPv6.
func testFlows(n int, seed uint64) []*flow.Record {
	rng := rand.New(rand.NewPCG(seed, 1))
	protos := []uint8{6, 17, 1, 58}
	out := make([]*flow.Record, n)
	for i := range out {
		r := &flow.Record{Packets: 1 + rng.Uint64N(50), RevPackets: rng.Uint64N(50), EndReason: flow.EndIdleTimeout,
			Start: time.UnixMilli(1_700_000_000_000 + int64(i)*10).UTC()}
		r.Bytes, r.RevBytes = r.Packets*(40+rng.Uint64N(1400)), r.RevPackets*(40+rng.Uint64N(1400))
		r.End = r.Start.Add(time.Duration(rng.IntN(5000)) * time.Millisecond)
		r.Key.Proto = protos[rng.IntN(len(protos))]
		if r.Key.Proto == 58 {
			r.Key.IPVersion = 6
			r.Key.Src = netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", rng.IntN(8))).As16()
			r.Key.Dst = netip.MustParseAddr(fmt.Sprintf("2001:db8:1::%x", rng.IntN(3))).As16()
		} else {
			r.Key.IPVersion = 4
			copy(r.Key.Src[:], []byte{10, 0, byte(rng.IntN(2)), byte(rng.IntN(20))})
			copy(r.Key.Dst[:], []byte{192, 0, 2, byte(rng.IntN(5))})
		}
		if r.Key.Proto == 6 || r.Key.Proto == 17 {
			r.Key.SrcPort = uint16(1024 + rng.IntN(100))
			r.Key.DstPort = []uint16{53, 80, 443, 8080}[rng.IntN(4)]
		}
		out[i] = r
	}
	return out
}

// writeIPFIX writes flows to path with the exporter.
func writeIPFIX(t testing.TB, path string, recs []*flow.Record) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ipfix.New(ipfix.DefaultConfiguration(), ipfix.NewFileTransport(f))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := e.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

func openStore(t testing.TB) *Store {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "flows.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestIngestIdempotent ingests files again, grown and replaced.
func TestIngestIdempotent(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	dir := t.TempDir()
	recs := testFlows(3000, 1)
	path := filepath.Join(dir, "flows.ipfix")
	src := Source{Position: 0, Name: "flows.ipfix", Device: "tap1", Interface: "eth0"}
	all, _ := flowfilter.Parse("bytes >= 0")
	total := func() int64 {
		res, err := s.Query(ctx, Query{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		// The rollup (no filter) agrees with a pass over the flows.
		for _, k := range GroupKeys {
			rolled, err1 := s.Query(ctx, Query{GroupBy: []string{k}})
			scanned, err2 := s.Query(ctx, Query{GroupBy: []string{k}, Filter: all})
			if err1 != nil || err2 != nil || fmt.Sprint(rolled) != fmt.Sprint(scanned) {
				t.Fatalf("by %s: rollup %v (%v) != scan %v (%v)", k, rolled, err1, scanned, err2)
			}
			past, err := s.Query(ctx, Query{GroupBy: []string{k}, Offset: 1 << 20})
			if err != nil || past.Total != scanned.Total {
				t.Fatalf("by %s past the end: total %d, %v; want %d", k, past.Total, err, scanned.Total)
			}
		}
		return res.Total
	}
	writeIPFIX(t, path, recs[:1000])
	if n, err := s.Ingest(ctx, src, path); err != nil || n != 1000 {
		t.Fatalf("first Ingest = %d, %v; want 1000", n, err)
	}
	if n, err := s.Ingest(ctx, src, path); err != nil || n != 0 {
		t.Fatalf("Ingest of the same file = %d, %v; want 0", n, err)
	}
	writeIPFIX(t, path, recs) // the file grew: same first records
	if n, err := s.Ingest(ctx, src, path); err != nil || n != 2000 {
		t.Fatalf("Ingest of the grown file = %d, %v; want 2000", n, err)
	}
	if got := total(); got != 3000 {
		t.Errorf("total after growing = %d, want 3000", got)
	}
	writeIPFIX(t, path, recs[:10]) // another, shorter file
	if n, err := s.Ingest(ctx, src, path); err != nil || n != 10 {
		t.Fatalf("Ingest of a shorter file = %d, %v; want 10", n, err)
	}
	if got := total(); got != 10 {
		t.Errorf("total after a shorter file = %d, want 10", got)
	}
	other := Source{Position: 1, Name: "flows.ipfix", Device: "tap2", Interface: "eth1"}
	if n, err := s.Ingest(ctx, other, path); err != nil || n != 10 {
		t.Fatalf("Ingest of a second device = %d, %v; want 10", n, err)
	}
	if got := total(); got != 20 {
		t.Errorf("total with two devices = %d, want 20", got)
	}
	if n, err := s.Ingest(ctx, src, filepath.Join(dir, "missing")); n != 0 || err != nil {
		t.Errorf("Ingest(missing) = %d, %v", n, err)
	}
}

// group is a Go aggregation of flows, independent of SQL.
type group struct {
	key                   string
	flows, packets, bytes int64
}

func aggregate(recs []*flow.Record, f *flowfilter.Filter, key func(*flow.Record) string) []group {
	m := map[string]*group{}
	for _, r := range recs {
		fl := flowfilter.Flow{Src: r.Key.SrcAddr(), Dst: r.Key.DstAddr(), SrcPort: r.Key.SrcPort, DstPort: r.Key.DstPort,
			Proto: r.Key.Proto, Packets: r.Packets + r.RevPackets, Bytes: r.Bytes + r.RevBytes}
		if !f.Match(&fl) {
			continue
		}
		k := key(r)
		g := m[k]
		if g == nil {
			g = &group{key: k}
			m[k] = g
		}
		g.flows++
		g.packets += int64(r.Packets + r.RevPackets)
		g.bytes += int64(r.Bytes + r.RevBytes)
	}
	var out []group
	for _, g := range m {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b group) int { return cmp.Or(cmp.Compare(b.bytes, a.bytes), cmp.Compare(a.key, b.key)) })
	return out
}

// TestQueryGroups compares grouped queries with a Go pass over the flows.
func TestQueryGroups(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	recs := testFlows(5000, 2)
	path := filepath.Join(t.TempDir(), "flows.ipfix")
	writeIPFIX(t, path, recs)
	if _, err := s.Ingest(ctx, Source{Name: "flows.ipfix", Device: "tap1"}, path); err != nil {
		t.Fatal(err)
	}
	keys := map[string]func(*flow.Record) string{
		"src":   func(r *flow.Record) string { return r.Key.SrcAddr().String() },
		"dst":   func(r *flow.Record) string { return r.Key.DstAddr().String() },
		"dport": func(r *flow.Record) string { return fmt.Sprint(r.Key.DstPort) },
		"proto": func(r *flow.Record) string { return fmt.Sprint(r.Key.Proto) },
	}
	rowKey := map[string]func(*Row) string{
		"src":   func(r *Row) string { return r.Src.String() },
		"dst":   func(r *Row) string { return r.Dst.String() },
		"dport": func(r *Row) string { return fmt.Sprint(r.DstPort) },
		"proto": func(r *Row) string { return fmt.Sprint(r.Proto) },
	}
	for _, filter := range []string{"", "tcp", "net 10.0.1.0/24 and bytes > 20k", "dst port 443 or icmp6", "not host 192.0.2.3"} {
		f, err := flowfilter.Parse(filter)
		if err != nil {
			t.Fatal(err)
		}
		for name, key := range keys {
			want := aggregate(recs, f, key)
			res, err := s.Query(ctx, Query{Filter: f, GroupBy: []string{name}, Limit: 1000})
			if err != nil {
				t.Fatalf("%q by %s: %v", filter, name, err)
			}
			if res.Total != int64(len(want)) {
				t.Errorf("%q by %s: total %d, want %d", filter, name, res.Total, len(want))
			}
			var got []group
			for _, r := range res.Rows {
				got = append(got, group{key: rowKey[name](&r), flows: r.Flows, packets: r.Packets, bytes: r.Bytes})
			}
			slices.SortStableFunc(got, func(a, b group) int { return cmp.Or(cmp.Compare(b.bytes, a.bytes), cmp.Compare(a.key, b.key)) })
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%q by %s (-got, +want):\n-%v\n+%v", filter, name, got, want)
			}
			for i := 1; i < len(res.Rows); i++ {
				if res.Rows[i].Bytes > res.Rows[i-1].Bytes {
					t.Errorf("%q by %s: rows not by bytes descending at %d", filter, name, i)
				}
			}
		}
	}
}

// TestQueryFlows checks flow rows: filter, time bounds, order, paging.
func TestQueryFlows(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	recs := testFlows(2000, 3)
	path := filepath.Join(t.TempDir(), "flows.ipfix")
	writeIPFIX(t, path, recs)
	if _, err := s.Ingest(ctx, Source{Name: "flows.ipfix", Device: "tap1", Interface: "eth0"}, path); err != nil {
		t.Fatal(err)
	}
	from, to := recs[500].Start, recs[1500].Start
	f, _ := flowfilter.Parse("udp and dst port 53")
	var want []*flow.Record
	for _, r := range recs {
		if r.Key.Proto == 17 && r.Key.DstPort == 53 && !r.Start.Before(from) && !ipfixMillis(r.End).After(to) {
			want = append(want, r)
		}
	}
	slices.SortStableFunc(want, func(a, b *flow.Record) int { return a.Start.Compare(b.Start) })
	var got []Row
	for off := 0; ; off += 7 {
		res, err := s.Query(ctx, Query{Filter: f, From: from, To: to, OrderBy: "start", Limit: 7, Offset: off})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != int64(len(want)) {
			t.Fatalf("total %d, want %d", res.Total, len(want))
		}
		got = append(got, res.Rows...)
		if len(res.Rows) < 7 {
			break
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows over the pages, want %d", len(got), len(want))
	}
	for i, r := range got {
		w := want[i]
		if r.Src != w.Key.SrcAddr() || r.DstPort != 53 || r.FwdBytes != int64(w.Bytes) || r.RevBytes != int64(w.RevBytes) ||
			r.Bytes != int64(w.Bytes+w.RevBytes) || !r.Start.Equal(w.Start) || r.Device != "tap1" || r.Interface != "eth0" {
			t.Errorf("row %d = %+v, want the flow %+v", i, r, w)
		}
	}
	res, err := s.Query(ctx, Query{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(res.Rows); i++ {
		if res.Rows[i].Bytes > res.Rows[i-1].Bytes {
			t.Errorf("default order is not -bytes at %d", i)
		}
	}
	res, err = s.Query(ctx, Query{Limit: 5, Offset: 1 << 20})
	if err != nil || len(res.Rows) != 0 || res.Total != 2000 {
		t.Errorf("page past the end = %d rows, total %d, %v", len(res.Rows), res.Total, err)
	}
	n := 0
	if err := s.Each(ctx, Query{Filter: f, From: from, To: to}, func(*Row) error { n++; return nil }); err != nil || n != len(want) {
		t.Errorf("Each = %d flows, %v; want %d", n, err, len(want))
	}
}

func ipfixMillis(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

func TestQueryInvalid(t *testing.T) {
	s := openStore(t)
	for _, q := range []Query{
		{GroupBy: []string{"src", "nope"}},
		{GroupBy: []string{"src", "src"}},
		{OrderBy: "-size"},
		{GroupBy: []string{"src"}, OrderBy: "start"},
	} {
		if _, err := s.Query(context.Background(), q); !errors.Is(err, ErrInvalid) {
			t.Errorf("Query(%+v) = %v, want ErrInvalid", q, err)
		}
	}
}

// TestEndReasons stores flows of every end reason and reads each back
// (the end reason is a code in the stored tuple, its name a virtual
// column).
func TestEndReasons(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	recs := testFlows(7, 4)
	for i, r := range recs {
		r.EndReason = flow.EndReason(i)
		r.Key.VLAN = uint16(4000 + i)
	}
	path := filepath.Join(t.TempDir(), "flows.ipfix")
	writeIPFIX(t, path, recs)
	if _, err := s.Ingest(ctx, Source{Name: "flows.ipfix", Device: "tap1"}, path); err != nil {
		t.Fatal(err)
	}
	res, err := s.Query(ctx, Query{OrderBy: "vlan"})
	if err != nil || len(res.Rows) != len(recs) {
		t.Fatalf("Query = %d rows, %v; want %d", len(res.Rows), err, len(recs))
	}
	for i, r := range res.Rows {
		want := ipfix.FlowRowOf(recs[i])
		if r.EndReason != want.EndReason || r.VLAN != want.VLAN || r.SrcPort != want.SrcPort || r.Proto != want.Proto {
			t.Errorf("flow %d: end reason %q, VLAN %d, port %d, proto %d; want %q, %d, %d, %d", i, r.EndReason, r.VLAN,
				r.SrcPort, r.Proto, want.EndReason, want.VLAN, want.SrcPort, want.Proto)
		}
	}
}

// TestOpenOlderStore opens a store of before version 2 (flows in 15
// columns, address indexes): it is emptied, and an ingest fills it again.
func TestOpenOlderStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "flows.db")
	old, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.ExecContext(ctx, `CREATE TABLE sources (id INTEGER PRIMARY KEY, position INTEGER NOT NULL,
		name TEXT NOT NULL, device TEXT NOT NULL, interface TEXT NOT NULL, size INTEGER NOT NULL, records INTEGER NOT NULL,
		UNIQUE (position, name));
		CREATE TABLE flows (source INTEGER NOT NULL, device TEXT NOT NULL, src BLOB NOT NULL, dst BLOB NOT NULL,
		sport INTEGER NOT NULL, dport INTEGER NOT NULL, proto INTEGER NOT NULL, vlan INTEGER NOT NULL,
		packets INTEGER NOT NULL, bytes INTEGER NOT NULL, rev_packets INTEGER NOT NULL, rev_bytes INTEGER NOT NULL,
		start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, end_reason TEXT NOT NULL);
		CREATE INDEX flows_src ON flows (src);
		INSERT INTO sources VALUES (1, 0, 'flows.ipfix', 'tap1', '', 100, 1);
		INSERT INTO flows VALUES (1, 'tap1', zeroblob(16), zeroblob(16), 1, 2, 6, 0, 1, 40, 0, 0, 0, 0, 'idle');`); err != nil {
		t.Fatal(err)
	}
	old.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if res, err := s.Query(ctx, Query{}); err != nil || res.Total != 0 {
		t.Fatalf("an older store opened: %d flows, %v; want it empty", res.Total, err)
	}
	recs := testFlows(50, 6)
	file := filepath.Join(dir, "flows.ipfix")
	writeIPFIX(t, file, recs)
	if n, err := s.Ingest(ctx, Source{Name: "flows.ipfix", Device: "tap1"}, file); err != nil || n != len(recs) {
		t.Fatalf("Ingest = %d, %v; want %d", n, err, len(recs))
	}
	if res, err := s.Query(ctx, Query{}); err != nil || res.Total != int64(len(recs)) {
		t.Fatalf("%d flows, %v; want %d", res.Total, err, len(recs))
	}
}
