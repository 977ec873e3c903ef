package am

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/xmlrpc"
)

// deviceStep is one half of an all-or-nothing transition on one pairing.
type deviceStep func(ctx context.Context, c *deviceapi.Client, pair *db.Pairing) error

// onAll runs do on every pairing at once. When any fails, undo runs on
// the pairings where do succeeded and the error names every device that
// failed (ErrDevice). undo may be nil when nothing can be undone.
//
// The transition waits for its devices one device timeout at most: every
// do call must be answered within DeviceTimeout of the transition's
// start, however long it queued behind the others (DeviceConcurrency), so
// that a few devices that hang fail a transition on 1,000 devices when the
// device timeout is over, not a timeout after their turn came. The undo
// starts as soon as a failure is known, on every pairing done so far at
// once (not DeviceConcurrency at a time: a rollback is as urgent as it is
// rare) and on each later one as it answers.
func (m *Manager) onAll(ctx context.Context, e *db.Experiment, call string, do, undo deviceStep) error {
	type target struct {
		client  *deviceapi.Client
		err     error
		untried bool // not called: the device timeout was over before its turn
	}
	clients, missing, err := m.deviceClients(ctx, e)
	if err != nil {
		return err
	}
	targets := make([]target, len(e.Devices))
	for i := range e.Devices {
		name := e.Devices[i].Device
		if err, ok := missing[name]; ok {
			if _, gone := err.(deletedDevice); gone {
				return fmt.Errorf("%w: %s: device %s no longer exists", ErrDevice, call, name)
			}
			return err
		}
		targets[i].client = clients[name]
	}
	var (
		undone  = make([]error, len(e.Devices))
		undoWG  sync.WaitGroup
		mu      sync.Mutex
		failing bool  // a do call failed
		done    []int // the pairings do succeeded on before
	)
	rollBack := func(i int) {
		undoWG.Add(1)
		go func() {
			defer undoWG.Done()
			undone[i] = undo(ctx, targets[i].client, &e.Devices[i])
		}()
	}
	doCtx, cancel := context.WithTimeout(ctx, m.cfg.DeviceTimeout)
	defer cancel()
	// All devices at once, DeviceConcurrency calls in flight.
	m.fanOut(len(e.Devices), func(i int) {
		if doCtx.Err() != nil {
			// Its turn came after the transition's time was over.
			targets[i].untried = true
			return
		}
		err := do(doCtx, targets[i].client, &e.Devices[i])
		mu.Lock()
		defer mu.Unlock()
		targets[i].err = err
		switch {
		case undo == nil:
		case err != nil && !failing:
			failing = true
			for _, j := range done {
				rollBack(j)
			}
		case err == nil && failing:
			rollBack(i)
		case err == nil:
			done = append(done, i)
		}
	})
	if undo != nil && !failing && slices.ContainsFunc(targets, func(t target) bool { return t.untried }) {
		// Not a failure, but not all: undone all the same.
		for _, j := range done {
			rollBack(j)
		}
	}
	undoWG.Wait()
	var failed, failedBrief, untried []string
	for i, t := range targets {
		if t.err != nil {
			failed = append(failed, pairName(&e.Devices[i])+": "+deviceProblem(e.Devices[i].Device, t.err))
			failedBrief = append(failedBrief, pairName(&e.Devices[i])+": "+deviceBrief(e.Devices[i].Device, t.err))
		}
		if t.untried {
			untried = append(untried, pairName(&e.Devices[i]))
		}
	}
	if len(failed) == 0 && len(untried) == 0 {
		return nil
	}
	if len(failed) == 0 {
		failed, failedBrief = []string{"no device"}, []string{"no device"}
	}
	var rolledBack, stuck, stuckBrief []string
	if undo != nil {
		for i := range e.Devices {
			if targets[i].err != nil || targets[i].untried {
				continue
			}
			if err := undone[i]; err != nil {
				stuck = append(stuck, fmt.Sprintf("%s (%v)", pairName(&e.Devices[i]), err))
				stuckBrief = append(stuckBrief, pairName(&e.Devices[i]))
				continue
			}
			rolledBack = append(rolledBack, pairName(&e.Devices[i]))
		}
	}
	msg := fmt.Sprintf("%s of experiment %d failed on %s", call, e.ID, strings.Join(failed, "; "))
	brief := fmt.Sprintf("%s of experiment %d failed on %s", call, e.ID, strings.Join(failedBrief, "; "))
	if len(untried) > 0 {
		after := fmt.Sprintf("; not tried (the device timeout of %s was over before their turn) on %s", m.cfg.DeviceTimeout,
			strings.Join(untried, ", "))
		msg += after
		brief += after
	}
	if len(rolledBack) > 0 {
		msg += "; rolled back on " + strings.Join(rolledBack, ", ")
		brief += "; rolled back on " + strings.Join(rolledBack, ", ")
	}
	if len(stuck) > 0 {
		msg += "; could not roll back " + strings.Join(stuck, ", ")
		brief += "; could not roll back " + strings.Join(stuckBrief, ", ")
	}
	m.log.Warn("transition failed on a device", "experiment", e.ID, "call", call, "detail", msg)
	return &deviceFailure{detail: msg, brief: brief}
}

