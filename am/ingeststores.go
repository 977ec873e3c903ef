package am

import (
	"context"
	"path/filepath"
	"sync"
	"time"

	"github.com/gimsproject/gims/flowstore"
)

// ingestStores keeps the flow stores the pulls ingest into open between
// pulls (issue 15): the AM ingests the growth of a pulled IPFIX file many
// times a second under make load, and opening the store's SQLite database
// (connections, their settings, the schema) for each was most of the
// ingest's cost. A store stays open while its experiment is pulled; it is
// closed after the experiment's final pull, before its files are deleted,
// when more than maxIngestStores are open (the one unused longest: each
// holds SQLite connections and their page caches, so the bound stays
// small for make scale's hundreds of experiments), and when the manager
// stops.
type ingestStores struct {
	mu   sync.Mutex
	open map[int64]*ingestStore
}

// ingestStore is an open store and its users.
type ingestStore struct {
	st      *flowstore.Store
	users   int
	closing bool // forgotten: closed by its last user
	used    time.Time
}

// maxIngestStores bounds the stores kept open.
const maxIngestStores = 32

// acquire returns experiment id's store at path, opened if needed, and
// the function that gives it back.
func (s *ingestStores) acquire(ctx context.Context, id int64, path string) (*flowstore.Store, func(), error) {
	s.mu.Lock()
	e := s.open[id]
	if e != nil {
		e.users++
		s.mu.Unlock()
		return e.st, func() { s.release(e) }, nil
	}
	s.mu.Unlock()
	st, err := flowstore.Open(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.open[id]; e != nil { // opened meanwhile
		st.Close()
		e.users++
		return e.st, func() { s.release(e) }, nil
	}
	if s.open == nil {
		s.open = make(map[int64]*ingestStore)
	}
	if len(s.open) >= maxIngestStores {
		s.evictLocked()
	}
	e = &ingestStore{st: st, users: 1}
	s.open[id] = e
	return st, func() { s.release(e) }, nil
}

// release gives back a store; the last user of a forgotten one closes it.
func (s *ingestStores) release(e *ingestStore) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.users--
	e.used = time.Now()
	if e.users == 0 && e.closing {
		e.st.Close()
	}
}

// evictLocked forgets the store unused longest (s.mu held).
func (s *ingestStores) evictLocked() {
	var (
		victim int64
		oldest *ingestStore
	)
	for id, e := range s.open {
		if oldest == nil || (e.users == 0 && (oldest.users > 0 || e.used.Before(oldest.used))) {
			victim, oldest = id, e
		}
	}
	if oldest != nil {
		s.forgetLocked(victim)
	}
}

// forget closes experiment id's store, now or when its last user gives
// it back.
func (s *ingestStores) forget(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgetLocked(id)
}

// forgetLocked is forget with s.mu held.
func (s *ingestStores) forgetLocked(id int64) {
	e := s.open[id]
	if e == nil {
		return
	}
	delete(s.open, id)
	e.closing = true
	if e.users == 0 {
		e.st.Close()
	}
}

// closeAll forgets every store.
func (s *ingestStores) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.open {
		s.forgetLocked(id)
	}
}

// ingestPath is experiment id's flow store.
func (m *Manager) ingestPath(id int64) string {
	return filepath.Join(m.experimentDir(id), "flows.db")
}
