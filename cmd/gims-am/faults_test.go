package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"
)

// TestDeviceDownAtPauseAndStop: a device that cannot be reached makes
// PauseExperiment fault 5 naming it, the other device is rolled back and
// the experiment keeps its state (SPEC §2). StopExperiment always works
// (SPEC §9): the live device stops, the experiment is done and the dead
// one is marked stop_pending; restarted on the same data folder (its job
// resumes), it is stopped by the AM's monitor, across an AM restart, and
// the mark clears.
func TestDeviceDownAtPauseAndStop(t *testing.T) {
	t.Parallel()
	up := startCapd(t, "tok-a")
	downDir := t.TempDir()
	down := startCapdIn(t, downDir, "", "tok-b")
	amDir := t.TempDir()
	a := startAMIn(t, amDir)
	a.addDevice(t, "up", up)
	a.addDevice(t, "down", down)
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "two", "devices": []string{"up:lo", "down:lo"}})
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"counters": map[string]any{}, "filter": "udp"})
	a.admin(t, "StartExperiment", nil, id)
	down.kill(syscall.SIGKILL)
	err := a.call(adminName, adminPass, "PauseExperiment", nil, id)
	if faultCode(err) != 5 || !strings.Contains(err.Error(), "device down") || !strings.Contains(err.Error(), "rolled back on up:lo") {
		t.Errorf("PauseExperiment with a device down = %v, want fault 5 naming it and the rollback", err)
	}
	st := a.waitStatus(t, adminName, adminPass, id, "status", func(status) bool { return true })
	if st.State != "running" {
		t.Errorf("state after the failed pause = %s, want running", st.State)
	}
	if tr := a.transitions(t, id); tr[len(tr)-1] != "configured>running" {
		t.Errorf("failed transitions were recorded: %v", tr)
	}

	a.admin(t, "StopExperiment", &st, id)
	if st.State != "done" {
		t.Errorf("state after a stop with a device down = %s, want done", st.State)
	}
	for _, d := range st.Devices {
		if d.Device == "down" && (d.Reachable || !d.StopPending || !strings.Contains(strings.Join(d.Errors, " "), "stop pending: device down")) {
			t.Errorf("the dead device: %+v, want unreachable, stop_pending and its error", d)
		}
		if d.Device == "up" && (!d.Reachable || d.State != "done" || d.StopPending) {
			t.Errorf("the live device: %+v, want reachable and done", d)
		}
	}
	if !strings.Contains(strings.Join(st.Errors, " "), "down:lo: stop pending: device down") {
		t.Errorf("errors = %v, want the pending stop naming the device", st.Errors)
	}
	if tr := a.transitions(t, id); tr[len(tr)-1] != "running>done" {
		t.Errorf("transitions = %v, want running>done last", tr)
	}

	// The mark survives an AM restart; the device comes back on the same
	// data folder and port, its job resumes, and the AM stops it.
	a.kill(syscall.SIGTERM)
	b := startAMIn(t, amDir)
	st = b.waitStatus(t, adminName, adminPass, id, "status", func(status) bool { return true })
	if !st.Devices[1].StopPending {
		t.Errorf("stop_pending lost across an AM restart: %+v", st.Devices[1])
	}
	startCapdIn(t, downDir, down.addr, "tok-b")
	st = b.waitStatus(t, adminName, adminPass, id, "the pending stop", func(s status) bool {
		return !s.Devices[1].StopPending && s.Devices[1].State == "done"
	})
	if st.State != "done" || !st.Devices[1].Reachable || len(st.Devices[1].Errors) != 0 {
		t.Errorf("after the pending stop: %+v", st)
	}
}

