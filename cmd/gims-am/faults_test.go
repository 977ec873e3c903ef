package main

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDeviceDownAtPauseAndStop: a device that cannot be reached makes
// PauseExperiment and StopExperiment fault 5 naming it, the other device
// is rolled back, the experiment keeps its state, and the status marks
// the device unreachable.
func TestDeviceDownAtPauseAndStop(t *testing.T) {
	t.Parallel()
	up := startCapd(t, "tok-a")
	down := startCapd(t, "tok-b")
	a := startAM(t)
	a.addDevice(t, "up", up)
	a.addDevice(t, "down", down)
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "two", "devices": []string{"up:lo", "down:lo"}})
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"counters": map[string]any{}})
	a.admin(t, "StartExperiment", nil, id)
	down.kill(syscall.SIGKILL)
	for _, method := range []string{"PauseExperiment", "StopExperiment"} {
		err := a.call(adminName, adminPass, method, nil, id)
		if faultCode(err) != 5 || !strings.Contains(err.Error(), "device down") || !strings.Contains(err.Error(), "rolled back on up:lo") {
			t.Errorf("%s with a device down = %v, want fault 5 naming it and the rollback", method, err)
		}
	}
	st := a.waitStatus(t, adminName, adminPass, id, "status", func(status) bool { return true })
	if st.State != "running" {
		t.Errorf("state = %s, want running", st.State)
	}
	for _, d := range st.Devices {
		if d.Device == "down" && d.Reachable {
			t.Errorf("the dead device is reported reachable")
		}
		if d.Device == "up" && (!d.Reachable || d.State != "running") {
			t.Errorf("the live device: %+v, want reachable and running (rolled back)", d)
		}
	}
	if len(st.Errors) == 0 || !strings.Contains(strings.Join(st.Errors, " "), "unreachable") {
		t.Errorf("errors = %v, want the unreachable device", st.Errors)
	}
	if tr := a.transitions(t, id); tr[len(tr)-1] != "configured>running" {
		t.Errorf("failed transitions were recorded: %v", tr)
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
	a.kill(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
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
