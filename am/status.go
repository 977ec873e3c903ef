package am

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
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
func (m *Manager) GetExperimentStatus(ctx context.Context, p Principal, id int64) (amapi.Status, error) {
	e, err := m.experiment(ctx, p, id)
	if err != nil {
		return amapi.Status{}, err
	}
	expires, expired, err := m.retentionStatus(ctx, &e)
	if err != nil {
		return amapi.Status{}, err
	}
	var devs []amapi.DeviceStatus
	if expired {
		devs = storedStatuses(&e) // the devices deleted the jobs
	} else {
		devs = m.pollDevices(ctx, &e, false, p.IsAdmin())
	}
	s, err := m.aggregate(ctx, &e, devs)
	s.Expires, s.FilesExpired = expires, expired
	if err == nil {
		err = m.scheduleStatus(ctx, &e, &s)
	}
	return s, err
}

// pollDevices asks every device of e for its job's status at once and
// falls back to the stored status for those that do not answer. store
// keeps what it learns (the monitor does, every PollInterval; API calls
// do not, so that many clients asking for a status do not queue for the
// database's write lock). Without detail, the errors are the brief ones
// experimenters read.
func (m *Manager) pollDevices(ctx context.Context, e *db.Experiment, store, detail bool) []amapi.DeviceStatus {
	out := make([]amapi.DeviceStatus, len(e.Devices))
	var wg sync.WaitGroup
	defer func() {
		if detail {
			return
		}
		for i := range out {
			for j, msg := range out[i].Errors {
				out[i].Errors[j] = briefDeviceMessage(msg)
			}
		}
	}()
	defer func() {
		for i := range e.Devices {
			if e.Devices[i].StopPending {
				out[i].StopPending = true
				out[i].Errors = append(out[i].Errors, stopPendingMessage(e.Devices[i].Device))
			}
		}
	}()
	for i := range e.Devices {
		pair := &e.Devices[i]
		out[i] = storedStatus(pair)
		if pair.Job == "" {
			out[i].Reachable = true
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := m.jobStatus(ctx, pair)
			if err != nil {
				out[i].Reachable = false
				if detail {
					out[i].Errors = append(out[i].Errors, deviceError(pair.Device, err).Error())
				} else {
					out[i].Errors = append(out[i].Errors, ErrDevice.Error()+": "+deviceBrief(pair.Device, err))
				}
				return
			}
			out[i] = st
			if !store {
				return
			}
			if raw, err := json.Marshal(st); err == nil {
				if err := m.db.SetPairingStatus(ctx, e.ID, pair.Position, string(raw), st.Updated); err != nil {
					m.log.Warn("unable to store a device status", "experiment", e.ID, "error", err)
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// stopPendingMessage is the status error of a pairing whose device has
// not stopped its job yet.
func stopPendingMessage(device string) string {
	return "stop pending: device " + device + " did not answer StopExperiment; the aggregate manager stops its job when it answers"
}

// jobStatus asks one device for its job's status.
func (m *Manager) jobStatus(ctx context.Context, pair *db.Pairing) (amapi.DeviceStatus, error) {
	d, err := m.db.GetDevice(ctx, pair.Device)
	if err != nil {
		return amapi.DeviceStatus{}, fmt.Errorf("device %s no longer exists", pair.Device)
	}
	c, err := m.client(&d)
	if err != nil {
		return amapi.DeviceStatus{}, err
	}
	js, err := c.JobStatus(ctx, pair.Job)
	if err != nil {
		return amapi.DeviceStatus{}, err
	}
	return deviceStatus(pair, &js, m.cfg.Now()), nil
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

// aggregate sums the devices' statuses into the experiment's.
func (m *Manager) aggregate(ctx context.Context, e *db.Experiment, devs []amapi.DeviceStatus) (amapi.Status, error) {
	counts, err := m.db.CountExperiments(ctx)
	if err != nil {
		return amapi.Status{}, err
	}
	s := amapi.Status{ID: e.ID, State: e.State, ElapsedS: m.elapsed(e).Seconds(), Errors: []string{},
		RunningExperiments: counts[StateRunning], Devices: devs}
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
	return s, nil
}

// elapsed is e's running time, pauses excluded.
func (m *Manager) elapsed(e *db.Experiment) time.Duration {
	d := e.RunTime
	if e.State == StateRunning && !e.RunningSince.IsZero() {
		d += m.cfg.Now().Sub(e.RunningSince)
	}
	return d
}
