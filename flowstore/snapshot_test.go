package flowstore

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gimsproject/gims/flowfilter"
)

// snapshotQueries are grouped queries over every flow, whose answers
// the snapshot gives in Go and groups' SQL must give alike.
var snapshotFilters = []string{"proto tcp", "src net 10.0.1.0/24 and dst port 443", "not udp", "host 2001:db8::3 or port < 1050",
	"bytes > 20000 and packets <= 30", "dst port ne 53 and not src host 10.0.0.7", "net ::/0", "icmp6 or src port >= 1090"}

// compareSnapshot runs q on s in SQL and from the snapshot and fails on
// any difference.
func compareSnapshot(t *testing.T, s *Store, q Query) {
	t.Helper()
	ctx := context.Background()
	s.sqlOnly = true
	want, werr := s.Query(ctx, q)
	s.sqlOnly = false
	got, gerr := s.Query(ctx, q)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%+v: SQL error %v, snapshot error %v", q, werr, gerr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("filter %v group %v order %q limit %d offset %d:\nsnapshot %+v\nSQL      %+v", q.Filter, q.GroupBy, q.OrderBy,
			q.Limit, q.Offset, got, want)
	}
}

// TestSnapshotMatchesSQL compares the snapshot's groups with SQL's over
// filters, group keys, orders, pages and time bounds, and follows
// ingests: appended flows and a replaced file.
func TestSnapshotMatchesSQL(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.ipfix"), filepath.Join(dir, "b.ipfix")
	recs := testFlows(3000, 5)
	writeIPFIX(t, a, recs[:1000])
	writeIPFIX(t, b, recs[1000:1500])
	for _, p := range []string{a, b} {
		if _, err := s.Ingest(ctx, Source{Name: filepath.Base(p), Device: "tap-" + filepath.Base(p)}, p); err != nil {
			t.Fatal(err)
		}
	}
	groupings := [][]string{{"src"}, {"dst", "dport"}, {"device"}, {"proto", "src", "sport"}, {"sport"}}
	orders := []string{"", "bytes", "-flows", "packets", "src", "-dst", "-dport", "device"}
	run := func() {
		for i, f := range snapshotFilters {
			flt, err := flowfilter.Parse(f)
			if err != nil {
				t.Fatal(err)
			}
			for j, g := range groupings {
				q := Query{Filter: flt, GroupBy: g, Limit: (i + j) % 4 * 3, Offset: j % 3}
				if o := orders[(i+j)%len(orders)]; o == "" || fields(g)[trimDash(o)] {
					q.OrderBy = o
				}
				compareSnapshot(t, s, q)
			}
		}
		start := recs[0].Start
		compareSnapshot(t, s, Query{GroupBy: []string{"src"}, From: start.Add(3 * time.Second), To: start.Add(9 * time.Second)})
		compareSnapshot(t, s, Query{GroupBy: []string{"src", "dst"}, OrderBy: "-packets", Limit: 7})
	}
	run()
	// Appended flows: the snapshot reads the new rows.
	gen := s.snaps.snap.gen
	writeIPFIX(t, a, recs[:2000])
	if _, err := s.Ingest(ctx, Source{Name: "a.ipfix", Device: "tap-a.ipfix"}, a); err != nil {
		t.Fatal(err)
	}
	run()
	if s.snaps.snap.gen == gen || len(s.snaps.snap.src) != 2500 {
		t.Fatalf("after an append: snapshot generation %d (was %d), %d flows; want 2500", s.snaps.snap.gen, gen, len(s.snaps.snap.src))
	}
	// A replaced file: the snapshot loads again.
	writeIPFIX(t, b, recs[2000:2100])
	if _, err := s.Ingest(ctx, Source{Name: "b.ipfix", Device: "tap-b.ipfix"}, b); err != nil {
		t.Fatal(err)
	}
	run()
	if len(s.snaps.snap.src) != 2100 {
		t.Fatalf("after a replacement: snapshot of %d flows; want 2100", len(s.snaps.snap.src))
	}
}

func fields(g []string) map[string]bool {
	m := map[string]bool{"flows": true, "packets": true, "bytes": true}
	for _, k := range g {
		m[k] = true
	}
	return m
}

func trimDash(s string) string {
	if len(s) > 0 && s[0] == '-' {
		return s[1:]
	}
	return s
}

