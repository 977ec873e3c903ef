// Package schedule is the aggregate manager's scheduler (SPEC §13): it
// starts, pauses, resumes and stops the experiments configured with a
// schedule, at the times of its runs.
//
// A schedule is one run (start_at to stop_at, or for run_s, or
// open-ended) or runs of run_s every every_s. The scheduler maps it on
// the lifecycle of SPEC §2: the first run is StartExperiment
// (configured → running), the end of a run with another to come is
// PauseExperiment (running → paused), the later runs resume with
// StartExperiment (paused → running), and the end of the last run is
// StopExperiment (→ done). The transitions are the API's own
// all-or-nothing ones (Transitions), recorded as made by "scheduler".
//
// Each run is recorded in the database (db.ScheduleRun) before its start
// is attempted, so that no run is ever taken twice; the scheduler keeps
// no other state, and a new one on the same database takes over where
// the last left. A run whose start passed while no scheduler was running
// is taken late if its window is not over, else recorded as skipped.
// Transitions made by hand are respected: a run's start finds a running
// experiment running (and takes the run as under way), a run's end finds
// a paused one paused; a stop by hand ends the schedule.
package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// Transition calls of Transitions.ScheduledTransition.
const (
	CallStart = "start"
	CallPause = "pause"
	CallStop  = "stop"
)

// By is the name transitions made by the scheduler are recorded under.
const By = "scheduler"

// Transitions makes the lifecycle transitions of experiments on the
// scheduler's account (the aggregate manager, am.Manager).
type Transitions interface {
	// ScheduledTransition makes call (CallStart, CallPause, CallStop) on
	// experiment id, all or nothing, recorded as made by By. It returns
	// the experiment's state after the call.
	ScheduledTransition(ctx context.Context, id int64, call string) (string, error)
}

// Dependencies are what the scheduler uses.
type Dependencies struct {
	// DB is the aggregate manager's store: experiments and their runs.
	DB *db.DB
	// Experiments makes the transitions.
	Experiments Transitions
	// Clock is the time (default SystemClock).
	Clock Clock
}

// Scheduler follows the schedules of the experiments.
type Scheduler struct {
	cfg   Configuration
	db    *db.DB
	exps  Transitions
	clock Clock
	log   *slog.Logger

	// retry is when a refused transition of an experiment may be tried
	// again (only the loop's goroutine uses it).
	retry map[int64]time.Time
	// refusal is the last refusal of an experiment's transition, noted
	// on a run skipped because of it.
	refusal map[int64]string

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a scheduler, refusing an invalid configuration; it does
// nothing until Start.
func New(cfg Configuration, deps Dependencies) (*Scheduler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid scheduler configuration: %w", err)
	}
	if deps.DB == nil || deps.Experiments == nil {
		return nil, errors.New("the scheduler needs a database and the experiments' transitions")
	}
	if deps.Clock == nil {
		deps.Clock = SystemClock{}
	}
	return &Scheduler{cfg: cfg, db: deps.DB, exps: deps.Experiments, clock: deps.Clock, log: cfg.Logger,
		retry: map[int64]time.Time{}, refusal: map[int64]string{}}, nil
}

// Start runs the scheduler's loop until Stop.
func (s *Scheduler) Start(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.loop(ctx)
	}()
	return nil
}

// Stop ends the loop, after the step under way. Schedules go on with
// the next scheduler on the same database.
func (s *Scheduler) Stop() {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
}

