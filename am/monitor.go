package am

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// monitor is one round of the background loop: it polls every running
// or paused experiment's devices (status, duration_s, file sources that
// ended) and stores what it learns in one transaction. Beside the round,
// in goroutines it does not wait for, run the periodic pulls, the retries
// of the stops still pending on ended experiments with their final pulls,
// and the cancels of the starts whose answer never came.
func (m *Manager) monitor(ctx context.Context) {
	start := time.Now()
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		m.pollCycle.Store(int64(time.Since(start)))
	}()
	// Cancels wait a device timeout for each device that does not
	// answer: they run beside the round, one run at a time.
	if m.cancelling.CompareAndSwap(false, true) {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			defer m.cancelling.Store(false)
			m.cancelStarts(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.expire(ctx)
		m.pruneAudit(ctx)
	}()
	list, err := m.db.ListExperiments(ctx, "", StateRunning, StatePaused, StateDone)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Error("monitor: unable to list experiments", "error", err)
		}
		return
	}
	// The statuses the round learns are stored at its end, in one
	// transaction.
	var batch statusBatch
	defer func() {
		wg.Wait()
		if err := m.db.SetPairingStatuses(ctx, batch.list); err != nil && ctx.Err() == nil {
			m.log.Warn("unable to store the devices' statuses", "error", err)
		}
	}()
	live := map[int64]bool{}
	for i := range list {
		e := &list[i]
		live[e.ID] = e.State != StateDone
		v, ok := configView(e)
		if e.State == StateDone && !stopPending(e) && (!ok || v.Storage != StorageRemote || e.ResultsPulled) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.follow(ctx, e, &v, &batch)
		}()
	}
	m.pruneLive(live)
}

// statusBatch gathers the statuses of a monitor round.
type statusBatch struct {
	mu   sync.Mutex
	list []db.PairingStatus
}

// add queues e's devices' statuses (those that answered).
func (b *statusBatch) add(e *db.Experiment, devs []amapi.DeviceStatus) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, st := range devs {
		if !st.Reachable || e.Devices[i].Job == "" {
			continue
		}
		if raw, err := json.Marshal(st); err == nil {
			b.list = append(b.list, db.PairingStatus{Experiment: e.ID, Position: e.Devices[i].Position,
				Status: string(raw), At: st.Updated})
		}
	}
}

// follow does one monitor round for experiment e; the statuses it
// learns go to batch.
func (m *Manager) follow(ctx context.Context, e *db.Experiment, v *amapi.ConfigView, batch *statusBatch) {
	if e.State == StateDone {
		// The pending stops (a device that does not answer takes a
		// device timeout) and the final pull run beside the monitor's
		// rounds, which do not wait for them. The final pull waits for
		// every job to be stopped, and runs under the experiment's lock,
		// so that DeleteExperiment and the retention never race a pull
		// that would bring files back.
		m.pullBeside(e.ID, func() {
			m.retryStops(ctx, e)
			if stopPending(e) || v.Storage != StorageRemote || e.ResultsPulled {
				return
			}
			unlock := m.lockExperiment(e.ID)
			defer unlock()
			if x, err := m.db.GetExperiment(ctx, e.ID); err != nil || x.ResultsPulled {
				return
			}
			m.pullFinal(ctx, e)
		})
		return
	}
	gen := m.liveGen(e.ID)
	devs, brief := m.pollDevices(ctx, e)
	m.setLive(e, gen, devs, brief)
	batch.add(e, devs)
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
	if v.Storage == StorageRemote && !m.pulling(e.ID) && m.duePull(e.ID) {
		m.pullBeside(e.ID, func() {
			if err := m.pull(ctx, e); err != nil && ctx.Err() == nil {
				m.log.Warn("pull of results failed", "experiment", e.ID, "error", err)
			}
		})
	}
}

// pulling tells whether a pull of experiment id runs beside the monitor.
func (m *Manager) pulling(id int64) bool {
	m.pullMu.Lock()
	defer m.pullMu.Unlock()
	return m.pullsBeside[id]
}

// pullBeside runs fn, a pull of experiment id, in a goroutine of its own
// (Stop waits for it), unless one already runs: the monitor's round and
// its polls do not wait for pulls, which take as long as the files do.
func (m *Manager) pullBeside(id int64, fn func()) {
	m.pullMu.Lock()
	if m.pullsBeside[id] {
		m.pullMu.Unlock()
		return
	}
	m.pullsBeside[id] = true
	m.pullMu.Unlock()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer func() {
			m.pullMu.Lock()
			delete(m.pullsBeside, id)
			m.pullMu.Unlock()
		}()
		fn()
	}()
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
	// No pull after the final one: its flow store closes (the copies are
	// complete, the store's files at rest) before the results say pulled.
	m.ingests.forget(e.ID)
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
