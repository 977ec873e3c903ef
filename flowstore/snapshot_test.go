package flowstore

import (
	"context"
	"encoding/binary"
	"os"
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

// compareSnapshot runs q on s in SQL, from the columns it needs read
// for it alone (a store whose snapshot is not loaded) and from the
// snapshot, and fails on any difference.
func compareSnapshot(t *testing.T, s *Store, q Query) {
	t.Helper()
	ctx := context.Background()
	s.sqlOnly = true
	want, werr := s.Query(ctx, q)
	s.sqlOnly = false
	loaded := s.snaps.snap
	s.snaps.snap, s.preload = nil, false
	part, perr := s.Query(ctx, q)
	s.snaps.snap, s.partial = loaded, false
	got, gerr := s.Query(ctx, q)
	s.partial, s.preload = true, true
	if (werr == nil) != (gerr == nil) || (werr == nil) != (perr == nil) {
		t.Fatalf("%+v: SQL error %v, snapshot error %v, of some columns %v", q, werr, gerr, perr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("filter %v group %v order %q limit %d offset %d:\nsnapshot %+v\nSQL      %+v", q.Filter, q.GroupBy, q.OrderBy,
			q.Limit, q.Offset, got, want)
	}
	if !reflect.DeepEqual(part, want) {
		t.Fatalf("filter %v group %v order %q limit %d offset %d:\nsome columns %+v\nSQL          %+v", q.Filter, q.GroupBy,
			q.OrderBy, q.Limit, q.Offset, part, want)
	}
}

// compareEach runs Each on s in SQL and through the snapshot and fails
// on any difference.
func compareEach(t *testing.T, s *Store, q Query) {
	t.Helper()
	ctx := context.Background()
	each := func() []Row {
		var rows []Row
		if err := s.Each(ctx, q, func(r *Row) error { rows = append(rows, *r); return nil }); err != nil {
			t.Fatal(err)
		}
		return rows
	}
	s.sqlOnly = true
	want := each()
	s.sqlOnly = false
	if got := each(); !reflect.DeepEqual(got, want) || len(want) == 0 {
		t.Fatalf("Each %v order %q: snapshot %d flows, SQL %d (or they differ)", q.Filter, q.OrderBy, len(got), len(want))
	}
}

// TestSnapshotMatchesSQL compares the snapshot's groups and flow rows
// with SQL's over filters, group keys, orders, pages and time bounds,
// and follows ingests: appended flows and a replaced file.
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
		// Flow rows: the snapshot finds the page, SQLite gives the rows.
		for i, o := range flowOrders {
			flt, err := flowfilter.Parse(snapshotFilters[i%len(snapshotFilters)])
			if err != nil {
				t.Fatal(err)
			}
			compareSnapshot(t, s, Query{Filter: flt, OrderBy: o, Limit: i % 5 * 4, Offset: i % 3})
			compareSnapshot(t, s, Query{OrderBy: "-" + o, Limit: 9})
		}
		start := recs[0].Start
		// Each: a selective filter reads the flows the snapshot finds.
		for i, f := range []string{"host 10.0.1.7", "src host 2001:db8::3 and dst port 0", "port 1050 and tcp", "udp"} {
			flt, err := flowfilter.Parse(f)
			if err != nil {
				t.Fatal(err)
			}
			compareEach(t, s, Query{Filter: flt, OrderBy: []string{"", "-bytes", "start", "src"}[i]})
		}
		compareEach(t, s, Query{From: start.Add(3 * time.Second), To: start.Add(9 * time.Second)})
		compareSnapshot(t, s, Query{GroupBy: []string{"src"}, From: start.Add(3 * time.Second), To: start.Add(9 * time.Second)})
		compareSnapshot(t, s, Query{From: start.Add(3 * time.Second), To: start.Add(9 * time.Second), Limit: 20})
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

// flowOrders are the order fields of flow rows.
var flowOrders = []string{"src", "dst", "sport", "dport", "proto", "device", "flows", "packets", "bytes", "start", "end",
	"duration", "vlan", "fwd_bytes", "fwd_packets", "rev_bytes", "rev_packets"}

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

// FuzzSnapshot compares the snapshot's groups and flow rows with SQL's
// for any filter that parses, with group keys, order and page drawn from
// the input.
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
		fo := flowOrders[int(order>>1)%len(flowOrders)]
		if order&1 != 0 {
			fo = "-" + fo
		}
		compareSnapshot(t, s, Query{Filter: flt, OrderBy: fo, Limit: int(page & 15), Offset: int(page >> 4)})
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

// TestOneHostWithoutIndexes ingests more flows than one chunk of the
// column file holds... in two ingests into a store, checks it has no
// address index, and counts one host's flows as a Go pass over the
// records does, from the snapshot and in SQL.
func TestOneHostWithoutIndexes(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	path := filepath.Join(t.TempDir(), "a.ipfix")
	recs := testFlows(30000, 8)
	for _, n := range []int{15000, len(recs)} {
		writeIPFIX(t, path, recs[:n])
		if got, err := s.Ingest(ctx, Source{Name: "a.ipfix", Device: "tap"}, path); err != nil || got == 0 {
			t.Fatalf("Ingest = %d, %v", got, err)
		}
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'flows'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d indexes on flows (%v); want none", n, err)
	}
	host, err := flowfilter.Parse("host 10.0.1.7")
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, r := range recs {
		if r.Key.SrcAddr().String() == "10.0.1.7" || r.Key.DstAddr().String() == "10.0.1.7" {
			want++
		}
	}
	for _, sqlOnly := range []bool{false, true} {
		s.sqlOnly = sqlOnly
		res, err := s.Query(ctx, Query{Filter: host, Limit: 100})
		if err != nil || res.Total != int64(want) || want == 0 || len(res.Rows) != 100 {
			t.Fatalf("host 10.0.1.7 (SQL only: %v): %d flows, %d rows, %v; want %d", sqlOnly, res.Total, len(res.Rows), err, want)
		}
	}
	compareSnapshot(t, s, Query{Filter: host, Limit: 100})
	compareSnapshot(t, s, Query{Filter: host, GroupBy: []string{"dst", "sport"}, Limit: 5})
}

// TestColumnFile opens a store anew (a new process: no snapshot) after
// ingests, appends, a replaced file, a column file cut short or with a
// chunk of an ingest that did not commit, and one removed (a store of
// before the column file): the snapshot reads every flow it can from the
// column file, the rest from SQLite, and answers as SQL does.
func TestColumnFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "flows.db")
	a, b := filepath.Join(dir, "a.ipfix"), filepath.Join(dir, "b.ipfix")
	recs := testFlows(4000, 21)
	ingest := func(path string, from, to int) {
		t.Helper()
		writeIPFIX(t, path, recs[from:to])
		s, err := Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		s.chunkRows = 300 // several chunks per ingest
		defer s.Close()
		if _, err := s.Ingest(ctx, Source{Name: filepath.Base(path), Device: "tap-" + filepath.Base(path)}, path); err != nil {
			t.Fatal(err)
		}
	}
	tcp, err := flowfilter.Parse("tcp or icmp6")
	if err != nil {
		t.Fatal(err)
	}
	// cold opens the store as a new process would and checks its
	// snapshot: flows in all, of which read from SQLite.
	cold := func(flows, fromSQL int) {
		t.Helper()
		s, err := Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		compareSnapshot(t, s, Query{Filter: tcp, GroupBy: []string{"src", "dport"}, OrderBy: "-flows", Limit: 30})
		compareSnapshot(t, s, Query{Filter: tcp, OrderBy: "dst", Limit: 50, Offset: 3})
		sn := s.snaps.snap
		if sn == nil || sn.len() != flows || sn.sqlRows != fromSQL {
			t.Fatalf("snapshot of %d flows, %d from SQLite; want %d, %d", sn.len(), sn.sqlRows, flows, fromSQL)
		}
	}
	ingest(a, 0, 1000)
	ingest(b, 1000, 1700)
	cold(1700, 0)
	// A new process's first query reads the columns it needs, then the
	// snapshot loads in the background.
	s, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	compareSnapshot(t, s, Query{Filter: tcp, OrderBy: "start", Limit: 5})
	s.snaps.snap = nil
	if _, err := s.Query(ctx, Query{Filter: tcp, Limit: 5}); err != nil {
		t.Fatal(err)
	}
	<-s.snaps.preloaded
	if sn := s.snaps.snap; sn == nil || sn.len() != 1700 || sn.mask != allCols || sn.sqlRows != 0 {
		t.Fatalf("the snapshot was not loaded after a query of some columns")
	}
	ingest(a, 0, 2000) // appended
	cold(2700, 0)
	ingest(b, 2000, 2100) // replaced
	cold(2100, 0)
	cols := db + ".cols"
	info, err := os.Stat(cols)
	if err != nil {
		t.Fatal(err)
	}
	// A chunk cut short (a crash while writing): not read.
	if err := os.Truncate(cols, info.Size()-100); err != nil {
		t.Fatal(err)
	}
	cold(2100, 100)
	// The next ingest cuts it off and writes the flows again.
	ingest(a, 0, 2500)
	cold(2600, 0)
	// A chunk of a generation that was not committed (an ingest that
	// failed after writing it): not read, cut off by the next ingest.
	data, err := os.ReadFile(cols)
	if err != nil {
		t.Fatal(err)
	}
	var h chunkHeader
	if _, err := binary.Decode(data, binary.NativeEndian, &h); err != nil {
		t.Fatal(err)
	}
	h.Gen += 1000
	orphan, err := binary.Append(nil, binary.NativeEndian, &h)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cols, append(data, append(orphan, data[headerSize:h.Size]...)...), 0o600); err != nil {
		t.Fatal(err)
	}
	cold(2600, 0)
	ingest(a, 0, 3000)
	cold(3100, 0)
	if info, err := os.Stat(cols); err != nil || info.Size() > int64(len(data))+500*rowBytes+2000 {
		t.Fatalf("column file of %v bytes after the orphan chunk (%v); it was not cut off", info.Size(), err)
	}
	// No column file (a store of before it): SQLite, then an ingest
	// writes it.
	if err := os.Remove(cols); err != nil {
		t.Fatal(err)
	}
	cold(3100, 3100)
	ingest(b, 2000, 2300)
	cold(3300, 0)
}
