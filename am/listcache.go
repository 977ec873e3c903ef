package am

import (
	"context"
	"slices"
	"sync"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// experimentList is the list ListExperiments answers from (issue 15):
// every experiment's summary, kept in memory and read again from the
// database only for the experiments written since it was last read
// (db.ExperimentsChangedSince), instead of reading every experiment with
// its devices and stored statuses for every call. Under make load, the
// admin's list held hundreds of experiments (the short-lived ones are
// never deleted) and reading it made a tenth of the AM's CPU.
type experimentList struct {
	mu      sync.Mutex
	valid   bool
	version uint64 // db.ExperimentsVersion taken before the last read
	byID    map[int64]*listedExperiment
	ids     []int64 // sorted
}

// listedExperiment is one experiment of the list: its summary but the
// elapsed time, and what the elapsed time is computed from.
type listedExperiment struct {
	summary amapi.ExperimentSummary
	exp     db.Experiment // State, RunTime, RunningSince (elapsed)
}

// listed makes the kept entry of e.
func listed(e *db.Experiment) *listedExperiment {
	l := &listedExperiment{
		summary: amapi.ExperimentSummary{ID: e.ID, Name: e.Name, Owner: e.Owner, State: e.State,
			Devices: pairingNames(e.Devices), Created: e.Created},
		exp: db.Experiment{ID: e.ID, State: e.State, RunTime: e.RunTime, RunningSince: e.RunningSince},
	}
	for j := range e.Devices {
		l.summary.Packets += storedStatus(&e.Devices[j]).Packets
	}
	return l
}

// refresh brings the list up to date with the database.
func (l *experimentList) refresh(ctx context.Context, d *db.DB) error {
	v := d.ExperimentsVersion()
	if l.valid && v == l.version {
		return nil
	}
	var (
		rows []db.Experiment
		err  error
		full = !l.valid
		ids  []int64
	)
	if !full {
		ids, full = d.ExperimentsChangedSince(l.version)
	}
	if full {
		rows, err = d.ListExperiments(ctx, "")
	} else {
		rows, err = d.ExperimentsByID(ctx, ids)
	}
	if err != nil {
		return err
	}
	if full {
		l.byID = make(map[int64]*listedExperiment, len(rows))
		l.ids = l.ids[:0]
	} else {
		for _, id := range ids { // deleted unless read again below
			delete(l.byID, id)
		}
	}
	for i := range rows {
		l.byID[rows[i].ID] = listed(&rows[i])
	}
	if full || len(ids) > 0 {
		l.ids = l.ids[:0]
		for id := range l.byID {
			l.ids = append(l.ids, id)
		}
		slices.Sort(l.ids)
	}
	l.valid, l.version = true, v
	return nil
}

// ListExperiments lists p's experiments (every one for an admin), from
// the kept list.
func (m *Manager) ListExperiments(ctx context.Context, p Principal) ([]amapi.ExperimentSummary, error) {
	owner := p.Name
	if p.IsAdmin() {
		owner = ""
	}
	l := &m.list
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.refresh(ctx, m.db); err != nil {
		return nil, err
	}
	n := len(l.ids)
	if owner != "" {
		n = 0
		for _, id := range l.ids {
			if l.byID[id].summary.Owner == owner {
				n++
			}
		}
	}
	out := make([]amapi.ExperimentSummary, 0, n)
	for _, id := range l.ids {
		e := l.byID[id]
		if owner != "" && e.summary.Owner != owner {
			continue
		}
		s := e.summary
		s.ElapsedS = m.elapsed(&e.exp).Seconds()
		out = append(out, s)
	}
	return out, nil
}
