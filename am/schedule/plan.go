package schedule

import (
	"errors"
	"fmt"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// Bounds of a schedule: beyond them a schedule is a typo, not a plan.
const (
	// MaxRuns is the most runs a schedule may make.
	MaxRuns = 10000
	// MaxAhead is how far in the future a schedule may start or stop.
	MaxAhead = 366 * 24 * time.Hour
	// MaxSeconds bounds every_s and run_s (one year).
	MaxSeconds = 366 * 24 * 3600
	// MaxSpanSeconds bounds the time from a schedule's start to its
	// last run's end (about ten years).
	MaxSpanSeconds = 10 * 366 * 24 * 3600
)

// Plan is a checked schedule: its runs are the windows Window(0) to
// Window(Runs()-1).
type Plan struct {
	// Start is the start of the first run.
	Start time.Time
	// Stop ends the last run (zero: none).
	Stop time.Time
	// Every is the time from one run's start to the next (zero: a
	// single run).
	Every time.Duration
	// Run is the length of each run (zero: until Stop, or open-ended).
	Run time.Duration
	// Count is the number of runs asked for (zero: until Stop).
	Count int
}

// Window is a time an experiment holds its device interfaces: [Start,
// End), End zero meaning until stopped by hand.
type Window struct {
	Start, End time.Time
}

// Open tells whether w has no end.
func (w Window) Open() bool { return w.End.IsZero() }

// Overlaps tells whether w and o share a moment.
func (w Window) Overlaps(o Window) bool {
	return (o.Open() || w.Start.Before(o.End)) && (w.Open() || o.Start.Before(w.End))
}

// Intersect is the part of w within o (both overlapping).
func (w Window) Intersect(o Window) Window {
	out := Window{Start: w.Start, End: w.End}
	if o.Start.After(out.Start) {
		out.Start = o.Start
	}
	if out.Open() || (!o.Open() && o.End.Before(out.End)) {
		out.End = o.End
	}
	return out
}

// String is the window in RFC 3339, UTC.
func (w Window) String() string {
	end := "until stopped"
	if !w.Open() {
		end = "to " + w.End.UTC().Format(time.RFC3339)
	}
	return "from " + w.Start.UTC().Format(time.RFC3339) + " " + end
}

// Check turns a schedule as given to ConfigureExperiment into a plan,
// refusing what is not one with a message a person can act on. now is
// the configuration time: start_at defaults to it, and no time may be
// in its past.
func Check(c amapi.ScheduleConfig, now time.Time) (Plan, error) {
	p := Plan{Start: c.StartAt.UTC(), Stop: c.StopAt.UTC(), Every: time.Duration(c.EveryS) * time.Second,
		Run: time.Duration(c.RunS) * time.Second, Count: c.Count}
	// XML-RPC times have whole seconds: a start_at of "now" sent by a
	// client arrives up to a second in the past.
	floor := now.Truncate(time.Second)
	switch {
	case c.StartAt.IsZero() && c.StopAt.IsZero() && c.EveryS == 0 && c.RunS == 0 && c.Count == 0:
		return p, errors.New("schedule is empty: give start_at, stop_at, run_s, or every_s with run_s and count or stop_at")
	case c.EveryS < 0 || c.EveryS > MaxSeconds:
		return p, fmt.Errorf("schedule every_s must be between 1 and %d seconds, got %d", MaxSeconds, c.EveryS)
	case c.RunS < 0 || c.RunS > MaxSeconds:
		return p, fmt.Errorf("schedule run_s must be between 1 and %d seconds, got %d", MaxSeconds, c.RunS)
	case c.Count < 0:
		return p, fmt.Errorf("schedule count must be at least 1, got %d", c.Count)
	case c.EveryS > 0 && c.RunS == 0:
		return p, fmt.Errorf("schedule every_s %d needs run_s, the length of each run", c.EveryS)
	case c.EveryS > 0 && c.RunS >= c.EveryS:
		return p, fmt.Errorf("schedule run_s (%d) must be less than every_s (%d): each run must end before the next starts", c.RunS, c.EveryS)
	case c.EveryS > 0 && c.Count == 0 && c.StopAt.IsZero():
		return p, fmt.Errorf("schedule every_s %d repeats without end: give count (the number of runs) or stop_at", c.EveryS)
	case c.EveryS == 0 && c.Count > 1:
		return p, fmt.Errorf("schedule count %d needs every_s, the time from one run's start to the next", c.Count)
	}
	if p.Start.IsZero() {
		p.Start = now.UTC()
	} else if p.Start.Before(floor) {
		return p, fmt.Errorf("schedule start_at %s is in the past (now is %s)", fmtTime(p.Start), fmtTime(now))
	}
	if p.Start.Sub(now) > MaxAhead {
		return p, fmt.Errorf("schedule start_at %s is more than 366 days ahead", fmtTime(p.Start))
	}
	if !p.Stop.IsZero() {
		if !p.Stop.After(p.Start) {
			if c.StartAt.IsZero() {
				return p, fmt.Errorf("schedule stop_at %s is not in the future (now is %s)", fmtTime(p.Stop), fmtTime(now))
			}
			return p, fmt.Errorf("schedule stop_at %s must be after start_at %s", fmtTime(p.Stop), fmtTime(p.Start))
		}
		if p.Stop.Sub(now) > MaxAhead {
			return p, fmt.Errorf("schedule stop_at %s is more than 366 days ahead", fmtTime(p.Stop))
		}
	}
	n := p.Runs()
	if n > MaxRuns {
		return p, fmt.Errorf("schedule makes %d runs; at most %d", n, MaxRuns)
	}
	// In seconds, which cannot overflow here, unlike a time.Duration.
	if span := int64(n-1)*int64(c.EveryS) + int64(c.RunS); span > MaxSpanSeconds {
		return p, fmt.Errorf("schedule spans %d days from its start; at most %d", span/86400, MaxSpanSeconds/86400)
	}
	return p, nil
}

// fmtTime writes a time for messages.
func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Runs is the number of runs of the plan.
func (p Plan) Runs() int {
	if p.Every == 0 {
		return 1
	}
	n := p.Count
	if !p.Stop.IsZero() {
		// Runs whose start is before Stop.
		until := int((p.Stop.Sub(p.Start)-1)/p.Every) + 1
		if n == 0 || until < n {
			n = until
		}
	}
	return n
}

// Window is run i's window.
func (p Plan) Window(i int) Window {
	start := p.Start.Add(time.Duration(i) * p.Every)
	w := Window{Start: start}
	if p.Run > 0 {
		w.End = start.Add(p.Run)
	}
	if !p.Stop.IsZero() && (w.Open() || p.Stop.Before(w.End)) {
		w.End = p.Stop
	}
	return w
}

// Windows lists the windows of runs from..Runs()-1 that end after now,
// at most limit of them (0: no limit).
func (p Plan) Windows(from int, now time.Time, limit int) []Window {
	var out []Window
	for i := max(from, 0); i < p.Runs(); i++ {
		w := p.Window(i)
		if !w.Open() && !w.End.After(now) {
			continue
		}
		out = append(out, w)
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out
}

// View is the plan as the API shows it, with the schedule's own
// members.
func (p Plan) View() amapi.ScheduleView {
	return amapi.ScheduleView{StartAt: p.Start, StopAt: p.Stop, EveryS: int(p.Every / time.Second),
		RunS: int(p.Run / time.Second), Count: p.Count, Runs: p.Runs()}
}

// FromView is the plan of a stored schedule.
func FromView(v *amapi.ScheduleView) Plan {
	return Plan{Start: v.StartAt.UTC(), Stop: v.StopAt.UTC(), Every: time.Duration(v.EveryS) * time.Second,
		Run: time.Duration(v.RunS) * time.Second, Count: v.Count}
}

// FirstOverlap returns the first moment two sorted lists of windows
// share, as the overlap of the two windows.
func FirstOverlap(a, b []Window) (Window, bool) {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i].Overlaps(b[j]) {
			return a[i].Intersect(b[j]), true
		}
		// Drop the one that ends first (an open one never does).
		if !a[i].Open() && (b[j].Open() || !b[j].End.Before(a[i].End)) {
			i++
		} else {
			j++
		}
	}
	return Window{}, false
}

