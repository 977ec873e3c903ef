package am

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gimsproject/gims/am/schedule"
	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// scheduler is the principal of the transitions the scheduler makes: an
// admin, as it acts on every user's experiments.
func scheduler() Principal { return Principal{Name: schedule.By, Role: RoleAdmin} }

// ScheduledTransition makes a transition on the scheduler's account
// (schedule.Transitions): the API's own all-or-nothing transitions,
// recorded as made by "scheduler", without the conflict check of a start
// by hand (the schedule was checked when configured).
func (m *Manager) ScheduledTransition(ctx context.Context, id int64, call string) (string, error) {
	var (
		st  amapi.Status
		err error
	)
	switch call {
	case schedule.CallStart:
		st, err = m.startExperiment(ctx, scheduler(), id, false)
	case schedule.CallPause:
		st, err = m.PauseExperiment(ctx, scheduler(), id)
	case schedule.CallStop:
		st, err = m.StopExperiment(ctx, scheduler(), id)
	default:
		return "", fmt.Errorf("unknown scheduled transition %q", call)
	}
	return st.State, err
}

// planOf returns the plan of e's schedule (nil without one).
func planOf(e *db.Experiment) *schedule.Plan {
	if p, ok := schedule.PlanOf(e); ok {
		return &p
	}
	return nil
}

// holds is when e holds its device interfaces from now on (schedule.Holds).
func (m *Manager) holds(ctx context.Context, e *db.Experiment, state string, now time.Time) ([]schedule.Window, error) {
	p := planOf(e)
	var runs []db.ScheduleRun
	if p != nil {
		var err error
		if runs, err = m.db.Runs(ctx, e.ID); err != nil {
			return nil, err
		}
	}
	var left time.Duration
	if v, ok := configView(e); ok && v.DurationS > 0 {
		left = max(time.Duration(v.DurationS)*time.Second-m.elapsed(e), time.Second)
	}
	return schedule.Holds(state, p, runs, now, left), nil
}

// checkConflicts refuses (ErrConflict) windows of experiment e that
// overlap, on one of its device interfaces, the time another experiment
// holds it, when one of the two has a schedule (two experiments started
// by hand may share an interface, as before schedules). The error names
// the other experiment, the interface and the overlap. Call it under
// schedMu.
func (m *Manager) checkConflicts(ctx context.Context, e *db.Experiment, mine []schedule.Window, scheduled bool) error {
	if len(mine) == 0 {
		return nil
	}
	list := m.db.ListExperiments
	if !scheduled {
		// Only experiments with a schedule may conflict with this one.
		list = func(ctx context.Context, _ string, states ...string) ([]db.Experiment, error) {
			return m.scheduledExperiments(ctx, states...)
		}
	}
	others, err := list(ctx, "", StateConfigured, StateRunning, StatePaused)
	if err != nil {
		return err
	}
	now := m.cfg.Now()
	for i := range others {
		o := &others[i]
		if o.ID == e.ID {
			continue
		}
		shared := sharedPairs(e, o)
		if len(shared) == 0 || (!scheduled && planOf(o) == nil) {
			continue
		}
		theirs, err := m.holds(ctx, o, o.State, now)
		if err != nil {
			return err
		}
		if w, ok := schedule.FirstOverlap(mine, theirs); ok {
			return fmt.Errorf("%w: experiment %d would overlap experiment %d %q (%s) on %s %s", ErrConflict, e.ID,
				o.ID, o.Name, o.State, shared[0], w.String())
		}
	}
	return nil
}

// sharedPairs lists the device interfaces a and b both capture on.
func sharedPairs(a, b *db.Experiment) []string {
	var out []string
	for i := range a.Devices {
		for j := range b.Devices {
			if a.Devices[i].Device == b.Devices[j].Device && a.Devices[i].Interface == b.Devices[j].Interface {
				out = append(out, pairName(&a.Devices[i]))
			}
		}
	}
	return out
}