// pairName is "device:interface".
func pairName(p *db.Pairing) string { return p.Device + ":" + p.Interface }

// inState makes a refused pause, resume or stop a success when the job
// is already where the call would take it (after a partial failure, or a
// file source that ended): the transitions are idempotent per device.
func inState(ctx context.Context, c *deviceapi.Client, job string, err error, ok ...string) error {
	var f *xmlrpc.Fault
	if !errors.As(err, &f) || f.Code != deviceapi.FaultState {
		return err
	}
	st, serr := c.JobStatus(ctx, job)
	if serr != nil {
		return err
	}
	if slices.Contains(ok, st.State) {
		return nil
	}
	return err
}

// transition runs one lifecycle call on experiment id: with the
// experiment locked, fn works on the devices and says the new state, which
// is recorded as a transition by p; the experiment's status is returned.
// The device calls are not cut short by a client that goes away.
func (m *Manager) transition(ctx context.Context, p Principal, id int64,
	fn func(ctx context.Context, e *db.Experiment) (to string, err error)) (amapi.Status, error) {
	ctx = context.WithoutCancel(ctx)
	err := func() error {
		unlock := m.lockExperiment(id)
		defer unlock()
		e, err := m.experiment(ctx, p, id)
		if err != nil {
			return err
		}
		from := e.State
		to, err := fn(ctx, &e)
		if err != nil {
			return err
		}
		if err := m.record(ctx, &e, p, to); err != nil {
			return err
		}
		if from == StateConfigured && to == StateRunning {
			m.justStarted(&e)
		}
		return nil
	}()
	if err != nil {
		return amapi.Status{}, forPrincipal(p, err)
	}
	return m.GetExperimentStatus(ctx, p, id)
}

// justStarted makes the status of e, whose jobs every device has just
// started, known without asking the devices again: each is reachable,
// its job running with nothing counted yet. The monitor's next poll
// brings the counters; a start on 1,000 devices does not wait for a poll
// of all of them before it answers.
func (m *Manager) justStarted(e *db.Experiment) {
	now := m.cfg.Now().UTC().Truncate(time.Millisecond)
	devs := make([]amapi.DeviceStatus, len(e.Devices))
	for i := range e.Devices {
		pair := &e.Devices[i]
		devs[i] = amapi.DeviceStatus{Device: pair.Device, Interface: pair.Interface, Job: pair.Job,
			State: StateRunning, Reachable: true, Errors: []string{}, Updated: now}
	}
	m.setLive(e, m.liveGen(e.ID), devs, devs)
	m.pollSoon()
}