// loop steps and waits until the next run boundary, at most Interval.
func (s *Scheduler) loop(ctx context.Context) {
	for {
		wake := s.Step(ctx)
		wait := s.cfg.Interval
		if !wake.IsZero() {
			if d := wake.Sub(s.clock.Now()); d < wait {
				wait = max(d, 0)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.clock.After(wait):
		}
	}
}

// Step makes every transition due now and returns when the next one is
// due (zero: none known). The loop calls it; tests with a fake clock
// call it directly.
func (s *Scheduler) Step(ctx context.Context) time.Time {
	var wake time.Time
	soonest := func(t time.Time) {
		if !t.IsZero() && (wake.IsZero() || t.Before(wake)) {
			wake = t
		}
	}
	// Runs left open by experiments that ended (a stop by hand).
	ids, err := s.db.OpenRunExperiments(ctx)
	if err != nil {
		s.logError(ctx, "scheduler: unable to list the runs under way", err)
	}
	for _, id := range ids {
		e, err := s.db.GetExperiment(ctx, id)
		if err == nil && e.State == "done" {
			s.closeRuns(ctx, id)
		}
	}
	list, err := s.db.ListExperiments(ctx, "", "configured", "running", "paused")
	if err != nil {
		s.logError(ctx, "scheduler: unable to list experiments", err)
		return s.clock.Now().Add(s.cfg.RetryInterval)
	}
	for i := range list {
		p, ok := PlanOf(&list[i])
		if !ok {
			continue
		}
		soonest(s.follow(ctx, &list[i], p))
	}
	return wake
}

// PlanOf returns the plan of an experiment's stored schedule, if it has
// one.
func PlanOf(e *db.Experiment) (Plan, bool) {
	var v amapi.ConfigView
	if e.Config == "" || json.Unmarshal([]byte(e.Config), &v) != nil || v.Schedule == nil {
		return Plan{}, false
	}
	return FromView(v.Schedule), true
}

// logError logs err unless the scheduler is stopping.
func (s *Scheduler) logError(ctx context.Context, msg string, err error) {
	if ctx.Err() == nil {
		s.log.Error(msg, "error", err)
	}
}

// closeRuns ends the open runs of an experiment that ended.
func (s *Scheduler) closeRuns(ctx context.Context, id int64) {
	runs, err := s.db.Runs(ctx, id)
	if err != nil {
		s.logError(ctx, "scheduler: unable to read runs", err)
		return
	}
	now := s.clock.Now()
	for _, r := range runs {
		if !r.Open() {
			continue
		}
		r.Ended, r.Outcome = now, db.RunDone
		if r.Started.IsZero() {
			r.Outcome, r.Ended = db.RunFailed, time.Time{}
		}
		r.Note = joinNote(r.Note, "the experiment was stopped")
		if err := s.db.UpdateRun(ctx, r); err != nil {
			s.logError(ctx, "scheduler: unable to close a run", err)
			continue
		}
		s.log.Info("scheduled run ended with its experiment", "experiment", id, "run", r.Run+1)
	}
}

// joinNote appends to a run's note.
func joinNote(note, more string) string {
	if note == "" {
		return more
	}
	return note + "; " + more
}

// follow makes the transitions of e's schedule due now and returns when
// the next is due.
func (s *Scheduler) follow(ctx context.Context, e *db.Experiment, p Plan) time.Time {
	now := s.clock.Now()
	if t, ok := s.retry[e.ID]; ok {
		if now.Before(t) {
			return t
		}
		delete(s.retry, e.ID)
	}
	runs, err := s.db.Runs(ctx, e.ID)
	if err != nil {
		s.logError(ctx, "scheduler: unable to read runs", err)
		return now.Add(s.cfg.RetryInterval)
	}
	state := e.State
	if r, ok := open(runs); ok {
		if r.Outcome == db.RunStarting {
			// A scheduler stopped while starting this run: the state says
			// whether the start happened. It is never tried again.
			if state == "running" {
				r.Outcome = db.RunRunning
			} else {
				r.Outcome, r.Note = db.RunFailed, joinNote(r.Note, "the aggregate manager stopped while starting it")
			}
			if err := s.db.UpdateRun(ctx, r); err != nil {
				s.logError(ctx, "scheduler: unable to settle a run", err)
				return now.Add(s.cfg.RetryInterval)
			}
			runs[len(runs)-1] = r
		}
	}
	if r, ok := open(runs); ok {
		w := p.Window(r.Run)
		if w.Open() || now.Before(w.End) {
			return w.End
		}
		last := r.Run+1 >= p.Runs()
		// When the next run is under way already (the AM was down, or
		// the pause was refused until then), the experiment runs on.
		nextDue := false
		if !last {
			nw := p.Window(r.Run + 1)
			nextDue = !now.Before(nw.Start) && (nw.Open() || now.Before(nw.End))
		}
		var err error
		switch {
		case last:
			state, err = s.exps.ScheduledTransition(ctx, e.ID, CallStop)
		case state == "running" && !nextDue:
			state, err = s.exps.ScheduledTransition(ctx, e.ID, CallPause)
		}
		if err != nil {
			return s.refused(ctx, e.ID, "end of run", r.Run, err)
		}
		r.Ended, r.Outcome = now, db.RunDone
		if err := s.db.UpdateRun(ctx, r); err != nil {
			s.logError(ctx, "scheduler: unable to record the end of a run", err)
		}
		s.log.Info("scheduled run ended", "experiment", e.ID, "run", r.Run+1, "of", p.Runs(), "state", state)
		if last {
			return time.Time{}
		}
		runs[len(runs)-1] = r
	}
	for n := next(runs); ; n++ {
		if n >= p.Runs() {
			// Nothing left: the last runs were skipped.
			if state == "running" || state == "paused" {
				if _, err := s.exps.ScheduledTransition(ctx, e.ID, CallStop); err != nil {
					return s.refused(ctx, e.ID, "end of schedule", n-1, err)
				}
				s.log.Info("schedule over, experiment stopped", "experiment", e.ID)
			}
			return time.Time{}
		}
		w := p.Window(n)
		if now.Before(w.Start) {
			return w.Start
		}
		r := db.ScheduleRun{Experiment: e.ID, Run: n, PlannedStart: w.Start, PlannedEnd: w.End}
		if !w.Open() && !now.Before(w.End) {
			r.Outcome = db.RunSkipped
			r.Note = "missed: its window passed while the aggregate manager was not running"
			if why, ok := s.refusal[e.ID]; ok {
				r.Note = "missed: its start was refused until its window passed: " + why
			}
			if err := s.db.ClaimRun(ctx, r); err != nil {
				s.logError(ctx, "scheduler: unable to record a skipped run", err)
				return now.Add(s.cfg.RetryInterval)
			}
			s.log.Warn("scheduled run skipped: its window passed while the aggregate manager was not running",
				"experiment", e.ID, "run", n+1, "window", w.String())
			continue
		}
		return s.begin(ctx, e, p, r, now)
	}
}

// begin claims run r and starts (or resumes) e for it.
func (s *Scheduler) begin(ctx context.Context, e *db.Experiment, p Plan, r db.ScheduleRun, now time.Time) time.Time {
	r.Started, r.Outcome = now, db.RunStarting
	if late := now.Sub(r.PlannedStart); late > s.cfg.LateAfter {
		r.Note = fmt.Sprintf("started %s late", late.Round(time.Second))
	}
	if err := s.db.ClaimRun(ctx, r); err != nil {
		// Claimed already (another scheduler on this database): never twice.
		s.logError(ctx, "scheduler: unable to claim a run", err)
		return now.Add(s.cfg.RetryInterval)
	}
	if e.State == "running" {
		r.Note = joinNote(r.Note, "the experiment was already running")
	} else if _, err := s.exps.ScheduledTransition(ctx, e.ID, CallStart); err != nil {
		// Nothing started: the run may be tried again within its window.
		if derr := s.db.DeleteRun(ctx, e.ID, r.Run); derr != nil {
			s.logError(ctx, "scheduler: unable to release a run", derr)
			r.Outcome, r.Ended, r.Note = db.RunFailed, time.Time{}, joinNote(r.Note, err.Error())
			s.db.UpdateRun(ctx, r)
		}
		return s.refused(ctx, e.ID, "start of run", r.Run, err)
	}
	delete(s.refusal, e.ID)
	r.Outcome = db.RunRunning
	if err := s.db.UpdateRun(ctx, r); err != nil {
		s.logError(ctx, "scheduler: unable to record the start of a run", err)
	}
	s.log.Info("scheduled run started", "experiment", e.ID, "run", r.Run+1, "of", p.Runs(),
		"window", p.Window(r.Run).String(), "note", r.Note)
	return p.Window(r.Run).End
}

// refused logs a transition that failed and returns when to try again.
func (s *Scheduler) refused(ctx context.Context, id int64, what string, run int, err error) time.Time {
	t := s.clock.Now().Add(s.cfg.RetryInterval)
	if ctx.Err() == nil {
		s.log.Warn("scheduled transition failed, will retry", "experiment", id, "what", what, "run", run+1,
			"error", err, "retry", t)
	}
	s.retry[id] = t
	s.refusal[id] = err.Error()
	return t
}
