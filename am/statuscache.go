package am

import (
	"context"
	"sync"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// GetExperimentStatus from memory (SPEC §11: the status answers in
// milliseconds at thousands of calls per second). Two caches:
//
//   - live: what the last poll of a running or paused experiment's
//     devices found. The monitor polls every PollInterval and replaces it;
//     a transition drops it (and makes a poll already on its way
//     discard what it finds), so that no status from before a pause or a
//     start is shown after it.
//   - statuses: the whole answer, for admins and for experimenters, with
//     the experiment's database version it was built at
//     (db.ExperimentVersion: writes of other experiments leave it alone)
//     and the live poll it was built from. It holds while neither changed;
//     only the running time is recomputed, and the number of running
//     experiments (the one part of the answer that other experiments
//     change) is put in anew when it changed, under a new stamp, without
//     reading the experiment again.

// liveStatus is what the last poll of an experiment's devices found.
type liveStatus struct {
	jobs          []string // the pairings' jobs it polled
	detail, brief []amapi.DeviceStatus
	at            time.Time
}

// maxKeptStatuses bounds the answers kept: an AM with many experiments
// keeps those asked for lately, not one per experiment ever asked.
const maxKeptStatuses = 4096

// statusEntry is a GetExperimentStatus answer kept in memory.
type statusEntry struct {
	// stamp identifies the answers (Manager.ExperimentStatus): unique
	// to this entry, never 0.
	stamp   uint64
	version uint64    // db.ExperimentVersion before the experiment was read
	running int       // the running experiments it says
	liveAt  time.Time // the live poll it was built from (zero: none)
	owner   string
	// timing is the experiment's state and running-time accounting, for
	// elapsed_s.
	timing       db.Experiment
	admin, brief amapi.Status
}

// cachedStatus returns a kept answer that is still current, with its
// stamp.
func (m *Manager) cachedStatus(ctx context.Context, p Principal, id int64) (amapi.Status, uint64, bool) {
	version := m.db.ExperimentVersion(id)
	running, err := m.runningExperiments(ctx)
	if err != nil {
		return amapi.Status{}, 0, false
	}
	m.cacheMu.RLock()
	en, ok := m.current(id, version)
	m.cacheMu.RUnlock()
	if !ok || (!p.IsAdmin() && en.owner != p.Name) {
		return amapi.Status{}, 0, false
	}
	if en.running != running {
		// Another experiment started or ended: the same answer with
		// the new count, under a new stamp.
		m.cacheMu.Lock()
		if en, ok = m.current(id, version); ok && en.running != running {
			cp := *en
			cp.running, cp.admin.RunningExperiments, cp.brief.RunningExperiments = running, running, running
			m.lastStamp++
			cp.stamp = m.lastStamp
			m.statuses[id] = &cp
			en = &cp
		}
		m.cacheMu.Unlock()
		if !ok {
			return amapi.Status{}, 0, false
		}
	}
	s := en.brief
	if p.IsAdmin() {
		s = en.admin
	}
	s.ElapsedS = m.elapsed(&en.timing).Seconds()
	return s, en.stamp, true
}

// current returns the kept answers of experiment id if they were built at
// version and from its last live poll; cacheMu held.
func (m *Manager) current(id int64, version uint64) (*statusEntry, bool) {
	en, ok := m.statuses[id]
	if !ok || en.version != version {
		return nil, false
	}
	if !en.liveAt.IsZero() {
		l, ok := m.live[id]
		if !ok || !l.at.Equal(en.liveAt) {
			return nil, false
		}
	}
	return en, true
}

// runningExperiments is the number of running experiments, counted in
// memory by the database layer (db.ExperimentsIn; issue 15: counting them
// in SQLite at every change of any experiment, one reader at a time,
// kept status rebuilds waiting under make load).
func (m *Manager) runningExperiments(context.Context) (int, error) {
	return m.db.ExperimentsIn(StateRunning), nil
}

// keepStatus keeps the answers for e, built from the database at version
// (saying running experiments) and the live poll of liveAt, and returns
// their stamp.
func (m *Manager) keepStatus(e *db.Experiment, version uint64, running int, liveAt time.Time, admin, brief amapi.Status) uint64 {
	timing := db.Experiment{ID: e.ID, State: e.State, RunTime: e.RunTime, RunningSince: e.RunningSince}
	m.cacheMu.Lock()
	defer m.cacheMu.Unlock()
	if _, ok := m.statuses[e.ID]; !ok && len(m.statuses) >= maxKeptStatuses {
		// Room for this one: forget another (map order is random), one
		// that is not polled when there is such, else any; it is rebuilt
		// when asked for.
		var victim int64 = -1
		for id, en := range m.statuses {
			victim = id
			if en.liveAt.IsZero() {
				break
			}
		}
		delete(m.statuses, victim)
	}
	m.lastStamp++
	m.statuses[e.ID] = &statusEntry{stamp: m.lastStamp, version: version, running: running, liveAt: liveAt, owner: e.Owner,
		timing: timing, admin: admin, brief: brief}
	return m.lastStamp
}

// liveOf returns e's last live poll if it polled e's current jobs. It
// may be a few poll intervals old when the devices are slow to answer:
// each device's status says when it was taken (updated), and one that
// does not answer is marked unreachable by the monitor's round, so that
// callers never wait for devices.
func (m *Manager) liveOf(e *db.Experiment) (liveStatus, bool) {
	m.cacheMu.RLock()
	defer m.cacheMu.RUnlock()
	l, ok := m.live[e.ID]
	if !ok || len(l.jobs) != len(e.Devices) {
		return liveStatus{}, false
	}
	for i := range e.Devices {
		if l.jobs[i] != e.Devices[i].Job {
			return liveStatus{}, false
		}
	}
	return *l, true
}

// keepStopped keeps the statuses of e's jobs as the devices answered
// right after StopExperiment stopped them: the status that answers the
// stop is built from them instead of asking every device again (after a
// stop on 1,000 devices, behind the final pull of their results).
func (m *Manager) keepStopped(e *db.Experiment, detail, brief []amapi.DeviceStatus) {
	l := &liveStatus{detail: detail, brief: brief, at: m.cfg.Now(), jobs: make([]string, len(e.Devices))}
	for i := range e.Devices {
		l.jobs[i] = e.Devices[i].Job
	}
	m.cacheMu.Lock()
	defer m.cacheMu.Unlock()
	if _, ok := m.stopped[e.ID]; !ok && len(m.stopped) >= maxKeptStatuses {
		for victim := range m.stopped { // nobody asked for it: polled when asked
			delete(m.stopped, victim)
			break
		}
	}
	m.stopped[e.ID] = l
}

// takeStopped returns, once, the statuses keepStopped kept for e's
// current jobs.
func (m *Manager) takeStopped(e *db.Experiment) (liveStatus, bool) {
	m.cacheMu.Lock()
	defer m.cacheMu.Unlock()
	l, ok := m.stopped[e.ID]
	if !ok {
		return liveStatus{}, false
	}
	delete(m.stopped, e.ID)
	if len(l.jobs) != len(e.Devices) {
		return liveStatus{}, false
	}
	for i := range e.Devices {
		if l.jobs[i] != e.Devices[i].Job {
			return liveStatus{}, false
		}
	}
	return *l, true
}

// liveGen is e's live generation: a poll takes it before asking the
// devices and gives it to setLive.
func (m *Manager) liveGen(id int64) uint64 {
	m.cacheMu.RLock()
	defer m.cacheMu.RUnlock()
	return m.liveGens[id]
}

// setLive keeps a poll of e's devices unless a transition happened since
// the poll began (gen changed); it returns the poll as kept.
func (m *Manager) setLive(e *db.Experiment, gen uint64, detail, brief []amapi.DeviceStatus) liveStatus {
	l := liveStatus{detail: detail, brief: brief, at: m.cfg.Now()}
	l.jobs = make([]string, len(e.Devices))
	for i := range e.Devices {
		l.jobs[i] = e.Devices[i].Job
	}
	m.cacheMu.Lock()
	defer m.cacheMu.Unlock()
	if m.liveGens[e.ID] == gen {
		m.live[e.ID] = &l
	}
	return l
}

// dropLive forgets experiment id's live poll, and makes the polls on
// their way discard theirs (a transition).
func (m *Manager) dropLive(id int64) {
	m.cacheMu.Lock()
	defer m.cacheMu.Unlock()
	delete(m.live, id)
	m.liveGens[id]++
}

// pruneLive forgets the live polls of experiments that are no longer
// running or paused (not in keep).
func (m *Manager) pruneLive(keep map[int64]bool) {
	m.cacheMu.Lock()
	defer m.cacheMu.Unlock()
	for id := range m.live {
		if !keep[id] {
			delete(m.live, id)
		}
	}
}

// lockRebuild locks the rebuild of experiment id's answer.
func (m *Manager) lockRebuild(id int64) func() {
	m.rebuildMu.Lock()
	l, ok := m.rebuilds[id]
	if !ok {
		l = &sync.Mutex{}
		m.rebuilds[id] = l
	}
	m.rebuildMu.Unlock()
	l.Lock()
	return l.Unlock
}

// forgetStatus forgets everything kept of a deleted experiment.
func (m *Manager) forgetStatus(id int64) {
	m.rebuildMu.Lock()
	delete(m.rebuilds, id)
	m.rebuildMu.Unlock()
	m.cacheMu.Lock()
	defer m.cacheMu.Unlock()
	delete(m.live, id)
	delete(m.liveGens, id)
	delete(m.statuses, id)
	delete(m.stopped, id)
}
