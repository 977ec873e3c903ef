package main

import (
	"strings"
	"testing"
	"time"

	"github.com/gimsproject/gims/amapi"
)

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 12, 1, 17, 0, 0, 300_000_000, time.UTC)
	cases := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"2026-12-01T18:00:00Z", time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC), false},
		{"2026-12-01T19:00:00+01:00", time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC), false},
		// Relative times are rounded up to the second: "+0s" is not past.
		{"+0s", time.Date(2026, 12, 1, 17, 0, 1, 0, time.UTC), false},
		{"+10m", time.Date(2026, 12, 1, 17, 10, 1, 0, time.UTC), false},
		{"+1h30m", time.Date(2026, 12, 1, 18, 30, 1, 0, time.UTC), false},
		{"+-1s", time.Time{}, true},
		{"18:00", time.Time{}, true},
		{"", time.Time{}, true},
	}
	for i, tc := range cases {
		got, err := parseWhen("start-at", tc.in, now)
		if (err != nil) != tc.err || !got.Equal(tc.want) {
			t.Errorf("row %d: parseWhen(%q) = %v, %v; want %v (error %t)", i, tc.in, got, err, tc.want, tc.err)
		}
	}
}

// TestScheduleOutput checks the schedule in the status, the settings and
// the timeline.
func TestScheduleOutput(t *testing.T) {
	start := time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)
	var b strings.Builder
	if err := renderStatus(&b, amapi.Status{State: "paused", NextStart: start, RunEnd: time.Time{}}); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "next start:           2026-12-01T18:00:00Z\n") ||
		!strings.Contains(out, "run ends:             -\n") {
		t.Errorf("status without the next start:\n%s", out)
	}
	b.Reset()
	if err := renderStatus(&b, amapi.Status{State: "running"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "next start") {
		t.Errorf("status of an unscheduled experiment shows a next start:\n%s", b.String())
	}
	b.Reset()
	err := renderSettings(&b, amapi.Settings{ID: 1, Name: "hourly", State: "paused",
		Config: &amapi.ConfigView{Storage: "remote", Schedule: &amapi.ScheduleView{StartAt: start, EveryS: 600, RunS: 60, Count: 3, Runs: 3}},
		Runs: []amapi.ScheduleRun{{Run: 1, PlannedStart: start, PlannedEnd: start.Add(time.Minute), Started: start.Add(2 * time.Second),
			Ended: start.Add(time.Minute), Outcome: "done", Note: "started 2s late"}}})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"schedule.every_s:", "schedule.runs:", "runs:\nRUN  PLANNED_START",
		"1    2026-12-01T18:00:00Z  2026-12-01T18:01:00Z  2026-12-01T18:00:02Z  2026-12-01T18:01:00Z  done     started 2s late"} {
		if !strings.Contains(out, want) {
			t.Errorf("settings without %q:\n%s", want, out)
		}
	}
	b.Reset()
	err = renderTimeline(&b, []amapi.TimelineRun{
		{Device: "tap1", Interface: "eth0", Experiment: 1, Name: "hourly", State: "configured", Start: start, End: start.Add(time.Minute)},
		{Device: "tap1", Interface: "eth0", Experiment: 2, State: "running", Start: start.Add(-time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	want := "DEVICE     START                 END                   EXPERIMENT  NAME              STATE\n" +
		"tap1:eth0  2026-12-01T18:00:00Z  2026-12-01T18:01:00Z  1           hourly            configured\n" +
		"tap1:eth0  2026-12-01T17:00:00Z  until stopped         2           (another user's)  running\n"
	if b.String() != want {
		t.Errorf("timeline (-got, +want):\n-%s\n+%s", b.String(), want)
	}
}
