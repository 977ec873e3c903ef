package am

import (
	"context"
	"sync"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// monitor is one round of the background loop: it follows every running
// or paused experiment (status, duration_s, file sources that ended,
// periodic pulls), retries the stops still pending on ended ones and
// then pulls their final results. Beside, it
// cancels the starts whose answer never came that it could not cancel
// then.
func (m *Manager) monitor(ctx context.Context) {
	start := time.Now()
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		m.pollCycle.Store(int64(time.Since(start)))
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.cancelStarts(ctx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.expire(ctx)
	}()
	list, err := m.db.ListExperiments(ctx, "", StateRunning, StatePaused, StateDone)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Error("monitor: unable to list experiments", "error", err)
		}
		return
	}
	for i := range list {
		e := &list[i]
		v, ok := configView(e)
		if e.State == StateDone && !stopPending(e) && (!ok || v.Storage != StorageRemote || e.ResultsPulled) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.follow(ctx, e, &v)
		}()
	}
}

// follow does one monitor round for experiment e.
func (m *Manager) follow(ctx context.Context, e *db.Experiment, v *amapi.ConfigView) {
	if e.State == StateDone {
		m.retryStops(ctx, e)
		if stopPending(e) || v.Storage != StorageRemote || e.ResultsPulled {
			return
		}
		// The final pull waits for every job to be stopped, and runs
		// under the experiment's lock, so that DeleteExperiment and the
		// retention never race a pull that would bring files back.
		unlock := m.lockExperiment(e.ID)
		defer unlock()
		if x, err := m.db.GetExperiment(ctx, e.ID); err != nil || x.ResultsPulled {
			return
		}
		m.pullFinal(ctx, e)
		return
	}
	devs := m.pollDevices(ctx, e, true, true)
	if _, err := m.aggregate(ctx, e, devs); err != nil {
		return
	}
	if e.State != StateRunning {
		return
	}
	ended := true
	for _, d := range devs {
		ended = ended && d.Reachable && d.State == "done"
	}
	overdue := v.DurationS > 0 && m.elapsed(e) >= time.Duration(v.DurationS)*time.Second
	if ended || overdue {
		why := "every capture source ended"
		if !ended {
			why = "duration_s reached"
		}
		m.autoStop(ctx, e.ID, why)
		return
	}
	if v.Storage == StorageRemote && m.duePull(e.ID) {
		if err := m.pull(ctx, e); err != nil && ctx.Err() == nil {
			m.log.Warn("pull of results failed", "experiment", e.ID, "error", err)
		}
	}
}

// stopPending tells whether one of e's devices has not stopped its job
// yet.
func stopPending(e *db.Experiment) bool {
	for i := range e.Devices {
		if e.Devices[i].StopPending {
			return true
		}
	}
	return false
}

// autoStop ends a running experiment on the manager's own account.
func (m *Manager) autoStop(ctx context.Context, id int64, why string) {
	unlock := m.lockExperiment(id)
	defer unlock()
	e, err := m.db.GetExperiment(ctx, id)
	if err != nil || e.State != StateRunning {
		return
	}
	err = m.stop(ctx, &e)
	if err == nil {
		err = m.record(ctx, &e, system(), StateDone)
	}
	if err != nil {
		m.log.Warn("automatic stop failed", "experiment", id, "reason", why, "error", err)
		return
	}
	m.log.Info("experiment stopped by the manager", "experiment", id, "reason", why)
	if v, ok := configView(&e); ok && v.Storage == StorageRemote && !stopPending(&e) {
		m.pullFinal(ctx, &e)
	}
}

// pullFinal pulls an ended experiment's results and marks them pulled.
func (m *Manager) pullFinal(ctx context.Context, e *db.Experiment) {
	if !m.duePull(e.ID) {
		return
	}
	if err := m.pull(ctx, e); err != nil {
		if ctx.Err() == nil {
			m.log.Warn("final pull of results failed, will retry", "experiment", e.ID, "error", err)
		}
		return
	}
	if _, err := m.db.UpdateExperiment(ctx, e.ID, "", func(x *db.Experiment) error {
		x.ResultsPulled = true
		return nil
	}); err != nil {
		m.log.Error("unable to mark results pulled", "experiment", e.ID, "error", err)
		return
	}
	m.pullMu.Lock()
	delete(m.lastPull, e.ID)
	m.pullMu.Unlock()
	m.log.Info("results pulled", "experiment", e.ID, "folder", m.pairDir(e.ID, 0))
}

// duePull tells whether experiment id's files are due for a pull (the
// first time at once, then every PullInterval), and if so notes it.
func (m *Manager) duePull(id int64) bool {
	now := m.cfg.Now()
	m.pullMu.Lock()
	defer m.pullMu.Unlock()
	if last, ok := m.lastPull[id]; ok && now.Sub(last) < m.cfg.PullInterval {
		return false
	}
	m.lastPull[id] = now
	return true
}
