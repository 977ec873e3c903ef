package am

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/capture/device"
	"github.com/gimsproject/gims/capture/job"
	"github.com/gimsproject/gims/capture/sim"
)

// hangingDevice is a real capture device (job manager and device API)
// whose interface sim0 captures synthetic traffic that never ends, and
// which can be made to hang: its HTTP server then accepts requests and
// never answers them (until the caller gives up or the test ends).
type hangingDevice struct {
	host string
	port int
	jobs *job.Manager
	hang atomic.Bool
	// statusCalls counts the JobStatus calls it received.
	statusCalls atomic.Int64
}

// startHangingDevice serves a hangingDevice on 127.0.0.1.
func startHangingDevice(t *testing.T, pacer *sim.Pacer, seed uint32, token string) *hangingDevice {
	t.Helper()
	jcfg := job.DefaultConfiguration()
	jcfg.DataDir, jcfg.MinFree, jcfg.NoSync = t.TempDir(), 0, true
	jobs, err := job.New(jcfg, job.Dependencies{Synthetic: []job.Synthetic{{
		Interface: job.Interface{Name: "sim0", LinkType: "EN10MB", Description: "simulated traffic"},
		Open:      func(snaplen int) *capture.Source { return pacer.Source(seed, snaplen) },
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := jobs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = jobs.Stop() })
	dcfg := device.DefaultConfiguration()
	dcfg.Token = token
	h, err := device.New(dcfg, device.Dependencies{Jobs: jobs})
	if err != nil {
		t.Fatal(err)
	}
	d := &hangingDevice{jobs: jobs}
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/RPC2" {
			body, _ := io.ReadAll(r.Body)
			if bytes.Contains(body, []byte("<methodName>JobStatus</methodName>")) {
				d.statusCalls.Add(1)
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		if d.hang.Load() {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	host, p, err := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	d.host = host
	if d.port, err = strconv.Atoi(p); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestStartRollbackHungDevices starts an experiment on devices of which
// a few accept the StartJob call and never answer: the start fails with
// ErrDevice naming each device that hangs and no other, the experiment
// stays configured, and every job the start made on the devices that
// answered is stopped by the time the call returns (all or nothing).
func TestStartRollbackHungDevices(t *testing.T) {
	for _, tc := range []struct {
		name            string
		healthy, hangs  int
		concurrency     int
		wantRolledBack  int
		wantStartCancel int
	}{
		{"one-of-5", 4, 1, DefaultDeviceConcurrency, 4, 1},
		{"three-of-9", 6, 3, DefaultDeviceConcurrency, 6, 3},
		// Two calls at a time: the hung devices hold the slots until the
		// device timeout is over, and the others are not tried then.
		{"two-of-7-two-slots", 5, 2, 2, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			pacer, err := sim.NewPacer(sim.DefaultConfiguration())
			if err != nil {
				t.Fatal(err)
			}
			const token = "rollback-token"
			store, cfg := newTestStore(t)
			cfg.DeviceTimeout, cfg.DeviceConcurrency = time.Second, tc.concurrency
			cfg.Logger = slog.New(slog.DiscardHandler)
			m, err := New(cfg, Dependencies{DB: store})
			if err != nil {
				t.Fatal(err)
			}
			admin := Principal{Name: "admin", Role: RoleAdmin}
			var (
				devs    []*hangingDevice
				names   []string
				pairs   []string
				hanging = map[string]bool{}
			)
			// The hung devices first: their calls go out before the others'.
			for i := range tc.hangs + tc.healthy {
				d := startHangingDevice(t, pacer, uint32(i)<<16, token)
				name := fmt.Sprintf("dev%02d", i)
				if _, err := m.AddDevice(ctx, admin, amapi.DeviceInput{Name: name, Type: "gims-capd", Hostname: d.host,
					Port: d.port, Token: token, Policy: openPolicy()}); err != nil {
					t.Fatalf("AddDevice(%s) error:\n%+v", name, err)
				}
				devs, names, pairs = append(devs, d), append(names, name), append(pairs, name+":sim0")
				hanging[name] = i < tc.hangs
			}
			id, err := m.CreateExperiment(ctx, admin, amapi.CreateRequest{Name: "hung", Devices: pairs})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.ConfigureExperiment(ctx, admin, id, amapi.ExperimentConfig{Counters: &amapi.CountersConfig{}}); err != nil {
				t.Fatal(err)
			}
			for i, d := range devs {
				d.hang.Store(hanging[names[i]])
			}
			_, err = m.StartExperiment(ctx, admin, id)
			if !errors.Is(err, ErrDevice) {
				t.Fatalf("StartExperiment with %d devices hanging: %v, want ErrDevice", tc.hangs, err)
			}
			msg := err.Error()
			for i, name := range names {
				named := strings.Contains(msg, name+":sim0: ")
				if named != hanging[name] {
					t.Errorf("device %s (hanging %v) named as failed: %v, in %q", name, hanging[name], named, msg)
				}
				if hanging[name] {
					continue
				}
				jobs := devs[i].jobs.List()
				switch {
				case tc.wantRolledBack == 0 && len(jobs) != 0:
					t.Errorf("device %s, not tried, has jobs %+v", name, jobs)
				case tc.wantRolledBack > 0 && (len(jobs) != 1 || jobs[0].State != job.StateDone):
					t.Errorf("device %s answered the start: its jobs %+v, want the one it made, stopped", name, jobs)
				}
			}
			rolledBack := 0
			if i := strings.Index(msg, "rolled back on"); i >= 0 {
				rolledBack = strings.Count(msg[i:], ":sim0")
			}
			if rolledBack != tc.wantRolledBack {
				t.Errorf("fault says rolled back on %d pairings, want %d: %q", rolledBack, tc.wantRolledBack, msg)
			}
			if untried := strings.Contains(msg, "not tried"); untried != (tc.wantRolledBack == 0) {
				t.Errorf("fault says devices were not tried: %v, want %v: %q", untried, tc.wantRolledBack == 0, msg)
			}
			e, err := m.db.GetExperiment(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if e.State != StateConfigured {
				t.Errorf("experiment %s after the failed start, want configured", e.State)
			}
			for _, p := range e.Devices {
				if p.Job != "" {
					t.Errorf("pairing %s keeps job %q after the rollback", p.Device, p.Job)
				}
			}
			cancels, err := m.db.StartCancels(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(cancels) != tc.wantStartCancel {
				t.Errorf("%d starts to cancel later, want %d (the hung devices'): %+v", len(cancels), tc.wantStartCancel, cancels)
			}
			for _, c := range cancels {
				if !hanging[c.Device] {
					t.Errorf("a start to cancel on %s, which answered", c.Device)
				}
			}
		})
	}
}

// TestStopAnswersFromStops checks that StopExperiment answers with each
// device's final status, done, asked once right after its job stopped:
// the answer does not make a second round of calls to every device.
func TestStopAnswersFromStops(t *testing.T) {
	ctx := context.Background()
	pacer, err := sim.NewPacer(sim.DefaultConfiguration())
	if err != nil {
		t.Fatal(err)
	}
	const token = "stop-token"
	store, cfg := newTestStore(t)
	cfg.Logger = slog.New(slog.DiscardHandler)
	m, err := New(cfg, Dependencies{DB: store})
	if err != nil {
		t.Fatal(err)
	}
	admin := Principal{Name: "admin", Role: RoleAdmin}
	var (
		devs  []*hangingDevice
		pairs []string
	)
	for i := range 4 {
		d := startHangingDevice(t, pacer, uint32(i)<<16, token)
		name := fmt.Sprintf("dev%02d", i)
		if _, err := m.AddDevice(ctx, admin, amapi.DeviceInput{Name: name, Type: "gims-capd", Hostname: d.host,
			Port: d.port, Token: token, Policy: openPolicy()}); err != nil {
			t.Fatalf("AddDevice(%s) error:\n%+v", name, err)
		}
		devs, pairs = append(devs, d), append(pairs, name+":sim0")
	}
	id, err := m.CreateExperiment(ctx, admin, amapi.CreateRequest{Name: "stopped", Devices: pairs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.ConfigureExperiment(ctx, admin, id, amapi.ExperimentConfig{Counters: &amapi.CountersConfig{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.StartExperiment(ctx, admin, id); err != nil {
		t.Fatal(err)
	}
	before := make([]int64, len(devs))
	for i, d := range devs {
		before[i] = d.statusCalls.Load()
	}
	st, err := m.StopExperiment(ctx, admin, id)
	if err != nil {
		t.Fatalf("StopExperiment() error:\n%+v", err)
	}
	if st.State != StateDone || len(st.Devices) != len(devs) {
		t.Fatalf("StopExperiment answered %s with %d devices, want done with %d", st.State, len(st.Devices), len(devs))
	}
	for i, d := range devs {
		ds := st.Devices[i]
		if ds.State != "done" || !ds.Reachable || ds.Job == "" {
			t.Errorf("device %d after the stop: %+v, want its job done, reachable", i, ds)
		}
		if got := d.statusCalls.Load() - before[i]; got != 1 {
			t.Errorf("device %d asked for its job's status %d times by StopExperiment, want 1", i, got)
		}
		jobs := d.jobs.List()
		if len(jobs) != 1 || jobs[0].State != job.StateDone {
			t.Errorf("device %d jobs %+v, want one, done", i, jobs)
		}
	}
	// The answer is kept: the next status asks nobody.
	if _, err := m.GetExperimentStatus(ctx, admin, id); err != nil {
		t.Fatal(err)
	}
	for i, d := range devs {
		if got := d.statusCalls.Load() - before[i]; got != 1 {
			t.Errorf("device %d asked %d times after a status of the done experiment, want 1", i, got)
		}
	}
}