// pauseJob and resumeJob are the device halves of pausing and resuming,
// each the other's undo.
func pauseJob(ctx context.Context, c *deviceapi.Client, pair *db.Pairing) error {
	return inState(ctx, c, pair.Job, c.PauseJob(ctx, pair.Job), "paused", "done")
}

func resumeJob(ctx context.Context, c *deviceapi.Client, pair *db.Pairing) error {
	return inState(ctx, c, pair.Job, c.ResumeJob(ctx, pair.Job), "running", "done")
}

// StartExperiment starts (configured → running) or resumes (paused →
// running) an experiment on all its devices, or on none.
//
// A start by hand is refused (ErrConflict) when the experiment would then
// capture on a device interface while a scheduled run of another
// experiment does, or, when it has a schedule itself, while another
// experiment runs there (SPEC §13).
func (m *Manager) StartExperiment(ctx context.Context, p Principal, id int64) (_ amapi.Status, err error) {
	return m.startExperiment(ctx, p, id, true)
}

// startExperiment is StartExperiment, with the conflict check or
// without (the scheduler's starts were checked with the schedule).
func (m *Manager) startExperiment(ctx context.Context, p Principal, id int64, check bool) (_ amapi.Status, err error) {
	defer m.audit(ctx, p, "StartExperiment", auditID(id), &err)
	return m.transition(ctx, p, id, func(ctx context.Context, e *db.Experiment) (string, error) {
		if e.State != StateConfigured && e.State != StatePaused {
			return "", stateError(id, e.State, "StartExperiment")
		}
		if check {
			if err := m.checkStartConflicts(ctx, e); err != nil {
				return "", err
			}
		}
		// The policies may have changed since the configuration.
		v, ok := configView(e)
		if !ok {
			return "", fmt.Errorf("experiment %d: stored configuration unreadable", e.ID)
		}
		policies, err := m.checkPolicies(ctx, e, &v, v.Anonymize != nil && v.Anonymize.Key == "")
		if err != nil {
			return "", fmt.Errorf("start %d: %w", id, err)
		}
		if e.State == StateConfigured {
			return StateRunning, m.startJobs(ctx, e, policies)
		}
		return StateRunning, m.onAll(ctx, e, "StartExperiment", resumeJob, pauseJob)
	})
}

// startJobs starts one job per pairing with the stored configuration.
// Every StartJob carries a request id made of the AM's instance id, the
// experiment, this attempt's number and the pairing, so that a device
// makes at most one job per request. When the start fails somewhere, the
// jobs that started are stopped, and so is whatever a device may have
// started without the AM getting its answer (a timeout): StopJob with the
// request id, now or, while that device does not answer, by the monitor
// later (cancelStarts). Each job gets the storage bound of its device's
// policy (policies, by device name).
func (m *Manager) startJobs(ctx context.Context, e *db.Experiment, policies map[string]amapi.DevicePolicy) error {
	v, ok := configView(e)
	if !ok {
		return fmt.Errorf("experiment %d: stored configuration unreadable", e.ID)
	}
	key, err := m.keys.Open(e.Key)
	if err != nil {
		return fmt.Errorf("experiment %d: %w", e.ID, err)
	}
	instance, err := m.db.InstanceID(ctx)
	if err != nil {
		return err
	}
	attempt, err := m.db.NextStartAttempt(ctx, e.ID)
	if err != nil {
		return err
	}
	spec := deviceSpec(&v, e, key)
	var (
		mu        sync.Mutex
		uncertain = map[*db.Pairing]string{} // pairing → request id of a start without an answer
	)
	err = m.onAll(ctx, e, "StartExperiment",
		func(ctx context.Context, c *deviceapi.Client, pair *db.Pairing) error {
			s := spec
			s.Interface = pair.Interface
			s.MaxStorageBytes = storageBound(policies[pair.Device].MaxStorageBytes, spec.MaxStorageBytes)
			s.RequestID = requestID(instance, e.ID, attempt, pair.Position)
			id, err := c.StartJob(ctx, s)
			if err == nil {
				pair.Job = id
			} else if _, answered := xmlrpc.AsFault(err); !answered {
				mu.Lock()
				uncertain[pair] = s.RequestID
				mu.Unlock()
			}
			return err
		},
		func(ctx context.Context, c *deviceapi.Client, pair *db.Pairing) error {
			err := c.StopJob(ctx, pair.Job)
			pair.Job = ""
			return err
		})
	if err != nil {
		for i := range e.Devices {
			e.Devices[i].Job = ""
			if request, ok := uncertain[&e.Devices[i]]; ok {
				m.queueStartCancel(ctx, e.Devices[i].Device, request)
			}
		}
	}
	return err
}