// next is the index of the first run not recorded in runs (which the
// scheduler records in order).
func next(runs []db.ScheduleRun) int {
	if len(runs) == 0 {
		return 0
	}
	return runs[len(runs)-1].Run + 1
}

// open returns the run under way in runs, if any.
func open(runs []db.ScheduleRun) (db.ScheduleRun, bool) {
	if len(runs) > 0 && runs[len(runs)-1].Open() {
		return runs[len(runs)-1], true
	}
	return db.ScheduleRun{}, false
}

// Upcoming returns when the plan's next run starts (zero when no run is
// left) and when the run under way ends (zero when none is, or when it
// is open-ended), given the runs recorded so far.
func Upcoming(p Plan, runs []db.ScheduleRun, now time.Time) (nextStart, runEnd time.Time) {
	if r, ok := open(runs); ok {
		runEnd = p.Window(r.Run).End
	}
	if w := p.Windows(next(runs), now, 1); len(w) > 0 {
		nextStart = w[0].Start
	}
	return nextStart, runEnd
}

// Holds returns the windows in which an experiment in state holds its
// device interfaces from now on, in order: the runs its plan (nil: no
// schedule) has left, and, while it runs, the time until it is due to
// stop or pause (left: the duration_s still to run, 0 for none).
func Holds(state string, p *Plan, runs []db.ScheduleRun, now time.Time, left time.Duration) []Window {
	switch state {
	case "configured", "running", "paused":
	default:
		return nil
	}
	if p == nil {
		if state != "running" {
			return nil
		}
		w := Window{Start: now}
		if left > 0 {
			w.End = now.Add(left)
		}
		return []Window{w}
	}
	n := next(runs)
	var out []Window
	if state == "running" {
		w := Window{Start: now}
		if r, ok := open(runs); ok {
			w.End = p.Window(r.Run).End
		} else if n < p.Runs() {
			// Started by hand before a run: the scheduler takes that run
			// as under way and ends it at its end.
			w.End = p.Window(n).End
			n++
		}
		if !w.Open() && !w.End.After(now) {
			w.End = now.Add(time.Second) // due to end at once
		}
		out = append(out, w)
	}
	return append(out, p.Windows(n, now, 0)...)
}
