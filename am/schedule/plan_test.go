package schedule

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// t0 is the configuration time of the tests.
var t0 = time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)

// at is t0 plus s seconds.
func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func TestCheckRefuses(t *testing.T) {
	cases := []struct {
		cfg  amapi.ScheduleConfig
		want string
	}{
		{amapi.ScheduleConfig{}, "schedule is empty: give start_at, stop_at, run_s, or every_s with run_s and count or stop_at"},
		{amapi.ScheduleConfig{EveryS: -6, RunS: 3, Count: 2}, "schedule every_s must be between 1 and 31622400 seconds, got -6"},
		{amapi.ScheduleConfig{RunS: -1}, "schedule run_s must be between 1 and 31622400 seconds, got -1"},
		{amapi.ScheduleConfig{EveryS: 6, RunS: 3, Count: -1}, "schedule count must be at least 1, got -1"},
		{amapi.ScheduleConfig{EveryS: 6, Count: 2}, "schedule every_s 6 needs run_s, the length of each run"},
		{amapi.ScheduleConfig{EveryS: 6, RunS: 6, Count: 2}, "schedule run_s (6) must be less than every_s (6): each run must end before the next starts"},
		{amapi.ScheduleConfig{EveryS: 6, RunS: 9, Count: 2}, "schedule run_s (9) must be less than every_s (6): each run must end before the next starts"},
		{amapi.ScheduleConfig{EveryS: 6, RunS: 3}, "schedule every_s 6 repeats without end: give count (the number of runs) or stop_at"},
		{amapi.ScheduleConfig{RunS: 3, Count: 2}, "schedule count 2 needs every_s, the time from one run's start to the next"},
		{amapi.ScheduleConfig{StartAt: at(-60), RunS: 3}, "schedule start_at 2026-12-01T16:59:00Z is in the past (now is 2026-12-01T17:00:00Z)"},
		{amapi.ScheduleConfig{StartAt: at(400 * 24 * 3600)}, "schedule start_at 2028-01-05T17:00:00Z is more than 366 days ahead"},
		{amapi.ScheduleConfig{StartAt: at(60), StopAt: at(30)}, "schedule stop_at 2026-12-01T17:00:30Z must be after start_at 2026-12-01T17:01:00Z"},
		{amapi.ScheduleConfig{StopAt: at(-1)}, "schedule stop_at 2026-12-01T16:59:59Z is not in the future (now is 2026-12-01T17:00:00Z)"},
		{amapi.ScheduleConfig{EveryS: 2, RunS: 1, Count: 10001}, "schedule makes 10001 runs; at most 10000"},
		{amapi.ScheduleConfig{EveryS: 2, RunS: 1, StopAt: at(30000)}, "schedule makes 15000 runs; at most 10000"},
		{amapi.ScheduleConfig{EveryS: 30000000, RunS: 1, Count: 20}, "schedule spans 6597 days from its start; at most 3660"},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			_, err := Check(tc.cfg, t0)
			if err == nil || err.Error() != tc.want {
				t.Errorf("row %d: Check(%+v) error:\n got %v\nwant %s", i, tc.cfg, err, tc.want)
			}
		})
	}
}