// requestID is the StartJob request id of a pairing in one start attempt.
func requestID(instance string, experiment int64, attempt, position int) string {
	return fmt.Sprintf("%s%s:e%d:a%d:p%d", deviceapi.RequestIDPrefix, instance, experiment, attempt, position)
}

// queueStartCancel has the monitor stop what a StartJob without an answer
// may have started (cancelStarts): StopJob with its request id stops the
// job, or makes the device refuse the start should it arrive later. The
// failed start does not wait for it: a device that did not answer the
// start (it timed out) would most likely make it wait a device timeout
// more, and the rollback of a start on 1,000 devices must not.
func (m *Manager) queueStartCancel(ctx context.Context, device, request string) {
	m.log.Info("start without an answer: the monitor cancels it on the device", "device", device, "request", request)
	if err := m.db.AddStartCancel(ctx, db.StartCancel{Device: device, Request: request, Created: m.cfg.Now()}); err != nil {
		m.log.Error("unable to remember a start to cancel: a job may be left running", "device", device,
			"request", request, "error", err)
	}
}

// stopRequest calls StopJob with a request id on device.
func (m *Manager) stopRequest(ctx context.Context, device, request string) error {
	d, err := m.db.GetDevice(ctx, device)
	if err != nil {
		return err
	}
	c, err := m.client(&d)
	if err != nil {
		return err
	}
	return c.StopJob(ctx, request)
}

// startCancelMaxAge is how long the monitor keeps asking a device to
// cancel a start: beyond, the device was surely restarted meanwhile
// (which loses a start that never arrived) or removed.
const startCancelMaxAge = 7 * 24 * time.Hour

// cancelStarts is the monitor's retry of the cancels cancelStart could
// not deliver.
func (m *Manager) cancelStarts(ctx context.Context) {
	list, err := m.db.StartCancels(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Error("monitor: unable to list the starts to cancel", "error", err)
		}
		return
	}
	// The devices at once, each one's cancels in turn; a device that
	// fails one is not asked again this round.
	var devices []string
	byDevice := map[string][]db.StartCancel{}
	for _, c := range list {
		if _, ok := byDevice[c.Device]; !ok {
			devices = append(devices, c.Device)
		}
		byDevice[c.Device] = append(byDevice[c.Device], c)
	}
	m.fanOut(len(devices), func(i int) {
		for _, c := range byDevice[devices[i]] {
			if !m.cancelOne(ctx, c) {
				return
			}
		}
	})
}

// cancelOne tries one start to cancel; false when its device failed.
func (m *Manager) cancelOne(ctx context.Context, c db.StartCancel) bool {
	err := m.stopRequest(ctx, c.Device, c.Request)
	switch {
	case err == nil:
		m.log.Info("start without an answer cancelled on the device", "device", c.Device, "request", c.Request)
	case errors.Is(err, db.ErrNotFound):
		m.log.Warn("start to cancel on a device that was deleted, forgotten", "device", c.Device, "request", c.Request)
	case m.cfg.Now().Sub(c.Created) > startCancelMaxAge:
		m.log.Warn("start to cancel forgotten after a week of failures", "device", c.Device, "request", c.Request,
			"error", err)
	default:
		return false
	}
	if err := m.db.DeleteStartCancel(ctx, c.Device, c.Request); err != nil && ctx.Err() == nil {
		m.log.Error("monitor: unable to forget a start to cancel", "error", err)
	}
	return true
}

