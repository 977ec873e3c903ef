package schedule_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/am/schedule"
	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/internal/daemontest"
)

// capdBin is the gims-capd binary TestMain builds.
var capdBin string

func TestMain(m *testing.M) {
	built, dir, err := daemontest.Build("../../cmd", []string{"gims-capd"}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	capdBin = built["gims-capd"]
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fakeClock is a Clock whose time moves only when the test sets it.
// Every After call is announced on afters (with its duration), so that a
// test knows when the scheduler's loop waits.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
	afters chan time.Duration
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, afters: make(chan time.Duration, 100)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
	} else {
		c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	}
	c.afters <- d
	return ch
}

// set moves the time to t and fires the timers due.
func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.timers[:0]
	for _, tm := range c.timers {
		if tm.at.After(t) {
			kept = append(kept, tm)
			continue
		}
		tm.ch <- t
	}
	c.timers = kept
}

// env is a manager on a real database with a real capture daemon (on
// lo) as device "cap", and a fake clock.
type env struct {
	t      *testing.T
	store  *db.DB
	dbPath string
	dir    string
	m      *am.Manager
	clock  *fakeClock
	t0     time.Time
	alice  am.Principal
	admin  am.Principal
	sink   *net.UDPConn
	conn   net.Conn
	port   int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, dbPath: filepath.Join(dir, "am.db"),
		t0:    time.Now().Truncate(time.Second),
		alice: am.Principal{Name: "alice", Role: am.RoleExperimenter},
		admin: am.Principal{Name: "admin", Role: am.RoleAdmin}}
	e.clock = newFakeClock(e.t0)
	e.openManager()
	if _, err := e.m.AddUser(ctx, e.admin, amapi.UserInput{Name: "alice", Password: "alice-password-1", Role: am.RoleExperimenter}); err != nil {
		t.Fatal(err)
	}
	c := daemontest.StartCapd(t, capdBin, t.TempDir(), "tok-sched", nil)
	if _, err := e.m.AddDevice(ctx, e.admin, amapi.DeviceInput{Name: "cap", Location: "lab", Type: "gims-capd",
		Hostname: c.Host, Port: c.Port, Token: "tok-sched", Policy: openPolicy()}); err != nil {
		t.Fatal(err)
	}
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	e.sink, e.port = sink, sink.LocalAddr().(*net.UDPAddr).Port
	if e.conn, err = net.Dial("udp", sink.LocalAddr().String()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.conn.Close() })
	return e
}

// openManager opens the database and a manager on it (again after
// restart).
func (e *env) openManager() {
	e.t.Helper()
	dcfg := db.DefaultConfiguration()
	dcfg.Path = e.dbPath
	store, err := db.Open(context.Background(), dcfg)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := am.DefaultConfiguration()
	cfg.DataDir, cfg.BcryptCost, cfg.Now, cfg.DeviceTimeout = filepath.Join(e.dir, "data"), 4, e.clock.Now, 5*time.Second
	m, err := am.New(cfg, am.Dependencies{DB: store})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.store, e.m = store, m
	e.t.Cleanup(func() {
		m.Stop()
		store.Close()
	})
}

// restart stops the manager and opens a new one on the same database,
// as a restart of gims-am does.
func (e *env) restart() {
	e.m.Stop()
	e.store.Close()
	e.openManager()
}