// checkStartConflicts is the conflict check of a start by hand: e would
// hold its interfaces from now until its schedule, or duration_s, ends
// the run (for ever without either).
func (m *Manager) checkStartConflicts(ctx context.Context, e *db.Experiment) error {
	m.schedMu.Lock()
	defer m.schedMu.Unlock()
	mine, err := m.holds(ctx, e, StateRunning, m.cfg.Now())
	if err != nil {
		return err
	}
	return m.checkConflicts(ctx, e, mine, planOf(e) != nil)
}

// scheduleStatus fills the schedule members of a status.
func (m *Manager) scheduleStatus(ctx context.Context, e *db.Experiment, s *amapi.Status) error {
	p := planOf(e)
	if p == nil || e.State == StateDone || e.State == StateInstantiated {
		return nil
	}
	runs, err := m.db.Runs(ctx, e.ID)
	if err != nil {
		return err
	}
	s.NextStart, s.RunEnd = schedule.Upcoming(*p, runs, m.cfg.Now())
	return nil
}

// runViews is the API view of an experiment's recorded runs.
func (m *Manager) runViews(ctx context.Context, id int64) ([]amapi.ScheduleRun, error) {
	runs, err := m.db.Runs(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]amapi.ScheduleRun, len(runs))
	for i, r := range runs {
		out[i] = amapi.ScheduleRun{Run: r.Run + 1, PlannedStart: r.PlannedStart, PlannedEnd: r.PlannedEnd,
			Started: r.Started, Ended: r.Ended, Outcome: r.Outcome, Note: r.Note}
	}
	return out, nil
}

// Timeline bounds of GetScheduleTimeline.
const (
	timelineDefault = 24 * time.Hour
	timelineMax     = 7 * 24 * time.Hour
	// timelineMaxRows bounds the rows of an answer.
	timelineMaxRows = 10000
)

// GetScheduleTimeline lists, per device interface, the windows in which
// experiments hold it between q.From (default now) and q.To (default 24 h
// later, at most 7 days): their scheduled runs and the time running ones
// are due to run. An experimenter sees other users' experiments only as
// busy windows, without their name.
func (m *Manager) GetScheduleTimeline(ctx context.Context, p Principal, q amapi.TimelineQuery) ([]amapi.TimelineRun, error) {
	now := m.cfg.Now()
	from, to := q.From, q.To
	if from.IsZero() {
		from = now
	}
	if to.IsZero() {
		to = from.Add(timelineDefault)
	}
	if !to.After(from) {
		return nil, invalidf("timeline to %s must be after from %s", to.UTC().Format(time.RFC3339), from.UTC().Format(time.RFC3339))
	}
	if to.Sub(from) > timelineMax {
		return nil, invalidf("timeline spans at most 7 days, got %s", to.Sub(from))
	}
	list, err := m.db.ListExperiments(ctx, "", StateConfigured, StateRunning, StatePaused)
	if err != nil {
		return nil, err
	}
	span := schedule.Window{Start: from, End: to}
	out := []amapi.TimelineRun{}
	for i := range list {
		e := &list[i]
		ws, err := m.holds(ctx, e, e.State, now)
		if err != nil {
			return nil, err
		}
		name := e.Name
		if !p.IsAdmin() && e.Owner != p.Name {
			name = ""
		}
		for _, w := range ws {
			if !w.Overlaps(span) {
				continue
			}
			for _, pair := range e.Devices {
				if len(out) >= timelineMaxRows {
					return out, nil
				}
				out = append(out, amapi.TimelineRun{Device: pair.Device, Interface: pair.Interface, Experiment: e.ID,
					Name: name, State: e.State, Start: w.Start, End: w.End})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b amapi.TimelineRun) int {
		if c := cmp.Compare(a.Device+":"+a.Interface, b.Device+":"+b.Interface); c != 0 {
			return c
		}
		return a.Start.Compare(b.Start)
	})
	return out, nil
}
