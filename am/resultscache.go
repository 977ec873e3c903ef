package am

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/internal/servertiming"
)

// GetExperimentResults from a short-lived cache (issue 15). Each call
// asked every device of the experiment for its rows, decoded them and
// merged them: under make load (60 result calls a second on five
// experiments) the devices answered the same pages again and again, and
// the closed-loop clients queued behind those rounds. An answer is now
// kept for resultsFresh (at most PollInterval: results as fresh as the
// status) under the experiment's database version, so that a transition,
// a pull or a new result file is seen at once; callers that ask for the
// same page while it is being fetched wait for that one fetch. Failures
// are not kept.

// resultsFresh is how long an answer is kept, at most.
const resultsFresh = time.Second

// maxKeptResults bounds the answers kept; beyond, the stale ones are
// forgotten, and all of them if none is. Answers of more than
// maxKeptRows rows are not kept (at most a few tens of MB in all).
const (
	maxKeptResults = 128
	maxKeptRows    = 1000
)

// resultsKey is what an answer depends on: the experiment at a database
// version and the query (the caller's right to see it is checked first,
// on every call).
type resultsKey struct {
	id      int64
	version uint64
	query   amapi.ResultsQuery
}

// resultsEntry is an answer kept or being fetched (done not closed yet).
type resultsEntry struct {
	done  chan struct{}
	at    time.Time
	value any
	err   error
}

// resultsCache keeps the answers of GetExperimentResults.
type resultsCache struct {
	mu   sync.Mutex
	kept map[resultsKey]*resultsEntry
	// fresh, when set, replaces resultsFresh (tests).
	fresh time.Duration
}

// freshFor is how long the manager keeps an answer.
func (m *Manager) freshFor() time.Duration {
	if m.results.fresh > 0 {
		return m.results.fresh
	}
	return min(resultsFresh, m.cfg.PollInterval)
}

// keptResults returns the answer for k: a fresh kept one, the one being
// fetched, or what fetch returns (kept if it succeeded).
func (m *Manager) keptResults(ctx context.Context, k resultsKey, fetch func() (any, error)) (any, error) {
	c := &m.results
	now := time.Now() // real time, whatever the manager's clock (tests freeze it)
	c.mu.Lock()
	if en, ok := c.kept[k]; ok {
		select {
		case <-en.done:
			if now.Sub(en.at) < m.freshFor() && en.err == nil {
				c.mu.Unlock()
				return cloneRows(en.value), nil
			}
		default:
			c.mu.Unlock()
			// The fetch under way asks the devices: a device span.
			end := servertiming.Begin(ctx)
			select {
			case <-en.done:
			case <-ctx.Done():
				end()
				return nil, ctx.Err()
			}
			end()
			if en.err != nil {
				return nil, en.err
			}
			return cloneRows(en.value), nil
		}
	}
	en := &resultsEntry{done: make(chan struct{}), at: now}
	if c.kept == nil {
		c.kept = map[resultsKey]*resultsEntry{}
	}
	if len(c.kept) >= maxKeptResults {
		c.prune(now, m.freshFor())
	}
	c.kept[k] = en
	c.mu.Unlock()

	en.value, en.err = fetch()
	close(en.done)
	if en.err != nil || rows(en.value) > maxKeptRows {
		c.mu.Lock()
		if c.kept[k] == en {
			delete(c.kept, k)
		}
		c.mu.Unlock()
	}
	return cloneRows(en.value), en.err
}

// cloneRows copies an answer's slice: callers may change theirs (the API
// makes the files' URLs absolute, the GUI sorts the flows) and the kept
// one is shared.
func cloneRows(v any) any {
	switch v := v.(type) {
	case []amapi.CounterRow:
		return slices.Clone(v)
	case []amapi.FlowRow:
		return slices.Clone(v)
	case []amapi.FileRow:
		return slices.Clone(v)
	}
	return v
}

// rows is the number of rows of an answer.
func rows(v any) int {
	switch v := v.(type) {
	case []amapi.CounterRow:
		return len(v)
	case []amapi.FlowRow:
		return len(v)
	case []amapi.FileRow:
		return len(v)
	}
	return 0
}

// prune forgets the answers that are no longer fresh, or all of them
// when every one is; c.mu held.
func (c *resultsCache) prune(now time.Time, fresh time.Duration) {
	for k, en := range c.kept {
		select {
		case <-en.done:
			if now.Sub(en.at) >= fresh {
				delete(c.kept, k)
			}
		default:
		}
	}
	if len(c.kept) >= maxKeptResults {
		clear(c.kept)
	}
}
