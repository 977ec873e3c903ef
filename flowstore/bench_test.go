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

// benchStore is a store holding the benchmark's flows.
func benchStore(b *testing.B) (*Store, int) {
	b.Helper()
	path, n := benchFile(b)
	s := openStore(b)
	if _, err := s.Ingest(context.Background(), Source{Name: "flows.ipfix", Device: "tap1"}, path); err != nil {
		b.Fatal(err)
	}
	return s, n
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
// one host.
func BenchmarkOneHost(b *testing.B) {
	s, _ := benchStore(b)
	res, err := s.Query(context.Background(), Query{GroupBy: []string{"src"}, OrderBy: "bytes", Limit: 1})
	if err != nil || len(res.Rows) == 0 {
		b.Fatalf("Query = %+v, %v", res, err)
	}
	f, err := flowfilter.Parse("host " + res.Rows[0].Src.String())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		res, err := s.Query(context.Background(), Query{Filter: f, Limit: 100})
		if err != nil || res.Total == 0 {
			b.Fatalf("Query = %+v, %v", res, err)
		}
	}
}

// BenchmarkTopSourcesFiltered is the top 10 sources by bytes of the TCP
// flows: a filter makes it a pass over every flow (no rollup), from the
// snapshot (loaded once before the timer starts: BenchmarkSnapshotLoad
// measures that).
func BenchmarkTopSourcesFiltered(b *testing.B) { benchFiltered(b, false) }

// BenchmarkTopSourcesFilteredSQL is BenchmarkTopSourcesFiltered in SQL
// (what a store over SnapshotMaxFlows does).
func BenchmarkTopSourcesFilteredSQL(b *testing.B) { benchFiltered(b, true) }

func benchFiltered(b *testing.B, sqlOnly bool) {
	s, _ := benchStore(b)
	s.sqlOnly = sqlOnly
	f, err := flowfilter.Parse("proto tcp")
	if err != nil {
		b.Fatal(err)
	}
	q := Query{Filter: f, GroupBy: []string{"src"}, Limit: 10}
	if _, err := s.Query(context.Background(), q); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		res, err := s.Query(context.Background(), q)
		if err != nil || len(res.Rows) == 0 {
			b.Fatalf("Query = %+v, %v", res, err)
		}
	}
}

// BenchmarkSnapshotLoad loads every flow of a store into a new snapshot
// (the first filtered aggregation of a store opened anew pays it).
func BenchmarkSnapshotLoad(b *testing.B) {
	s, n := benchStore(b)
	b.ResetTimer()
	for range b.N {
		s.snaps.snap = nil
		sn, err := s.snapshot(context.Background())
		if err != nil || len(sn.src) != n {
			b.Fatalf("snapshot of %d flows, %v; want %d", len(sn.src), err, n)
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
