package am

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/deviceapi"
)

// GetExperimentStatus aggregates the status of an experiment's jobs. A
// device that does not answer is marked unreachable and shows the last
// counters seen; the experiment's status stays available. Experimenters
// read the devices' errors briefly (no address, no detail about a flows
// collector); admins in full.
//
// The answer comes from memory (statuscache.go): the devices of running
// and paused experiments are polled by the monitor, every PollInterval,
// not by the callers, and an answer is built once per change of the
// experiment (a database write, a new poll) however many clients ask.
func (m *Manager) GetExperimentStatus(ctx context.Context, p Principal, id int64) (amapi.Status, error) {
	s, _, err := m.ExperimentStatus(ctx, p, id)
	return s, err
}

// ExperimentStatus is GetExperimentStatus with the stamp of the answer:
// the answers given to callers of the same role (admin or not) under the
// same nonzero stamp differ in elapsed_s only, so that the API may keep
// an answer encoded and serve it again while the stamp holds. Stamp 0: the
// answer was not kept (it may change at the next call).
func (m *Manager) ExperimentStatus(ctx context.Context, p Principal, id int64) (_ amapi.Status, stamp uint64, _ error) {
	if s, stamp, ok := m.cachedStatus(ctx, p, id); ok {
		return s, stamp, nil
	}
	// One rebuild at a time: the callers that missed together wait for
	// the first one's answer instead of all reading the database.
	unlock := m.lockRebuild(id)
	defer unlock()
	if s, stamp, ok := m.cachedStatus(ctx, p, id); ok {
		return s, stamp, nil
	}
	version := m.db.ExperimentVersion(id)
	e, err := m.experiment(ctx, p, id)
	if err != nil {
		return amapi.Status{}, 0, err
	}
	expires, expired, err := m.retentionStatus(ctx, &e)
	if err != nil {
		return amapi.Status{}, 0, err
	}
	var (
		detail, brief []amapi.DeviceStatus
		liveAt        time.Time
		keep          = true
	)
	switch {
	case expired:
		detail = storedStatuses(&e) // the devices deleted the jobs
		brief = detail
	case e.State == StateRunning || e.State == StatePaused:
		l, ok := m.liveOf(&e)
		if !ok {
			gen := m.liveGen(e.ID)
			l.detail, l.brief = m.pollDevices(ctx, &e)
			l = m.setLive(&e, gen, l.detail, l.brief)
		}
		detail, brief, liveAt = l.detail, l.brief, l.at
	default:
		if l, ok := m.takeStopped(&e); ok {
			// What the devices answered right after they stopped
			// their jobs: not asked again.
			detail, brief = l.detail, l.brief
		} else {
			detail, brief = m.pollDevices(ctx, &e)
		}
		// A done experiment's statuses are final once every device has
		// answered that its job is done.
		keep = final(&e, detail)
	}
	running, err := m.runningExperiments(ctx)
	if err != nil {
		return amapi.Status{}, 0, err
	}
	admin, exp := m.aggregate(&e, detail, running), m.aggregate(&e, brief, running)
	admin.Expires, admin.FilesExpired = expires, expired
	exp.Expires, exp.FilesExpired = expires, expired
	for _, s := range []*amapi.Status{&admin, &exp} {
		if err := m.scheduleStatus(ctx, &e, s); err != nil {
			return amapi.Status{}, 0, err
		}
	}
	if keep {
		stamp = m.keepStatus(&e, version, running, liveAt, admin, exp)
	}
	if p.IsAdmin() {
		return admin, stamp, nil
	}
	return exp, stamp, nil
}

// final tells whether devs, the statuses of e's jobs, can no longer
// change: e has no job, or every device answered that its job is done.
func final(e *db.Experiment, devs []amapi.DeviceStatus) bool {
	for i, d := range devs {
		if e.Devices[i].Job != "" && (!d.Reachable || d.State != "done" || d.StopPending) {
			return false
		}
	}
	return true
}

// pollDevices asks every device of e for its job's status, DeviceConcurrency
// at a time, and falls back to the stored status for those that do not
// answer. It returns the statuses as admins read them (detail) and as
// experimenters do (brief errors).
func (m *Manager) pollDevices(ctx context.Context, e *db.Experiment) (detail, brief []amapi.DeviceStatus) {
	detail = make([]amapi.DeviceStatus, len(e.Devices))
	brief = make([]amapi.DeviceStatus, len(e.Devices))
	clients, missing, err := m.deviceClients(ctx, e)
	if err != nil {
		missing = map[string]error{}
		for i := range e.Devices {
			missing[e.Devices[i].Device] = err
		}
	}
	m.fanOut(len(e.Devices), func(i int) {
		pair := &e.Devices[i]
		if pair.Job == "" {
			detail[i], brief[i] = m.pairStatus(pair, nil, nil)
			return
		}
		err, ok := missing[pair.Device]
		var js deviceapi.JobStatus
		if !ok {
			js, err = clients[pair.Device].JobStatus(ctx, pair.Job)
		}
		detail[i], brief[i] = m.pairStatus(pair, &js, err)
	})
	return detail, brief
}