// FuzzSnapshot compares the snapshot's groups with SQL's for any filter
// that parses, with group keys, order and page drawn from the input.
func FuzzSnapshot(f *testing.F) {
	for i, s := range snapshotFilters {
		f.Add(s, uint8(i), uint8(i*7), uint8(i))
	}
	s := openStore(f)
	p := filepath.Join(f.TempDir(), "a.ipfix")
	writeIPFIX(f, p, testFlows(1500, 11))
	if _, err := s.Ingest(context.Background(), Source{Name: "a.ipfix", Device: "tap"}, p); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, filter string, keys, order, page uint8) {
		flt, err := flowfilter.Parse(filter)
		if err != nil {
			return
		}
		var g []string
		for i, k := range GroupKeys {
			if keys&(1<<i) != 0 {
				g = append(g, k)
			}
		}
		if len(g) == 0 {
			g = []string{"src"}
		}
		names := append([]string{"flows", "packets", "bytes"}, g...)
		o := names[int(order>>1)%len(names)]
		if order&1 != 0 {
			o = "-" + o
		}
		compareSnapshot(t, s, Query{Filter: flt, GroupBy: g, OrderBy: o, Limit: int(page & 15), Offset: int(page >> 4)})
	})
}

// TestSnapshotsShared keeps a store's snapshot across its opens, follows
// an ingest made through another open, and forgets the least recently
// used store past the bound.
func TestSnapshotsShared(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	snaps := NewSnapshots(1)
	open := func(name string) *Store {
		s, err := OpenShared(ctx, filepath.Join(dir, name), snaps)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	recs := testFlows(1000, 3)
	file := filepath.Join(dir, "a.ipfix")
	writeIPFIX(t, file, recs[:600])
	first := open("a.db")
	if _, err := first.Ingest(ctx, Source{Name: "a.ipfix", Device: "tap"}, file); err != nil {
		t.Fatal(err)
	}
	tcp, err := flowfilter.Parse("tcp")
	if err != nil {
		t.Fatal(err)
	}
	compareSnapshot(t, first, Query{Filter: tcp, GroupBy: []string{"src"}})
	first.Close()
	second := open("a.db")
	if second.snaps.snap == nil || len(second.snaps.snap.src) != 600 {
		t.Fatal("a store opened again does not have the snapshot of its first open")
	}
	writeIPFIX(t, file, recs)
	if _, err := open("a.db").Ingest(ctx, Source{Name: "a.ipfix", Device: "tap"}, file); err != nil {
		t.Fatal(err)
	}
	compareSnapshot(t, second, Query{Filter: tcp, GroupBy: []string{"src"}})
	if n := len(second.snaps.snap.src); n != 1000 {
		t.Fatalf("snapshot of %d flows after an ingest through another open; want 1000", n)
	}
	open("b.db")
	if open("a.db").snaps.snap != nil {
		t.Fatal("the snapshot of a store past the bound of one was kept")
	}
}

// TestBulkIngestIndexes ingests more flows than bulkMin into a new store
// and then more than it holds (both bulk: indexes dropped and built
// again), and checks the indexes exist and serve one host's flows.
func TestBulkIngestIndexes(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	path := filepath.Join(t.TempDir(), "a.ipfix")
	recs := testFlows(3*bulkMin, 8)
	for _, n := range []int{bulkMin + bulkMin/2, len(recs)} {
		writeIPFIX(t, path, recs[:n])
		if got, err := s.Ingest(ctx, Source{Name: "a.ipfix", Device: "tap"}, path); err != nil || got == 0 {
			t.Fatalf("Ingest = %d, %v", got, err)
		}
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ('flows_src', 'flows_dst')`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d address indexes after bulk ingests (%v); want 2", n, err)
	}
	host, err := flowfilter.Parse("host 10.0.1.7")
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Query(ctx, Query{Filter: host})
	want := 0
	for _, r := range recs {
		if r.Key.SrcAddr().String() == "10.0.1.7" || r.Key.DstAddr().String() == "10.0.1.7" {
			want++
		}
	}
	if err != nil || res.Total != int64(want) || want == 0 {
		t.Fatalf("host 10.0.1.7: %d flows, %v; want %d", res.Total, err, want)
	}
	compareSnapshot(t, s, Query{Filter: host, GroupBy: []string{"dst", "sport"}, Limit: 5})
}
