package am

import (
	"context"
	"slices"
	"sync"

	"github.com/gimsproject/gims/db"
)

// experimentCopies keeps the experiments callers read last, each with the
// database version it was read at (db.ExperimentVersion: it changes with
// every write of that experiment and with every write that may change
// any): every call about an experiment (settings, results, each lifecycle
// step) read it and its pairings from SQLite first, a tenth of the AM's
// CPU under make load (issue 15). A copy is handed out only while its
// version is current, and every caller gets its own copy.
type experimentCopies struct {
	mu   sync.RWMutex
	kept map[int64]*keptExperiment
}

// keptExperiment is an experiment as read at version.
type keptExperiment struct {
	version uint64
	e       db.Experiment
}

// maxKeptExperiments bounds the experiments kept.
const maxKeptExperiments = 4096

// cloneExperiment returns a copy of e that shares nothing mutable with it.
func cloneExperiment(e *db.Experiment) db.Experiment {
	c := *e
	c.Key = slices.Clone(e.Key)
	c.Devices = slices.Clone(e.Devices)
	return c
}

// getExperiment is db.GetExperiment, from the kept copy while it is
// current.
func (m *Manager) getExperiment(ctx context.Context, id int64) (db.Experiment, error) {
	v := m.db.ExperimentVersion(id)
	c := &m.copies
	c.mu.RLock()
	k := c.kept[id]
	c.mu.RUnlock()
	if k != nil && k.version == v {
		return cloneExperiment(&k.e), nil
	}
	e, err := m.db.GetExperiment(ctx, id)
	if err != nil {
		return e, err
	}
	k = &keptExperiment{version: v, e: cloneExperiment(&e)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kept == nil {
		c.kept = make(map[int64]*keptExperiment)
	}
	if _, ok := c.kept[id]; !ok && len(c.kept) >= maxKeptExperiments {
		for victim := range c.kept { // any other: read again when asked for
			delete(c.kept, victim)
			break
		}
	}
	if old := c.kept[id]; old == nil || old.version <= v {
		c.kept[id] = k
	}
	return e, nil
}
