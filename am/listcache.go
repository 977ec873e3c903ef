package am

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

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
	mu    sync.Mutex // held by refresh
	valid bool
	// version is db.ExperimentsVersion taken before the last read.
	version uint64
	byID    map[int64]*listedExperiment
	// snap is the list as of version, for readers without the lock.
	snap atomic.Pointer[listSnapshot]
}

// listSnapshot is the list at a database version; it never changes.
type listSnapshot struct {
	version uint64
	entries []*listedExperiment // by id
}

// listedExperiment is one experiment of the list: its summary but the
// elapsed time, and what the elapsed time is computed from.
type listedExperiment struct {
	summary amapi.ExperimentSummary
	exp     db.Experiment // State, RunTime, RunningSince (elapsed)
	// scheduled: the configuration may have a schedule (the test of
	// db.ScheduledExperiments).
	scheduled bool
}

// listed makes the kept entry of e.
func listed(e *db.Experiment) *listedExperiment {
	l := &listedExperiment{
		summary: amapi.ExperimentSummary{ID: e.ID, Name: e.Name, Owner: e.Owner, State: e.State,
			Devices: pairingNames(e.Devices), Created: e.Created},
		exp:       db.Experiment{ID: e.ID, State: e.State, RunTime: e.RunTime, RunningSince: e.RunningSince},
		scheduled: strings.Contains(e.Config, `"schedule":`),
	}
	for j := range e.Devices {
		l.summary.Packets += storedStatus(&e.Devices[j]).Packets
	}
	return l
}

// current returns the list as of the database's version now or later,
// read again for the experiments written since the last read. Callers
// that wait while another refreshes take its list when it is as new as
// the version they came with: one read serves them all.
func (l *experimentList) current(ctx context.Context, d *db.DB) (*listSnapshot, error) {
	v := d.ExperimentsVersion()
	if s := l.snap.Load(); s != nil && s.version >= v {
		return s, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.snap.Load(); s != nil && s.version >= v {
		return s, nil
	}
	if err := l.refresh(ctx, d, d.ExperimentsVersion()); err != nil {
		return nil, err
	}
	return l.snap.Load(), nil
}

// refresh brings the list up to date with the database, whose version
// was v before the read (under l.mu).
func (l *experimentList) refresh(ctx context.Context, d *db.DB, v uint64) error {
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
	} else {
		for _, id := range ids { // deleted unless read again below
			delete(l.byID, id)
		}
	}
	for i := range rows {
		l.byID[rows[i].ID] = listed(&rows[i])
	}
	snap := &listSnapshot{version: v}
	if old := l.snap.Load(); old != nil && !full && len(ids) == 0 {
		snap.entries = old.entries
	} else {
		snap.entries = make([]*listedExperiment, 0, len(l.byID))
		for _, e := range l.byID {
			snap.entries = append(snap.entries, e)
		}
		slices.SortFunc(snap.entries, func(a, b *listedExperiment) int { return cmp.Compare(a.summary.ID, b.summary.ID) })
	}
	l.snap.Store(snap)
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
	snap, err := m.list.current(ctx, m.db)
	if err != nil {
		return nil, err
	}
	n := len(snap.entries)
	if owner != "" {
		n = 0
		for _, e := range snap.entries {
			if e.summary.Owner == owner {
				n++
			}
		}
	}
	out := make([]amapi.ExperimentSummary, 0, n)
	for _, e := range snap.entries {
		if owner != "" && e.summary.Owner != owner {
			continue
		}
		s := e.summary
		s.ElapsedS = m.elapsed(&e.exp).Seconds()
		out = append(out, s)
	}
	return out, nil
}

// scheduledExperiments is db.ScheduledExperiments (the experiments in one
// of states whose configuration may have a schedule), the candidates
// found in the kept list and read from the database alone: a start's
// conflict check read every experiment's configuration (issue 15: under
// make load, a scan of hundreds, under the schedule lock, for every start
// and resume).
func (m *Manager) scheduledExperiments(ctx context.Context, states ...string) ([]db.Experiment, error) {
	snap, err := m.list.current(ctx, m.db)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, e := range snap.entries {
		if e.scheduled && slices.Contains(states, e.summary.State) {
			ids = append(ids, e.summary.ID)
		}
	}
	rows, err := m.db.ExperimentsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := rows[:0]
	for _, e := range rows { // as read now
		if slices.Contains(states, e.State) && strings.Contains(e.Config, `"schedule":`) {
			out = append(out, e)
		}
	}
	return out, nil
}