// TestAMRestart: an AM restarted while an experiment runs follows it
// again with the same state and counters, and can stop it.
func TestAMRestart(t *testing.T) {
	t.Parallel()
	c := startCapd(t, "tok-rs")
	dir := t.TempDir()
	a := startAMIn(t, dir)
	a.addDevice(t, "tap1", c)
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "long", "devices": []string{"tap1:" + traceIface}})
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"replay_speed": 0.2, "counters": map[string]any{}, "flows": map[string]any{}})
	a.admin(t, "StartExperiment", nil, id)
	before := a.waitStatus(t, adminName, adminPass, id, "packets", func(s status) bool { return s.Packets > 0 })
	a.kill(syscall.SIGTERM) // returns once the AM exited
	b := startAMIn(t, dir)
	after := b.waitStatus(t, adminName, adminPass, id, "status", func(status) bool { return true })
	if after.State != "running" || after.Packets < before.Packets {
		t.Errorf("after the AM restart: state %s, %d packets; before: running, %d", after.State, after.Packets, before.Packets)
	}
	var st status
	b.admin(t, "StopExperiment", &st, id)
	if st.State != "done" || st.Devices[0].State != "done" {
		t.Errorf("stop after restart: %+v", st)
	}
	var counters []counterRow
	b.admin(t, "GetExperimentResults", &counters, id, map[string]any{"kind": "counters", "limit": 10000})
	var sum int64
	for _, r := range counters {
		sum += r.Packets
	}
	if sum != st.Packets {
		t.Errorf("counters sum to %d, status %d: counted twice or lost", sum, st.Packets)
	}
}

