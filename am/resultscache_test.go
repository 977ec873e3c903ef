package am

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gimsproject/gims/amapi"
)

// TestKeptResults: callers of the same page at the same version share
// one fetch and get copies of it; a new version, another page or a
// failure fetches again; an answer too large is not kept.
func TestKeptResults(t *testing.T) {
	m := &Manager{cfg: Configuration{PollInterval: time.Second}}
	m.results.fresh = time.Hour
	ctx := context.Background()
	var fetches atomic.Int64
	rowsOf := func(n int) func() (any, error) {
		return func() (any, error) {
			fetches.Add(1)
			return make([]amapi.FileRow, n), nil
		}
	}
	page := resultsKey{id: 1, version: 7, query: amapi.ResultsQuery{Kind: amapi.KindFiles}}
	first, err := m.keptResults(ctx, page, rowsOf(2))
	if err != nil {
		t.Fatal(err)
	}
	first.([]amapi.FileRow)[0].URL = "changed by its caller"
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := m.keptResults(ctx, page, rowsOf(2))
			if err != nil || len(got.([]amapi.FileRow)) != 2 || got.([]amapi.FileRow)[0].URL != "" {
				t.Errorf("kept answer: %+v, %v", got, err)
			}
		}()
	}
	wg.Wait()
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d fetches for one page, want 1", n)
	}
	boom := errors.New("device gone")
	for _, tc := range []struct {
		pos   string
		key   resultsKey
		fetch func() (any, error)
		err   error
		more  int64 // fetches
	}{
		{"#0 new version", resultsKey{id: 1, version: 8, query: page.query}, rowsOf(1), nil, 1},
		{"#1 another page", resultsKey{id: 1, version: 8, query: amapi.ResultsQuery{Kind: amapi.KindFlows, Limit: 5}},
			rowsOf(1), nil, 1},
		{"#2 another experiment", resultsKey{id: 2, version: 8, query: page.query}, rowsOf(1), nil, 1},
		{"#3 a failure", resultsKey{id: 3, query: page.query}, func() (any, error) { fetches.Add(1); return nil, boom }, boom, 1},
		{"#4 not kept", resultsKey{id: 3, query: page.query}, rowsOf(1), nil, 1},
		{"#5 kept now", resultsKey{id: 3, query: page.query}, rowsOf(1), nil, 0},
		{"#6 too large", resultsKey{id: 4, query: page.query}, rowsOf(maxKeptRows + 1), nil, 1},
		{"#7 not kept", resultsKey{id: 4, query: page.query}, rowsOf(maxKeptRows + 1), nil, 1},
	} {
		before := fetches.Load()
		if _, err := m.keptResults(ctx, tc.key, tc.fetch); !errors.Is(err, tc.err) {
			t.Errorf("%s: error %v, want %v", tc.pos, err, tc.err)
		}
		if n := fetches.Load() - before; n != tc.more {
			t.Errorf("%s: %d fetches, want %d", tc.pos, n, tc.more)
		}
	}
	for i := range 2 * maxKeptResults {
		m.keptResults(ctx, resultsKey{id: int64(100 + i)}, rowsOf(1))
	}
	if n := len(m.results.kept); n > maxKeptResults {
		t.Errorf("%d answers kept, at most %d wanted", n, maxKeptResults)
	}
}