// deviceSpec is the StartJob struct of a stored configuration, with the
// experiment's Crypto-PAn key (nil without anonymization).
func deviceSpec(v *amapi.ConfigView, e *db.Experiment, key []byte) deviceapi.JobSpec {
	prom, biflow := v.Promiscuous, true
	s := deviceapi.JobSpec{Filter: v.Filter, Snaplen: v.Snaplen, Promiscuous: &prom, Pcap: v.Pcap, Key: key,
		ReplaySpeed: v.ReplaySpeed, Experiment: int(e.ID), RotateMB: v.RotateMB, RotateS: v.RotateS}
	if a := v.Anonymize; a != nil && key != nil {
		s.Payload, s.MAC = a.Payload, a.MAC
	}
	if c := v.Counters; c != nil {
		s.Counters = &deviceapi.CountersSpec{IntervalMS: c.IntervalMS}
	}
	if f := v.Flows; f != nil {
		biflow = f.Biflow
		s.Flows = &deviceapi.FlowsSpec{ActiveTimeoutS: f.ActiveTimeoutS, IdleTimeoutS: f.IdleTimeoutS, Biflow: &biflow,
			Collector: f.Collector}
	}
	return s
}

// PauseExperiment pauses a running experiment on all its devices, or on
// none.
func (m *Manager) PauseExperiment(ctx context.Context, p Principal, id int64) (_ amapi.Status, err error) {
	defer m.audit(ctx, p, "PauseExperiment", auditID(id), &err)
	return m.transition(ctx, p, id, func(ctx context.Context, e *db.Experiment) (string, error) {
		if e.State != StateRunning {
			return "", stateError(id, e.State, "PauseExperiment")
		}
		return StatePaused, m.onAll(ctx, e, "PauseExperiment", pauseJob, resumeJob)
	})
}

// StopExperiment ends a running or paused experiment: every device that
// answers stops its job, and the experiment is done whatever the others
// do (SPEC §9: a stop always works). A device that does not answer is
// marked stop_pending; the monitor stops its job when it answers again.
func (m *Manager) StopExperiment(ctx context.Context, p Principal, id int64) (_ amapi.Status, err error) {
	defer m.audit(ctx, p, "StopExperiment", auditID(id), &err)
	return m.transition(ctx, p, id, func(ctx context.Context, e *db.Experiment) (string, error) {
		return StateDone, m.stop(ctx, e)
	})
}

// stop ends e's jobs (its lock held) and marks stop_pending the pairings
// whose device did not stop its job; the caller records the transition to
// done, which stores the marks.
func (m *Manager) stop(ctx context.Context, e *db.Experiment) error {
	if e.State != StateRunning && e.State != StatePaused {
		return stateError(e.ID, e.State, "StopExperiment")
	}
	clients, missing, err := m.deviceClients(ctx, e)
	if err != nil {
		return err
	}
	errs := make([]error, len(e.Devices))
	// Each device is asked for its job's status as soon as it stopped
	// it (in the same turn): the status answering the stop needs no
	// second round of calls to every device.
	detail := make([]amapi.DeviceStatus, len(e.Devices))
	brief := make([]amapi.DeviceStatus, len(e.Devices))
	var answered atomic.Int64
	m.fanOut(len(e.Devices), func(i int) {
		pair := &e.Devices[i]
		if pair.Job == "" {
			detail[i], brief[i] = m.pairStatus(pair, nil, nil)
			answered.Add(1)
			return
		}
		if err, ok := missing[pair.Device]; ok {
			errs[i] = err
			return
		}
		c := clients[pair.Device]
		if errs[i] = stopJobWith(ctx, c, pair); errs[i] != nil {
			return
		}
		if js, err := c.JobStatus(ctx, pair.Job); err == nil && js.State == "done" {
			detail[i], brief[i] = m.pairStatus(pair, &js, nil)
			answered.Add(1)
		}
	})
	for i, err := range errs {
		if err == nil {
			continue
		}
		e.Devices[i].StopPending = true
		m.log.Warn("device did not stop its job, stop pending", "experiment", e.ID,
			"device", pairName(&e.Devices[i]), "error", deviceProblem(e.Devices[i].Device, err))
	}
	if answered.Load() == int64(len(e.Devices)) {
		m.keepStopped(e, detail, brief)
	}
	return nil
}