func TestPlanWindows(t *testing.T) {
	cases := []struct {
		cfg  amapi.ScheduleConfig
		want []Window
	}{
		// start_at alone: one open-ended run.
		{amapi.ScheduleConfig{StartAt: at(10)}, []Window{{Start: at(10)}}},
		// stop_at alone: from now.
		{amapi.ScheduleConfig{StopAt: at(10)}, []Window{{Start: at(0), End: at(10)}}},
		// start and stop.
		{amapi.ScheduleConfig{StartAt: at(5), StopAt: at(10)}, []Window{{Start: at(5), End: at(10)}}},
		// run_s alone.
		{amapi.ScheduleConfig{StartAt: at(5), RunS: 3}, []Window{{Start: at(5), End: at(8)}}},
		// run_s and stop_at: the earlier.
		{amapi.ScheduleConfig{StartAt: at(5), RunS: 30, StopAt: at(10)}, []Window{{Start: at(5), End: at(10)}}},
		// 2 runs of 3 s every 6 s.
		{amapi.ScheduleConfig{StartAt: at(10), EveryS: 6, RunS: 3, Count: 2},
			[]Window{{Start: at(10), End: at(13)}, {Start: at(16), End: at(19)}}},
		// Until stop_at, the last run cut.
		{amapi.ScheduleConfig{StartAt: at(0), EveryS: 6, RunS: 3, StopAt: at(14)},
			[]Window{{Start: at(0), End: at(3)}, {Start: at(6), End: at(9)}, {Start: at(12), End: at(14)}}},
		// count and stop_at: whichever ends first.
		{amapi.ScheduleConfig{StartAt: at(0), EveryS: 6, RunS: 3, StopAt: at(100), Count: 2},
			[]Window{{Start: at(0), End: at(3)}, {Start: at(6), End: at(9)}}},
		// A start_at of "now" with whole seconds is taken.
		{amapi.ScheduleConfig{StartAt: at(0), RunS: 1}, []Window{{Start: at(0), End: at(1)}}},
	}
	for i, tc := range cases {
		p, err := Check(tc.cfg, t0.Add(300*time.Millisecond))
		if err != nil {
			t.Errorf("row %d: %v", i, err)
			continue
		}
		if tc.cfg.StartAt.IsZero() {
			p.Start = t0 // the configuration time, made whole for the table
		}
		var got []Window
		for r := range p.Runs() {
			got = append(got, p.Window(r))
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("row %d: windows (-got, +want):\n- %v\n+ %v", i, got, tc.want)
		}
		if back := FromView(&[]amapi.ScheduleView{p.View()}[0]); !reflect.DeepEqual(back, p) {
			t.Errorf("row %d: FromView(View()) = %+v, want %+v", i, back, p)
		}
	}
}

func TestFirstOverlap(t *testing.T) {
	w := func(s, e int) Window {
		if e < 0 {
			return Window{Start: at(s)}
		}
		return Window{Start: at(s), End: at(e)}
	}
	cases := []struct {
		a, b []Window
		want Window
		ok   bool
	}{
		{[]Window{w(0, 3), w(6, 9)}, []Window{w(3, 6), w(9, 12)}, Window{}, false},         // touching is not overlapping
		{[]Window{w(0, 3), w(6, 9)}, []Window{w(8, 20)}, w(8, 9), true},                    // the second run
		{[]Window{w(0, 3), w(6, 9)}, []Window{w(1, -1)}, w(1, 3), true},                    // an open-ended one
		{[]Window{w(5, -1)}, []Window{w(0, 2), w(7, -1)}, w(7, -1), true},                  // both open
		{[]Window{w(0, 1), w(2, 3), w(4, 5)}, []Window{w(1, 2), w(3, 4)}, Window{}, false}, // interleaved
		{nil, []Window{w(0, -1)}, Window{}, false},
	}
	for i, tc := range cases {
		got, ok := FirstOverlap(tc.a, tc.b)
		if ok != tc.ok || got != tc.want {
			t.Errorf("row %d: FirstOverlap = %v, %t; want %v, %t", i, got, ok, tc.want, tc.ok)
		}
		if got2, ok2 := FirstOverlap(tc.b, tc.a); ok2 != tc.ok || got2 != tc.want {
			t.Errorf("row %d swapped: FirstOverlap = %v, %t; want %v, %t", i, got2, ok2, tc.want, tc.ok)
		}
	}
}

