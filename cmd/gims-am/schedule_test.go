package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// scheduleRun is one entry of the runs of GetExperimentSettings.
type scheduleRun struct {
	Run     int       `xmlrpc:"run"`
	Started time.Time `xmlrpc:"started"`
	Ended   time.Time `xmlrpc:"ended"`
	Outcome string    `xmlrpc:"outcome"`
	Note    string    `xmlrpc:"note"`
}

// TestScheduleAcrossRestart: a schedule of 2 runs of 3 s every 6 s on a
// real capture daemon on lo, with the real clock, the AM restarted
// between the runs, ends done with two runs, the transitions made by the
// scheduler and the packets of both runs counted.
func TestScheduleAcrossRestart(t *testing.T) {
	t.Parallel()
	c := startCapd(t, "tok-sched")
	dir := t.TempDir()
	a := startAMIn(t, dir)
	a.addDevice(t, "lo-tap", c)
	u := newUDPSink(t)
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "scheduled", "devices": []string{"lo-tap:lo"}})
	// The first run in two seconds (whole seconds, as dateTime has).
	start := time.Now().Truncate(time.Second).Add(2 * time.Second)
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"filter": u.filter(),
		"counters": map[string]any{"interval_ms": 200},
		"schedule": map[string]any{"start_at": start, "every_s": 6, "run_s": 3, "count": 2}})
	var st struct {
		State     string    `xmlrpc:"state"`
		NextStart time.Time `xmlrpc:"next_start"`
	}
	a.admin(t, "GetExperimentStatus", &st, id)
	if st.State != "configured" || !st.NextStart.Equal(start) {
		t.Errorf("before the first run: %s, next_start %v; want configured, %v", st.State, st.NextStart, start)
	}

	// A datagram every 20 ms throughout: the runs count those of their
	// windows.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				fmt.Fprint(u.conn, "scheduled")
			}
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()

	// Run 1 ended: the experiment is paused until run 2 (unless the
	// machine is so slow that run 2 began already).
	a.waitRuns(t, id, "run 1 ended", func(runs []scheduleRun) bool { return len(runs) >= 1 && runs[0].Outcome == "done" })
	var first status
	a.admin(t, "GetExperimentStatus", &first, id)
	if first.State != "paused" {
		t.Logf("after run 1 the experiment is %s, not paused: the machine is slow", first.State)
	}

	// The AM goes down between the runs and comes back on its database.
	a.kill(syscall.SIGTERM)
	a = startAMIn(t, dir)
	last := a.waitStatus(t, adminName, adminPass, id, "done", func(s status) bool { return s.State == "done" })
	// The scheduler records the last run's end just after the stop that
	// ends it (a stop refused leaves the run open): wait for it.
	a.waitRuns(t, id, "run 2 recorded", func(runs []scheduleRun) bool { return len(runs) == 2 && runs[1].Outcome != "running" })
	if first.Packets == 0 || last.Packets <= first.Packets {
		t.Errorf("packets after run 1: %d, at the end: %d; want both runs counted", first.Packets, last.Packets)
	}

	var settings struct {
		Transitions []struct {
			From string `xmlrpc:"from"`
			To   string `xmlrpc:"to"`
			By   string `xmlrpc:"by"`
		} `xmlrpc:"transitions"`
		Runs []scheduleRun `xmlrpc:"runs"`
	}
	a.admin(t, "GetExperimentSettings", &settings, id)
	var history []string
	for _, tr := range settings.Transitions {
		history = append(history, tr.By+":"+tr.To)
	}
	want := "admin:instantiated admin:configured scheduler:running scheduler:paused scheduler:running scheduler:done"
	if got := strings.Join(history, " "); got != want {
		t.Errorf("history:\n got %s\nwant %s", got, want)
	}
	if len(settings.Runs) != 2 {
		t.Fatalf("runs = %+v, want 2", settings.Runs)
	}
	for i, r := range settings.Runs {
		if r.Run != i+1 || r.Outcome != "done" || r.Started.IsZero() || !r.Ended.After(r.Started) {
			t.Errorf("run %d = %+v, want done", i+1, r)
		}
	}
	// The capture daemon made one job, paused and resumed.
	if jobs := deviceJobs(t, c); len(jobs) != 1 {
		t.Errorf("device jobs = %+v, want 1", jobs)
	}
}

// waitRuns polls the experiment's runs until cond holds.
func (a *amProc) waitRuns(t *testing.T, id int64, what string, cond func([]scheduleRun) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var s struct {
			Runs []scheduleRun `xmlrpc:"runs"`
		}
		a.admin(t, "GetExperimentSettings", &s, id)
		if cond(s.Runs) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("experiment %d: %s not reached within 30 s; runs %+v\nAM log:\n%s", id, what, s.Runs, a.logText())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPythonSchedule configures schedules with Python's xmlrpc.client:
// datetime and ISO 8601 strings, the next start in the status, an overlap
// refused with fault 6 naming the other experiment, a bad schedule fault
// 3, and the timeline.
func TestPythonSchedule(t *testing.T) {
	t.Parallel()
	c := startCapd(t, "tok-pysched")
	a := startAM(t)
	host, port, _ := strings.Cut(c.addr, ":")
	cmd := exec.Command("python3", "testdata/schedule.py", a.url(adminName, adminPass), host, port, c.token, "lo")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("schedule.py: %v\n%s\nAM log:\n%s", err, stderr.String(), a.logText())
	}
	type fault struct {
		Code   int    `json:"code"`
		String string `json:"string"`
	}
	var got struct {
		State         string         `json:"state"`
		Schedule      map[string]any `json:"schedule"`
		NextStart     string         `json:"next_start"`
		ExpectedStart string         `json:"expected_start"`
		First         int            `json:"first"`
		Overlap       *fault         `json:"overlap"`
		Bad           *fault         `json:"bad"`
		Timeline      []struct {
			Experiment int    `json:"experiment"`
			Name       string `json:"name"`
			Start      string `json:"start"`
			End        string `json:"end"`
		} `json:"timeline"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("schedule.py output %q: %v", out, err)
	}
	if got.State != "configured" || got.NextStart != got.ExpectedStart || got.Schedule["runs"] != 3.0 ||
		got.Schedule["every_s"] != 600.0 || got.Schedule["run_s"] != 60.0 {
		t.Errorf("configured: %+v; want configured, 3 runs, next start %s", got, got.ExpectedStart)
	}
	if got.Overlap == nil || got.Overlap.Code != 6 ||
		!strings.Contains(got.Overlap.String, fmt.Sprintf(`overlap experiment %d "hourly" (configured) on tap:lo from `, got.First)) {
		t.Errorf("overlap fault = %+v, want fault 6 naming experiment %d \"hourly\"", got.Overlap, got.First)
	}
	if got.Bad == nil || got.Bad.Code != 3 || !strings.Contains(got.Bad.String, "run_s (60) must be less than every_s (60)") {
		t.Errorf("bad schedule fault = %+v, want fault 3 on run_s", got.Bad)
	}
	// The three runs (1 h, 1 h 10 min and 1 h 20 min from now) are
	// within the next 24 h.
	if len(got.Timeline) != 3 || got.Timeline[0].Name != "hourly" || got.Timeline[0].Start != got.ExpectedStart {
		t.Errorf("timeline = %+v, want the 3 runs of hourly", got.Timeline)
	}
}