// stopJob stops one pairing's job. A job already done, or one the device
// no longer knows, counts as stopped.
func (m *Manager) stopJob(ctx context.Context, pair *db.Pairing) error {
	d, err := m.db.GetDevice(ctx, pair.Device)
	if err != nil {
		return fmt.Errorf("device %s no longer exists", pair.Device)
	}
	c, err := m.client(&d)
	if err != nil {
		return err
	}
	return stopJobWith(ctx, c, pair)
}

// stopJobWith stops one pairing's job through its device's client.
func stopJobWith(ctx context.Context, c *deviceapi.Client, pair *db.Pairing) error {
	err := inState(ctx, c, pair.Job, c.StopJob(ctx, pair.Job), "done")
	var f *xmlrpc.Fault
	if errors.As(err, &f) && f.Code == deviceapi.FaultNotFound {
		return nil
	}
	return err
}

// retryStops stops the jobs of e marked stop_pending whose device now
// answers, and clears their marks.
func (m *Manager) retryStops(ctx context.Context, e *db.Experiment) {
	for i := range e.Devices {
		pair := &e.Devices[i]
		if !pair.StopPending {
			continue
		}
		if err := m.stopJob(ctx, pair); err != nil {
			if ctx.Err() == nil {
				m.log.Debug("pending stop not done yet", "experiment", e.ID, "device", pairName(pair), "error", err)
			}
			continue
		}
		if err := m.db.ClearStopPending(ctx, e.ID, pair.Position); err != nil {
			m.log.Error("unable to clear a pending stop", "experiment", e.ID, "error", err)
			continue
		}
		pair.StopPending = false
		m.log.Info("pending stop done", "experiment", e.ID, "device", pairName(pair))
	}
}

// record stores e's new state and jobs as a transition by p, keeping the
// running-time accounting.
func (m *Manager) record(ctx context.Context, e *db.Experiment, p Principal, to string) error {
	now := m.cfg.Now()
	saved, err := m.db.UpdateExperiment(ctx, e.ID, p.Name, func(x *db.Experiment) error {
		if x.State == StateRunning && to != StateRunning && !x.RunningSince.IsZero() {
			x.RunTime += now.Sub(x.RunningSince)
			x.RunningSince = time.Time{}
		}
		if to == StateRunning && x.State != StateRunning {
			x.RunningSince = now
		}
		x.State = to
		for i := range x.Devices {
			x.Devices[i].Job = e.Devices[i].Job
			x.Devices[i].StopPending = e.Devices[i].StopPending
		}
		return nil
	})
	if err != nil {
		return err
	}
	// No status polled before the transition is shown after it.
	m.dropLive(e.ID)
	m.log.Info("experiment transition", "experiment", e.ID, "from", e.State, "to", to, "by", p.Name)
	if to == StateDone {
		// The final pull starts at once, whenever the last periodic one was.
		m.pullMu.Lock()
		delete(m.lastPull, e.ID)
		m.pullMu.Unlock()
	}
	*e = saved
	return nil
}