// pairStatus is a pairing's status as admins read it (detail) and as
// experimenters do (brief errors), from its job's status js or the error
// of asking for it (js nil: the pairing has no job).
func (m *Manager) pairStatus(pair *db.Pairing, js *deviceapi.JobStatus, err error) (detail, brief amapi.DeviceStatus) {
	if js == nil {
		detail = storedStatus(pair)
		detail.Reachable = true
		return detail, detail
	}
	if err == nil {
		detail = deviceStatus(pair, js, m.cfg.Now())
	} else {
		// The last status seen stands in for the device's.
		detail = storedStatus(pair)
	}
	brief = detail
	if err != nil {
		detail.Reachable, brief.Reachable = false, false
		detail.Errors = append(slices.Clip(detail.Errors), deviceError(pair.Device, err).Error())
		brief.Errors = append(slices.Clip(brief.Errors), ErrDevice.Error()+": "+deviceBrief(pair.Device, err))
	}
	brief.Errors = slices.Clone(brief.Errors)
	for j, msg := range brief.Errors {
		brief.Errors[j] = briefDeviceMessage(msg)
	}
	if pair.StopPending {
		msg := stopPendingMessage(pair.Device)
		detail.StopPending, brief.StopPending = true, true
		detail.Errors = append(slices.Clip(detail.Errors), msg)
		brief.Errors = append(slices.Clip(brief.Errors), msg)
	}
	return detail, brief
}

// stopPendingMessage is the status error of a pairing whose device has
// not stopped its job yet.
func stopPendingMessage(device string) string {
	return "stop pending: device " + device + " did not answer StopExperiment; the aggregate manager stops its job when it answers"
}

// deviceStatus converts a job's status.
func deviceStatus(pair *db.Pairing, js *deviceapi.JobStatus, at time.Time) amapi.DeviceStatus {
	errs := js.Errors
	if errs == nil {
		errs = []string{}
	}
	return amapi.DeviceStatus{Device: pair.Device, Interface: pair.Interface, Job: pair.Job, State: js.State,
		Reachable: true, Packets: js.Packets, Bytes: js.Bytes, Dropped: js.Dropped + js.IfDropped,
		FlowsExported: js.FlowsExported, CollectorLost: js.CollectorLost, Malformed: js.Malformed,
		Truncated: js.Truncated, SanitizedDrops: js.SanitizedDrops, ElapsedS: js.ElapsedS, Progress: js.Progress, InterruptedS: js.InterruptedS,
		CPUPercent: js.CPUPercent, StorageUsedBytes: js.StorageUsedBytes, StorageFreeBytes: js.StorageFreeBytes,
		Errors: errs, Updated: at.UTC().Truncate(time.Millisecond)}
}

// storedStatus is the last status stored for a pairing (zero counters
// before the first).
func storedStatus(pair *db.Pairing) amapi.DeviceStatus {
	var st amapi.DeviceStatus
	if pair.Status != "" {
		json.Unmarshal([]byte(pair.Status), &st)
	}
	st.Device, st.Interface, st.Job = pair.Device, pair.Interface, pair.Job
	if st.Errors == nil {
		st.Errors = []string{}
	}
	return st
}

// aggregate sums the devices' statuses into the experiment's; running
// is the number of running experiments.
func (m *Manager) aggregate(e *db.Experiment, devs []amapi.DeviceStatus, running int) amapi.Status {
	s := amapi.Status{ID: e.ID, State: e.State, ElapsedS: m.elapsed(e).Seconds(), Errors: []string{},
		RunningExperiments: running, Devices: devs}
	for i, d := range devs {
		s.Packets += d.Packets
		s.Bytes += d.Bytes
		s.Dropped += d.Dropped
		s.SanitizedDrops += d.SanitizedDrops
		s.FlowsExported += d.FlowsExported
		s.StorageUsedBytes += d.StorageUsedBytes
		s.CPUPercent = max(s.CPUPercent, d.CPUPercent)
		if d.StorageFreeBytes > 0 && (i == 0 || s.StorageFreeBytes == 0 || d.StorageFreeBytes < s.StorageFreeBytes) {
			s.StorageFreeBytes = d.StorageFreeBytes
		}
		for _, msg := range d.Errors {
			s.Errors = append(s.Errors, d.Device+":"+d.Interface+": "+msg)
		}
	}
	if v, ok := configView(e); ok && v.Storage == StorageRemote && e.State == StateDone {
		s.ResultsPulled = e.ResultsPulled
	}
	return s
}

// elapsed is e's running time, pauses excluded.
func (m *Manager) elapsed(e *db.Experiment) time.Duration {
	d := e.RunTime
	if e.State == StateRunning && !e.RunningSince.IsZero() {
		d += m.cfg.Now().Sub(e.RunningSince)
	}
	return d
}
