package am

import (
	"context"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// expire deletes the files of the done experiments that ended more than
// Retention ago, on their devices and on the AM, and keeps their records
// (GetExperimentStatus says files_expired). A device that does not answer
// leaves the experiment to the next try; the AM's copies go at once. The
// monitor runs it at most every PullInterval.
func (m *Manager) expire(ctx context.Context) {
	if m.cfg.Retention <= 0 {
		return
	}
	now := m.cfg.Now()
	if !m.due(&m.lastExpire, now) {
		return
	}
	ids, err := m.db.ExpiredExperiments(ctx, now.Add(-m.cfg.Retention))
	if err != nil {
		if ctx.Err() == nil {
			m.log.Error("retention: unable to list expired experiments", "error", err)
		}
		return
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		m.expireOne(ctx, id)
	}
}

// expireOne deletes the files of done experiment id.
func (m *Manager) expireOne(ctx context.Context, id int64) {
	unlock := m.lockExperiment(id)
	defer unlock()
	e, err := m.db.GetExperiment(ctx, id)
	if err != nil || e.State != StateDone {
		return
	}
	err = m.deleteFiles(ctx, &e)
	m.audit(ctx, system(), "Retention", auditID(id), &err)
	if err != nil {
		m.log.Warn("retention: files not all deleted, will retry", "experiment", id, "error", err)
		return
	}
	if err := m.db.MarkExpired(ctx, id, m.cfg.Now()); err != nil {
		m.log.Error("retention", "experiment", id, "error", err)
		return
	}
	m.log.Info("retention: files of the experiment deleted", "experiment", id, "retention", m.cfg.Retention)
}

// retentionStatus fills s's expires and files_expired for a done
// experiment, and tells whether its files are gone (its devices then no
// longer know its jobs).
func (m *Manager) retentionStatus(ctx context.Context, e *db.Experiment) (expires time.Time, expired bool, err error) {
	if e.State != StateDone {
		return time.Time{}, false, nil
	}
	if expired, err = m.db.Expired(ctx, e.ID); err != nil || expired || m.cfg.Retention <= 0 {
		return time.Time{}, expired, err
	}
	done, err := m.db.DoneAt(ctx, e.ID)
	if err != nil || done.IsZero() {
		return time.Time{}, false, err
	}
	return done.Add(m.cfg.Retention).UTC().Truncate(time.Second), false, nil
}

// storedStatuses are e's devices' last statuses seen, without asking them.
func storedStatuses(e *db.Experiment) []amapi.DeviceStatus {
	out := make([]amapi.DeviceStatus, len(e.Devices))
	for i := range e.Devices {
		out[i] = storedStatus(&e.Devices[i])
	}
	return out
}

// pruneAudit deletes the audit entries older than AuditRetention (none
// when it is zero). The monitor runs it at most every PullInterval.
func (m *Manager) pruneAudit(ctx context.Context) {
	if m.cfg.AuditRetention <= 0 {
		return
	}
	now := m.cfg.Now()
	if !m.due(&m.lastPrune, now) {
		return
	}
	n, err := m.db.PruneAudit(ctx, now.Add(-m.cfg.AuditRetention))
	if err != nil {
		if ctx.Err() == nil {
			m.log.Error("audit retention: unable to prune the audit log", "error", err)
		}
		return
	}
	if n > 0 {
		m.log.Info("audit retention: old entries deleted", "entries", n, "retention", m.cfg.AuditRetention)
	}
}

// due tells whether a housekeeping task last run at *last is due again at
// now (once per PullInterval), and if so records now as its last run.
func (m *Manager) due(last *time.Time, now time.Time) bool {
	m.pullMu.Lock()
	defer m.pullMu.Unlock()
	if now.Sub(*last) < m.cfg.PullInterval {
		return false
	}
	*last = now
	return true
}