// scheduler returns a new scheduler of the manager with the fake clock.
func (e *env) scheduler() *schedule.Scheduler {
	e.t.Helper()
	cfg := schedule.DefaultConfiguration()
	cfg.LateAfter = time.Second
	cfg.Interval = time.Hour // the loop test wakes it by its boundaries only
	s, err := schedule.New(cfg, schedule.Dependencies{DB: e.store, Experiments: e.m, Clock: e.clock})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// at is the test's start time plus s seconds.
func (e *env) at(s int) time.Time { return e.t0.Add(time.Duration(s) * time.Second) }

// experiment creates an experiment of alice on cap:lo, configured with
// sched (none when nil), counting what send sends.
func (e *env) experiment(name string, sched *amapi.ScheduleConfig) (int64, error) {
	ctx := context.Background()
	id, err := e.m.CreateExperiment(ctx, e.alice, amapi.CreateRequest{Name: name, Devices: []string{"cap:lo"}})
	if err != nil {
		e.t.Fatal(err)
	}
	_, err = e.m.ConfigureExperiment(ctx, e.alice, id, amapi.ExperimentConfig{
		Filter: fmt.Sprintf("udp and dst port %d", e.port), Counters: &amapi.CountersConfig{IntervalMS: 100},
		Schedule: sched})
	return id, err
}

// mustExperiment is experiment failing the test on error.
func (e *env) mustExperiment(name string, sched *amapi.ScheduleConfig) int64 {
	e.t.Helper()
	id, err := e.experiment(name, sched)
	if err != nil {
		e.t.Fatalf("configure %s: %v", name, err)
	}
	return id
}

// send sends n datagrams to the sink.
func (e *env) send(n int) {
	for i := range n {
		fmt.Fprintf(e.conn, "datagram %d", i)
	}
}

// status returns the experiment's status.
func (e *env) status(id int64) amapi.Status {
	e.t.Helper()
	st, err := e.m.GetExperimentStatus(context.Background(), e.alice, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// waitPackets waits until the device counted n packets.
func (e *env) waitPackets(id int64, n uint64) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := e.status(id)
		if st.Packets == n {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("experiment %d: %d packets, want %d", id, st.Packets, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// step sets the clock to t, steps s and checks the state and the next
// wake.
func (e *env) step(s *schedule.Scheduler, id int64, t time.Time, wantState string, wantWake time.Time) {
	e.t.Helper()
	e.clock.set(t)
	wake := s.Step(context.Background())
	if !wake.Equal(wantWake) {
		e.t.Errorf("at +%s: Step woke for %v, want %v", t.Sub(e.t0), wake, wantWake)
	}
	if st := e.status(id); st.State != wantState {
		e.t.Fatalf("at +%s: state %s, want %s (errors %v)", t.Sub(e.t0), st.State, wantState, st.Errors)
	}
}

// settings returns the experiment's settings.
func (e *env) settings(id int64) amapi.Settings {
	e.t.Helper()
	s, err := e.m.GetExperimentSettings(context.Background(), e.alice, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// history is the experiment's transitions as "by:to".
func (e *env) history(id int64) []string {
	var out []string
	for _, tr := range e.settings(id).Transitions {
		out = append(out, tr.By+":"+tr.To)
	}
	return out
}

// runs is the experiment's recorded runs as "outcome" or "outcome (note)".
func (e *env) runs(id int64) []string {
	var out []string
	for _, r := range e.settings(id).Runs {
		s := fmt.Sprintf("%d %s", r.Run, r.Outcome)
		if r.Note != "" {
			s += " (" + r.Note + ")"
		}
		out = append(out, s)
	}
	return out
}

// twoRuns is the schedule of the issue: 2 runs of 3 s every 6 s, from
// t0+10 s.
func (e *env) twoRuns() *amapi.ScheduleConfig {
	return &amapi.ScheduleConfig{StartAt: e.at(10), EveryS: 6, RunS: 3, Count: 2}
}

func TestTwoRuns(t *testing.T) {
	e := newEnv(t)
	id := e.mustExperiment("two-runs", e.twoRuns())
	s := e.scheduler()
	e.step(s, id, e.at(0), "configured", e.at(10))
	if st := e.status(id); !st.NextStart.Equal(e.at(10)) || !st.RunEnd.IsZero() {
		t.Errorf("waiting: next_start %v, run_end %v; want %v, none", st.NextStart, st.RunEnd, e.at(10))
	}
	e.step(s, id, e.at(10), "running", e.at(13))
	if st := e.status(id); !st.NextStart.Equal(e.at(16)) || !st.RunEnd.Equal(e.at(13)) {
		t.Errorf("run 1: next_start %v, run_end %v; want %v, %v", st.NextStart, st.RunEnd, e.at(16), e.at(13))
	}
	e.send(5)
	e.waitPackets(id, 5)
	e.step(s, id, e.at(13), "paused", e.at(16))
	e.send(4) // while paused: not counted
	e.step(s, id, e.at(16), "running", e.at(19))
	e.send(3)
	e.waitPackets(id, 8)
	e.step(s, id, e.at(19), "done", time.Time{})
	// Nothing more to do, however often it looks.
	e.step(s, id, e.at(25), "done", time.Time{})

	want := []string{"alice:instantiated", "alice:configured", "scheduler:running", "scheduler:paused",
		"scheduler:running", "scheduler:done"}
	if got := e.history(id); !reflect.DeepEqual(got, want) {
		t.Errorf("history (-got, +want):\n- %v\n+ %v", got, want)
	}
	runs := e.settings(id).Runs
	if len(runs) != 2 {
		t.Fatalf("runs = %+v, want 2", runs)
	}
	for i, r := range runs {
		start := e.at(10 + 6*i)
		if r.Run != i+1 || r.Outcome != "done" || !r.Started.Equal(start) || !r.Ended.Equal(start.Add(3*time.Second)) ||
			!r.PlannedStart.Equal(start) || r.Note != "" {
			t.Errorf("run %d = %+v, want done from %v for 3 s", i+1, r, start)
		}
	}
	if st := e.status(id); st.Packets != 8 || !st.NextStart.IsZero() {
		t.Errorf("done: %d packets, next_start %v; want 8 (not the 4 sent in the pause), none", st.Packets, st.NextStart)
	}
}

// TestRestartBetweenRuns: a new manager and scheduler on the same
// database take the schedule where it was; the old scheduler, should it
// look again, starts nothing twice.
func TestRestartBetweenRuns(t *testing.T) {
	e := newEnv(t)
	id := e.mustExperiment("restart", e.twoRuns())
	old := e.scheduler()
	e.step(old, id, e.at(10), "running", e.at(13))
	e.send(2)
	e.waitPackets(id, 2)
	e.step(old, id, e.at(13), "paused", e.at(16))

	e.restart()
	s := e.scheduler()
	e.step(s, id, e.at(14), "paused", e.at(16))
	e.step(s, id, e.at(16), "running", e.at(19))
	e.step(s, id, e.at(16), "running", e.at(19))
	e.send(3)
	e.waitPackets(id, 5)
	e.step(s, id, e.at(19), "done", time.Time{})
	want := []string{"alice:instantiated", "alice:configured", "scheduler:running", "scheduler:paused",
		"scheduler:running", "scheduler:done"}
	if got := e.history(id); !reflect.DeepEqual(got, want) {
		t.Errorf("history (-got, +want):\n- %v\n+ %v", got, want)
	}
	if got, want := e.runs(id), []string{"1 done", "2 done"}; !reflect.DeepEqual(got, want) {
		t.Errorf("runs (-got, +want):\n- %v\n+ %v", got, want)
	}
}

// TestStopDuringStart: a run claimed by a scheduler that stopped while
// starting it is never started again.
func TestStopDuringStart(t *testing.T) {
	e := newEnv(t)
	id := e.mustExperiment("crash", e.twoRuns())
	s := e.scheduler()
	e.step(s, id, e.at(10), "running", e.at(13))
	e.step(s, id, e.at(13), "paused", e.at(16))
	// The claim of run 2 made, then the AM stopped before starting it.
	if err := e.store.ClaimRun(context.Background(), db.ScheduleRun{Experiment: id, Run: 1, PlannedStart: e.at(16),
		PlannedEnd: e.at(19), Started: e.at(16), Outcome: db.RunStarting}); err != nil {
		t.Fatal(err)
	}
	e.restart()
	s = e.scheduler()
	// Run 2 failed and was the last: the schedule is over.
	e.step(s, id, e.at(17), "done", time.Time{})
	want := []string{"alice:instantiated", "alice:configured", "scheduler:running", "scheduler:paused", "scheduler:done"}
	if got := e.history(id); !reflect.DeepEqual(got, want) {
		t.Errorf("history (-got, +want):\n- %v\n+ %v", got, want)
	}
	if got, want := e.runs(id), []string{"1 done", "2 failed (the aggregate manager stopped while starting it)"}; !reflect.DeepEqual(got, want) {
		t.Errorf("runs (-got, +want):\n- %v\n+ %v", got, want)
	}
}

// TestMissedStarts: a start missed while the AM was down is taken late
// within its window, skipped after it.
func TestMissedStarts(t *testing.T) {
	e := newEnv(t)
	id := e.mustExperiment("late", e.twoRuns())
	never := e.mustExperiment("never", &amapi.ScheduleConfig{StartAt: e.at(30), RunS: 3})
	s := e.scheduler()
	e.step(s, id, e.at(12), "running", e.at(13))
	// Down from +12 to +20: run 1 ends late, run 2 is missed, the
	// schedule is over.
	e.step(s, id, e.at(20), "done", e.at(30))
	want := []string{"alice:instantiated", "alice:configured", "scheduler:running", "scheduler:paused", "scheduler:done"}
	if got := e.history(id); !reflect.DeepEqual(got, want) {
		t.Errorf("history (-got, +want):\n- %v\n+ %v", got, want)
	}
	if got, want := e.runs(id), []string{"1 done (started 2s late)",
		"2 skipped (missed: its window passed while the aggregate manager was not running)"}; !reflect.DeepEqual(got, want) {
		t.Errorf("runs (-got, +want):\n- %v\n+ %v", got, want)
	}
	// A single run missed entirely: skipped, the experiment stays
	// configured (it never ran), with no next start.
	e.step(s, never, e.at(40), "configured", time.Time{})
	if got, want := e.runs(never), []string{"1 skipped (missed: its window passed while the aggregate manager was not running)"}; !reflect.DeepEqual(got, want) {
		t.Errorf("runs (-got, +want):\n- %v\n+ %v", got, want)
	}
	if st := e.status(never); !st.NextStart.IsZero() {
		t.Errorf("next_start %v, want none", st.NextStart)
	}
}

// TestOverlapRefused: schedules that overlap another experiment's on one
// device interface, and starts by hand during one, are fault 6 naming
// the other and the overlap.
func TestOverlapRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first := e.mustExperiment("first", e.twoRuns())
	fault := func(err error) string {
		t.Helper()
		if err == nil {
			t.Fatal("no error, want fault 6")
		}
		f := am.FaultOf(err)
		if f.Code != amapi.FaultConflict {
			t.Fatalf("fault %d %s, want 6", f.Code, f.String)
		}
		return f.String
	}
	// The second run of first is [+16, +19).
	_, err := e.experiment("second", &amapi.ScheduleConfig{StartAt: e.at(18), RunS: 5})
	msg := fault(err)
	wantMsg := fmt.Sprintf(`would overlap experiment %d "first" (configured) on cap:lo from %s to %s`, first,
		e.at(18).UTC().Format(time.RFC3339), e.at(19).UTC().Format(time.RFC3339))
	if !strings.Contains(msg, wantMsg) {
		t.Errorf("fault string %q, want it to contain %q", msg, wantMsg)
	}
	// The refused configuration changed nothing.
	if st := e.settings(first + 1); st.State != "instantiated" {
		t.Errorf("refused experiment is %s, want instantiated", st.State)
	}
	// Between the runs: accepted.
	third := e.mustExperiment("third", &amapi.ScheduleConfig{StartAt: e.at(13), RunS: 3})
	// Without a schedule: configured, but a start by hand would capture
	// through first's runs.
	fourth := e.mustExperiment("fourth", nil)
	_, err = e.m.StartExperiment(ctx, e.alice, fourth)
	msg = fault(err)
	if want := fmt.Sprintf(`experiment %d would overlap experiment %d "first" (configured) on cap:lo from %s to %s`,
		fourth, first, e.at(10).UTC().Format(time.RFC3339), e.at(13).UTC().Format(time.RFC3339)); !strings.Contains(msg, want) {
		t.Errorf("fault string %q, want it to contain %q", msg, want)
	}
	if st := e.status(fourth); st.State != "configured" {
		t.Errorf("refused start left %s, want configured", st.State)
	}
	// Once first and third ran, fourth may start.
	s := e.scheduler()
	e.step(s, first, e.at(10), "running", e.at(13))
	e.step(s, first, e.at(13), "paused", e.at(16)) // and third's run starts
	if st := e.status(third); st.State != "running" {
		t.Errorf("third is %s at +13s, want running", st.State)
	}
	e.step(s, third, e.at(16), "done", e.at(19)) // and first runs again
	e.step(s, first, e.at(19), "done", time.Time{})
	if _, err := e.m.StartExperiment(ctx, e.alice, fourth); err != nil {
		t.Errorf("start after the schedules: %v", err)
	}
	// A schedule while fourth runs (until stopped by hand) overlaps it.
	_, err = e.experiment("fifth", &amapi.ScheduleConfig{StartAt: e.at(100), RunS: 3})
	msg = fault(err)
	if want := fmt.Sprintf(`overlap experiment %d "fourth" (running) on cap:lo from %s to %s`, fourth,
		e.at(100).UTC().Format(time.RFC3339), e.at(103).UTC().Format(time.RFC3339)); !strings.Contains(msg, want) {
		t.Errorf("fault string %q, want it to contain %q", msg, want)
	}
	if _, err := e.m.StopExperiment(ctx, e.alice, fourth); err != nil {
		t.Fatal(err)
	}
}

// TestManualStopEndsSchedule: a stop by hand ends the schedule; its run
// under way is closed.
func TestManualStopEndsSchedule(t *testing.T) {
	e := newEnv(t)
	id := e.mustExperiment("manual", e.twoRuns())
	s := e.scheduler()
	e.step(s, id, e.at(10), "running", e.at(13))
	if _, err := e.m.StopExperiment(context.Background(), e.alice, id); err != nil {
		t.Fatal(err)
	}
	e.step(s, id, e.at(11), "done", time.Time{})
	e.step(s, id, e.at(16), "done", time.Time{})
	if got, want := e.runs(id), []string{"1 done (the experiment was stopped)"}; !reflect.DeepEqual(got, want) {
		t.Errorf("runs (-got, +want):\n- %v\n+ %v", got, want)
	}
	want := []string{"alice:instantiated", "alice:configured", "scheduler:running", "alice:done"}
	if got := e.history(id); !reflect.DeepEqual(got, want) {
		t.Errorf("history (-got, +want):\n- %v\n+ %v", got, want)
	}
}

// TestLoop: the started scheduler waits for the run boundaries on its
// clock and stops with Stop.
func TestLoop(t *testing.T) {
	e := newEnv(t)
	id := e.mustExperiment("loop", &amapi.ScheduleConfig{StartAt: e.at(10), RunS: 3})
	s := e.scheduler()
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if d := <-e.clock.afters; d != 10*time.Second {
		t.Errorf("first wait %s, want 10s", d)
	}
	e.clock.set(e.at(10))
	if d := <-e.clock.afters; d != 3*time.Second {
		t.Errorf("wait in the run %s, want 3s", d)
	}
	if st := e.status(id); st.State != "running" {
		t.Errorf("state %s, want running", st.State)
	}
	e.clock.set(e.at(13))
	if d := <-e.clock.afters; d != time.Hour {
		t.Errorf("wait after the schedule %s, want the interval (1h)", d)
	}
	if st := e.status(id); st.State != "done" {
		t.Errorf("state %s, want done", st.State)
	}
}

// TestTimeline: GetScheduleTimeline lists the windows of the span, sorted
// by interface and start, names another user's experiment only to
// admins, and refuses a bad span.
func TestTimeline(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.mustExperiment("timeline", e.twoRuns())
	if _, err := e.m.AddUser(ctx, e.admin, amapi.UserInput{Name: "bob", Password: "bob-password-1", Role: am.RoleExperimenter}); err != nil {
		t.Fatal(err)
	}
	bob := am.Principal{Name: "bob", Role: am.RoleExperimenter}
	q := amapi.TimelineQuery{From: e.at(0), To: e.at(17)}
	for _, tc := range []struct {
		who  am.Principal
		name string
	}{{e.alice, "timeline"}, {e.admin, "timeline"}, {bob, ""}} {
		got, err := e.m.GetScheduleTimeline(ctx, tc.who, q)
		if err != nil {
			t.Fatal(err)
		}
		// The second run starts within the span: both are listed.
		want := []amapi.TimelineRun{
			{Device: "cap", Interface: "lo", Experiment: id, Name: tc.name, State: "configured", Start: e.at(10), End: e.at(13)},
			{Device: "cap", Interface: "lo", Experiment: id, Name: tc.name, State: "configured", Start: e.at(16), End: e.at(19)}}
		if fmt.Sprint(utc(got)) != fmt.Sprint(utc(want)) {
			t.Errorf("timeline of %s (-got, +want):\n- %+v\n+ %+v", tc.who.Name, got, want)
		}
	}
	if got, _ := e.m.GetScheduleTimeline(ctx, e.alice, amapi.TimelineQuery{From: e.at(0), To: e.at(10)}); len(got) != 0 {
		t.Errorf("timeline before the first run: %+v, want none", got)
	}
	for _, tc := range []struct {
		q    amapi.TimelineQuery
		want string
	}{
		{amapi.TimelineQuery{From: e.at(10), To: e.at(5)}, "must be after from"},
		{amapi.TimelineQuery{From: e.at(0), To: e.at(8 * 24 * 3600)}, "timeline spans at most 7 days, got 192h0m0s"},
	} {
		_, err := e.m.GetScheduleTimeline(ctx, e.alice, tc.q)
		if f := am.FaultOf(err); f.Code != amapi.FaultInvalid || !strings.Contains(f.String, tc.want) {
			t.Errorf("timeline %+v: fault %d %q, want 3 with %q", tc.q, f.Code, f.String, tc.want)
		}
	}
}

// utc writes the times of timeline rows in UTC, for comparisons.
func utc(rows []amapi.TimelineRun) []amapi.TimelineRun {
	out := slices.Clone(rows)
	for i := range out {
		out[i].Start, out[i].End = out[i].Start.UTC(), out[i].End.UTC()
	}
	return out
}

// TestDownAcrossRunEnd: the AM down from within run 1 to within run 2:
// run 1 ends and run 2 is taken late without a pause between them.
func TestDownAcrossRunEnd(t *testing.T) {
	e := newEnv(t)
	id := e.mustExperiment("across", e.twoRuns())
	s := e.scheduler()
	e.step(s, id, e.at(10), "running", e.at(13))
	e.step(s, id, e.at(17), "running", e.at(19))
	e.step(s, id, e.at(19), "done", time.Time{})
	want := []string{"alice:instantiated", "alice:configured", "scheduler:running", "scheduler:done"}
	if got := e.history(id); !reflect.DeepEqual(got, want) {
		t.Errorf("history (-got, +want):\n- %v\n+ %v", got, want)
	}
	if got, want := e.runs(id), []string{"1 done", "2 done (the experiment was already running)"}; !reflect.DeepEqual(got, want) {
		t.Errorf("runs (-got, +want):\n- %v\n+ %v", got, want)
	}
}

// openPolicy is the device policy (SPEC §9) that allows every
// experiment, for these tests, which are not about policy: every user,
// no anonymization required, payloads kept, experimenters' secrets.
func openPolicy() *amapi.PolicyInput {
	p := amapi.DefaultDevicePolicy()
	p.RequireAnonymization, p.Payload, p.KeyHolder = false, "keep", "experimenter"
	return amapi.PolicyInputOf(p)
}
