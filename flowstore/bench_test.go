package flowstore

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gimsproject/gims/flowfilter"
	"github.com/gimsproject/gims/transform/ipfix"
)

// benchFile is the IPFIX file the benchmarks read: $FLOWQUERY_IPFIX
// (bench/flowquery.sh passes the meter's output of a generated trace),
// else $FLOWQUERY_N (default 100,000) synthetic flows written once.
func benchFile(b *testing.B) (string, int) {
	b.Helper()
	if p := os.Getenv("FLOWQUERY_IPFIX"); p != "" {
		n, err := ipfix.ReadFlows(p, func(ipfix.FlowRow) {})
		if err != nil || n == 0 {
			b.Fatalf("FLOWQUERY_IPFIX %s: %d flows, %v", p, n, err)
		}
		return p, n
	}
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("FLOWQUERY_N")); err == nil && v > 0 {
		n = v
	}
	path := filepath.Join(b.TempDir(), "flows.ipfix")
	writeIPFIX(b, path, testFlows(n, 9))
	return path, n
}

// benchStores are the stores of the benchmarks' IPFIX files, ingested
// once per test binary (an ingest of millions of flows takes a while)
// and opened by each benchmark; benchCleanup removes them (TestMain).
var benchStores = map[string]string{}

func benchCleanup() {
	for _, db := range benchStores {
		os.RemoveAll(filepath.Dir(db))
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	benchCleanup()
	os.Exit(code)
}

// benchStore is a store holding the benchmark's flows, opened anew (no
// snapshot loaded), and its path.
func benchStore(b *testing.B) (*Store, int) {
	b.Helper()
	path, n := benchFile(b)
	db, ok := benchStores[path]
	if !ok {
		dir, err := os.MkdirTemp("", "flowstore-bench")
		if err != nil {
			b.Fatal(err)
		}
		db = filepath.Join(dir, "flows.db")
		s, err := Open(context.Background(), db)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Ingest(context.Background(), Source{Name: "flows.ipfix", Device: "tap1"}, path); err != nil {
			b.Fatal(err)
		}
		s.Close()
		benchStores[path] = db
	}
	s, err := Open(context.Background(), db)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, n
}

// busiestSource is the filter of the source with the most bytes (the
// host bench/flowquery.sh gives nfdump).
func busiestSource(b *testing.B, s *Store) *flowfilter.Filter {
	res, err := s.Query(context.Background(), Query{GroupBy: []string{"src"}, OrderBy: "-bytes", Limit: 1})
	if err != nil || len(res.Rows) == 0 {
		b.Fatalf("Query = %+v, %v", res, err)
	}
	f, err := flowfilter.Parse("host " + res.Rows[0].Src.String())
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkIngest stores every flow of an IPFIX file in a new store.
func BenchmarkIngest(b *testing.B) {
	path, n := benchFile(b)
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for range b.N {
		s, err := Open(context.Background(), filepath.Join(b.TempDir(), "flows.db"))
		if err != nil {
			b.Fatal(err)
		}
		if got, err := s.Ingest(context.Background(), Source{Name: "flows.ipfix", Device: "tap1"}, path); err != nil || got != n {
			b.Fatalf("Ingest = %d, %v; want %d", got, err, n)
		}
		s.Close()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "flows/s")
	b.ReportMetric((cpuTime(b)-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

// BenchmarkTopSources is the top 10 sources by bytes (nfdump -s
// srcip/bytes -n 10).
func BenchmarkTopSources(b *testing.B) {
	s, _ := benchStore(b)
	b.ResetTimer()
	for range b.N {
		res, err := s.Query(context.Background(), Query{GroupBy: []string{"src"}, Limit: 10})
		if err != nil || len(res.Rows) == 0 {
			b.Fatalf("Query = %+v, %v", res, err)
		}
	}
}

// BenchmarkOneHost is a selective filter: the first page of the flows of
// one host (the source with the most bytes), the snapshot loaded (the
// first query before the timer starts).
func BenchmarkOneHost(b *testing.B) { benchQuery(b, false, false, oneHost) }

// BenchmarkOneHostCold is BenchmarkOneHost in a store opened anew for
// each query: the snapshot read from the column file first (the AM's
// first query of an experiment after a restart).
func BenchmarkOneHostCold(b *testing.B) { benchQuery(b, true, false, oneHost) }

// BenchmarkOneHostSQL is BenchmarkOneHost in SQL (a store over
// SnapshotMaxFlows): a pass over every row, there is no index.
func BenchmarkOneHostSQL(b *testing.B) { benchQuery(b, false, true, oneHost) }

func oneHost(b *testing.B, s *Store) Query {
	return Query{Filter: busiestSource(b, s), Limit: 100}
}

// BenchmarkTopSourcesFiltered is the top 10 sources by bytes of the TCP
// flows: a filter makes it a pass over every flow (no rollup), from the
// snapshot (loaded before the timer starts).
func BenchmarkTopSourcesFiltered(b *testing.B) { benchQuery(b, false, false, tcpTop) }

// BenchmarkTopSourcesFilteredCold is BenchmarkTopSourcesFiltered in a
// store opened anew for each query (the snapshot read from the column
// file first).
func BenchmarkTopSourcesFilteredCold(b *testing.B) { benchQuery(b, true, false, tcpTop) }

// BenchmarkTopSourcesFilteredSQL is BenchmarkTopSourcesFiltered in SQL
// (what a store over SnapshotMaxFlows does).
func BenchmarkTopSourcesFilteredSQL(b *testing.B) { benchQuery(b, false, true, tcpTop) }

func tcpTop(b *testing.B, _ *Store) Query {
	f, err := flowfilter.Parse("proto tcp")
	if err != nil {
		b.Fatal(err)
	}
	return Query{Filter: f, GroupBy: []string{"src"}, Limit: 10}
}

// benchQuery runs a query: on a store opened anew each time (cold), in
// SQL only, or on the store's loaded snapshot.
func benchQuery(b *testing.B, cold, sqlOnly bool, query func(*testing.B, *Store) Query) {
	s, _ := benchStore(b)
	q := query(b, s)
	s.sqlOnly = sqlOnly
	// The snapshot's load after a query of some columns runs in the
	// background: waited for outside the timer, so that it neither
	// slows the next query nor counts.
	waitPreload := func() {
		if p := s.snaps.preloaded; p != nil {
			<-p
		}
	}
	if !cold {
		if _, err := s.Query(context.Background(), q); err != nil {
			b.Fatal(err)
		}
		waitPreload()
	}
	path := s.colPath[:len(s.colPath)-len(".cols")]
	b.ResetTimer()
	for range b.N {
		st := s
		if cold {
			b.StopTimer()
			waitPreload()
			s.Close()
			b.StartTimer()
			var err error
			if st, err = Open(context.Background(), path); err != nil {
				b.Fatal(err)
			}
			s = st
		}
		res, err := st.Query(context.Background(), q)
		if err != nil || len(res.Rows) == 0 {
			b.Fatalf("Query = %+v, %v", res, err)
		}
	}
	b.StopTimer()
	waitPreload()
}

// BenchmarkSnapshotLoad loads every flow of a store into a new snapshot
// from the column file (the first filtered query of a store opened
// anew pays it).
func BenchmarkSnapshotLoad(b *testing.B) { benchLoad(b, false) }

// BenchmarkSnapshotLoadSQL loads the snapshot from SQLite (a store
// without its column file).
func BenchmarkSnapshotLoadSQL(b *testing.B) { benchLoad(b, true) }

func benchLoad(b *testing.B, fromSQL bool) {
	s, n := benchStore(b)
	if fromSQL {
		s.colPath = filepath.Join(b.TempDir(), "none.cols")
	}
	b.ResetTimer()
	for range b.N {
		s.snaps.snap = nil
		sn, err := s.snapshot(context.Background(), allCols)
		if err != nil || sn.len() != n || (sn.sqlRows == 0) != !fromSQL {
			b.Fatalf("snapshot of %d flows (%d from SQLite), %v; want %d", sn.len(), sn.sqlRows, err, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "flows/s")
}

// BenchmarkReadFlows decodes every flow of the IPFIX file (the part of
// an ingest before SQLite).
func BenchmarkReadFlows(b *testing.B) {
	path, n := benchFile(b)
	b.ResetTimer()
	for range b.N {
		if got, err := ipfix.ReadFlows(path, func(ipfix.FlowRow) {}); err != nil || got != n {
			b.Fatalf("ReadFlows = %d, %v; want %d", got, err, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "flows/s")
}

// cpuTime is the process's CPU time, user and system, every thread: on a
// shared machine it tells what a run costs where wall time cannot.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