// TestCapdKilledAndRestarted: a capture daemon SIGKILLed mid-experiment
// and restarted resumes the job; the experiment's counters continue and
// the gap is reported.
func TestCapdKilledAndRestarted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := startCapdIn(t, dir, "", "tok-kill")
	a := startAM(t)
	a.addDevice(t, "tap1", c)
	u := newUDPSink(t)
	send := u.send
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "crash", "devices": []string{"tap1:lo"}})
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"pcap": true, "counters": map[string]any{"interval_ms": 100},
		"filter": u.filter()})
	a.admin(t, "StartExperiment", nil, id) // the job captures once it returns
	send(30)
	a.waitStatus(t, adminName, adminPass, id, "30 packets", func(s status) bool { return s.Packets == 30 })
	waitOnDisk(t, filepath.Join(dir, "data"), 30)
	c.kill(syscall.SIGKILL)
	down := a.waitStatus(t, adminName, adminPass, id, "device unreachable", func(s status) bool { return !s.Devices[0].Reachable })
	if down.State != "running" || down.Packets != 30 {
		t.Errorf("with the daemon dead: state %s, %d packets; want running with the last 30", down.State, down.Packets)
	}
	time.Sleep(time.Second) // not a wait: the daemon stays down a second, which interrupted_s reports
	startCapdIn(t, dir, c.addr, "tok-kill")
	// The daemon resumes its jobs (their capture open) before it listens.
	a.waitStatus(t, adminName, adminPass, id, "device back", func(s status) bool { return s.Devices[0].Reachable })
	send(20)
	var full struct {
		Packets int64 `xmlrpc:"packets"`
		Devices []struct {
			InterruptedS float64 `xmlrpc:"interrupted_s"`
		} `xmlrpc:"devices"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for full.Packets < 50 && time.Now().Before(deadline) {
		a.admin(t, "GetExperimentStatus", &full, id)
		time.Sleep(100 * time.Millisecond)
	}
	if full.Packets != 50 || full.Devices[0].InterruptedS < 1 {
		t.Errorf("after the restart: %d packets (want 30 + 20), interrupted_s %v (want ≥ 1)", full.Packets, full.Devices[0].InterruptedS)
	}
	var st status
	a.admin(t, "StopExperiment", &st, id)
	var files []fileRow
	a.waitStatus(t, adminName, adminPass, id, "pulled", func(s status) bool { return s.ResultsPulled })
	a.admin(t, "GetExperimentResults", &files, id, map[string]any{"kind": "files"})
	for _, f := range files {
		if f.Name == "packets.pcap" {
			_, body := download(t, f.URL, adminName, adminPass)
			if n := pcapPackets(t, body); n != 50 {
				t.Errorf("the pcap after a crash holds %d packets, want 50", n)
			}
		}
	}
}

// waitOnDisk waits until the only job of a capture daemon keeping its jobs
// in data has want packets in its checkpoint (job.json, rewritten every
// second) and in packets.pcap (flushed every second): what a SIGKILL then
// leaves behind.
func waitOnDisk(t *testing.T, data string, want uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		state, pcap := onDisk(t, data)
		if state == want && pcap == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job's files in %s: job.json %d packets, packets.pcap %d; want %d in both", data, state, pcap, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// onDisk reads the packet count of the only job in data from its job.json
// and counts the whole records of its packets.pcap (one being written is
// not counted).
func onDisk(t *testing.T, data string) (state, pcap uint64) {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(data, "jobs", "*"))
	if err != nil || len(dirs) != 1 {
		t.Fatalf("jobs in %s: %v (%v), want one", data, dirs, err)
	}
	var st struct {
		Totals struct {
			Packets uint64 `json:"packets"`
		} `json:"totals"`
	}
	if b, err := os.ReadFile(filepath.Join(dirs[0], "job.json")); err == nil {
		_ = json.Unmarshal(b, &st) // rewritten atomically: absent or whole
	}
	f, err := os.Open(filepath.Join(dirs[0], "packets.pcap"))
	if err != nil {
		return st.Totals.Packets, 0
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return st.Totals.Packets, 0 // the header is not written yet
	}
	for {
		if _, _, err := r.ReadPacketData(); err != nil {
			return st.Totals.Packets, pcap
		}
		pcap++
	}
}

// TestDiskFull: a capture daemon whose data folder fills up ends the job
// with the error; the AM shows it and ends the experiment.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", data).CombinedOutput(); err != nil {
		t.Fatalf("mount a small tmpfs (the test needs root): %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", data).Run() })
	c := startCapdIn(t, dir, "", "tok-full", "-min-free", "0") // the disk fills up, not under the guard
	a := startAM(t)
	a.addDevice(t, "tap1", c)
	u := newUDPSink(t)
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "full", "devices": []string{"tap1:lo"}})
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"pcap": true, "filter": u.filter()})
	a.admin(t, "StartExperiment", nil, id)
	payload := bytes.Repeat([]byte("x"), 1400)
	var st status
	deadline := time.Now().Add(30 * time.Second)
	for st.State != "done" {
		for range 50 {
			u.conn.Write(payload)
		}
		if err := a.call(adminName, adminPass, "GetExperimentStatus", &st, id); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the experiment did not end on a full disk: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(strings.Join(st.Errors, " "), "no space left on device") {
		t.Errorf("errors = %v, want the full disk", st.Errors)
	}
	if tr := a.transitions(t, id); tr[len(tr)-1] != "running>done" {
		t.Errorf("transitions = %v", tr)
	}
}

// TestDeviceHangs: a device that accepts connections but never answers
// (SIGSTOP) costs a call no more than -device-timeout, and the start is
// refused with fault 5 and rolled back.
func TestDeviceHangs(t *testing.T) {
	t.Parallel()
	ok := startCapd(t, "tok-ok")
	hung := startCapd(t, "tok-hung")
	a := startAM(t, "-device-timeout", "1s")
	a.addDevice(t, "ok", ok)
	a.addDevice(t, "hung", hung)
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "hang", "devices": []string{"ok:lo", "hung:lo"}})
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"counters": map[string]any{}, "filter": "udp"})
	if err := hung.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer hung.Signal(syscall.SIGCONT)
	began := time.Now()
	err := a.call(adminName, adminPass, "StartExperiment", nil, id)
	took := time.Since(began)
	if faultCode(err) != 5 || !strings.Contains(err.Error(), "hung") {
		t.Errorf("StartExperiment with a hung device = %v, want fault 5 naming it", err)
	}
	if took > 8*time.Second {
		t.Errorf("StartExperiment took %v with a 1 s device timeout", took)
	}
	for _, j := range deviceJobs(t, ok) {
		if j.State != "done" {
			t.Errorf("job %s on the answering device is %s, want done (rolled back)", j.ID, j.State)
		}
	}
	if tr := a.transitions(t, id); tr[len(tr)-1] != "instantiated>configured" {
		t.Errorf("the failed start was recorded: %v", tr)
	}
}

// TestStartTimeoutLeavesNoJob is issue 20 finding 3 (second half): a
// StartJob slower than the AM's device timeout (the daemon stopped with
// SIGSTOP while the start is on its way) used to leave a job running that
// the AM believed was never started. The start carries a request id; the
// AM cancels it (StopJob with the request id) and, while the device does
// not answer, the monitor tries again; once the device runs again, no job
// of that start is left running.
func TestStartTimeoutLeavesNoJob(t *testing.T) {
	t.Parallel()
	slow := startCapd(t, "tok-slow")
	a := startAM(t, "-device-timeout", "1s")
	a.addDevice(t, "slow", slow)
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "slow-start", "devices": []string{"slow:" + traceIface}})
	// Slow enough a replay to be still running at the end of the test.
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"replay_speed": 0.01, "counters": map[string]any{}})
	if err := slow.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	err := a.call(adminName, adminPass, "StartExperiment", nil, id)
	if faultCode(err) != 5 {
		slow.Signal(syscall.SIGCONT)
		t.Fatalf("StartExperiment on a stopped device = %v, want fault 5", err)
	}
	if err := slow.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// The delayed StartJob now runs on the device; the AM's cancel (its
	// own, delayed too, or the monitor's) ends whatever it made.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(a.logText(), "start without an answer cancelled on the device") {
		if time.Now().After(deadline) {
			t.Fatalf("the AM did not cancel the start within 20 s; AM log:\n%s\ndevice log:\n%s", a.logText(), slow.logText())
		}
		time.Sleep(100 * time.Millisecond)
	}
	jobs := deviceJobs(t, slow)
	if len(jobs) > 1 {
		t.Errorf("%d jobs on the device for one start: %+v", len(jobs), jobs)
	}
	for _, j := range jobs {
		if j.State != "done" {
			t.Errorf("job %s of the failed start is %s on the device, want done (or no job); jobs %+v", j.ID, j.State, jobs)
		}
	}
	if tr := a.transitions(t, id); tr[len(tr)-1] != "instantiated>configured" {
		t.Errorf("the failed start was recorded: %v", tr)
	}
	// A start that works afterwards makes a new job, not the old one.
	var st status
	a.admin(t, "StartExperiment", &st, id)
	running := 0
	for _, j := range deviceJobs(t, slow) {
		if j.State == "running" {
			running++
		}
	}
	if st.State != "running" || running != 1 {
		t.Errorf("the start after the device came back: state %s, %d running jobs on the device; want running, 1", st.State, running)
	}
}

// TestLeaseWithRealProcesses: a gims-capd with a short -lease keeps a job
// running while the AM polls it; with the AM gone, the job pauses itself,
// and the AM started again shows why under the device.
func TestLeaseWithRealProcesses(t *testing.T) {
	t.Parallel()
	c := startCapdIn(t, t.TempDir(), "", "tok-lease", "-lease", "2s")
	amDir := t.TempDir()
	a := startAMIn(t, amDir)
	a.addDevice(t, "tap", c)
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "leased", "devices": []string{"tap:lo"}})
	// The filter leaves out the daemon's own API, as a capture on lo must.
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"filter": "udp", "counters": map[string]any{}})
	a.admin(t, "StartExperiment", nil, id)
	time.Sleep(5 * time.Second) // leases renewed by the AM's polls (200ms)
	st := a.waitStatus(t, adminName, adminPass, id, "status", func(status) bool { return true })
	if st.Devices[0].State != "running" {
		t.Fatalf("with the AM polling, the job is %s, want running: %v", st.Devices[0].State, st.Errors)
	}
	a.kill(syscall.SIGTERM)
	time.Sleep(3 * time.Second) // more than the lease without a call
	b := startAMIn(t, amDir)
	want := "paused: no call from the aggregate manager for 2s (lease)"
	st = b.waitStatus(t, adminName, adminPass, id, "the lease pause", func(s status) bool {
		return s.Devices[0].State == "paused"
	})
	if !strings.Contains(strings.Join(st.Devices[0].Errors, " "), want) {
		t.Errorf("device errors = %v, want %q", st.Devices[0].Errors, want)
	}
}