func TestHolds(t *testing.T) {
	p := Plan{Start: at(10), Every: 6 * time.Second, Run: 3 * time.Second, Count: 2}
	run := func(i int, outcome string) db.ScheduleRun {
		return db.ScheduleRun{Run: i, Outcome: outcome}
	}
	cases := []struct {
		state string
		plan  *Plan
		runs  []db.ScheduleRun
		now   time.Time
		left  time.Duration
		want  []Window
	}{
		{"running", nil, nil, at(0), 0, []Window{{Start: at(0)}}},
		{"running", nil, nil, at(0), 5 * time.Second, []Window{{Start: at(0), End: at(5)}}},
		{"paused", nil, nil, at(0), 0, nil},
		{"configured", &p, nil, at(0), 0, []Window{{Start: at(10), End: at(13)}, {Start: at(16), End: at(19)}}},
		// In run 1: the rest of it, then run 2.
		{"running", &p, []db.ScheduleRun{run(0, db.RunRunning)}, at(11), 0,
			[]Window{{Start: at(11), End: at(13)}, {Start: at(16), End: at(19)}}},
		// Paused between runs.
		{"paused", &p, []db.ScheduleRun{run(0, db.RunDone)}, at(14), 0, []Window{{Start: at(16), End: at(19)}}},
		// Started by hand before run 1: until its end.
		{"running", &p, nil, at(2), 0, []Window{{Start: at(2), End: at(13)}, {Start: at(16), End: at(19)}}},
		// Over.
		{"done", &p, []db.ScheduleRun{run(0, db.RunDone), run(1, db.RunDone)}, at(20), 0, nil},
		{"configured", &p, []db.ScheduleRun{run(0, db.RunSkipped), run(1, db.RunSkipped)}, at(20), 0, nil},
	}
	for i, tc := range cases {
		got := Holds(tc.state, tc.plan, tc.runs, tc.now, tc.left)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("row %d: Holds (-got, +want):\n- %v\n+ %v", i, got, tc.want)
		}
	}
}

func TestUpcoming(t *testing.T) {
	p := Plan{Start: at(10), Every: 6 * time.Second, Run: 3 * time.Second, Count: 2}
	cases := []struct {
		runs         []db.ScheduleRun
		now          time.Time
		next, runEnd time.Time
	}{
		{nil, at(0), at(10), time.Time{}},
		{[]db.ScheduleRun{{Run: 0, Outcome: db.RunRunning}}, at(11), at(16), at(13)},
		{[]db.ScheduleRun{{Run: 0, Outcome: db.RunDone}}, at(14), at(16), time.Time{}},
		{[]db.ScheduleRun{{Run: 0, Outcome: db.RunDone}, {Run: 1, Outcome: db.RunRunning}}, at(17), time.Time{}, at(19)},
		// A run whose window passed is not next.
		{nil, at(14), at(16), time.Time{}},
	}
	for i, tc := range cases {
		next, end := Upcoming(p, tc.runs, tc.now)
		if !next.Equal(tc.next) || !end.Equal(tc.runEnd) {
			t.Errorf("row %d: Upcoming = %v, %v; want %v, %v", i, next, end, tc.next, tc.runEnd)
		}
	}
}

func TestConfiguration(t *testing.T) {
	cases := []struct {
		mod  func(*Configuration)
		want string
	}{
		{func(c *Configuration) { c.Interval = 0 }, "invalid scheduler configuration: Interval must be positive, got 0s"},
		{func(c *Configuration) { c.LateAfter = -time.Second }, "invalid scheduler configuration: LateAfter must be positive, got -1s"},
		{func(c *Configuration) { c.RetryInterval = 0 }, "invalid scheduler configuration: RetryInterval must be positive, got 0s"},
		{func(c *Configuration) { c.Logger = nil }, "invalid scheduler configuration: Logger must be set"},
	}
	for i, tc := range cases {
		cfg := DefaultConfiguration()
		tc.mod(&cfg)
		if _, err := New(cfg, Dependencies{}); err == nil || err.Error() != tc.want {
			t.Errorf("row %d: New error:\n got %v\nwant %s", i, err, tc.want)
		}
	}
	if _, err := New(DefaultConfiguration(), Dependencies{}); err == nil {
		t.Error("New without a database: no error")
	}
}
