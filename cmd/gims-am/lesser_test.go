package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gimsproject/gims/internal/testnet"
)

// TestAddDeviceForeignService is issue 20 finding 8: AddDevice on a
// host:port that is not a capture daemon is fault 5 with the HTTP status
// only: no redirect is followed (the token stays home) and nothing of the
// answer is echoed.
func TestAddDeviceForeignService(t *testing.T) {
	t.Parallel()
	const secret = "intranet-page-do-not-leak"
	var hits, withToken atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("Authorization") != "" {
			withToken.Add(1)
		}
		io.WriteString(w, secret)
	}))
	defer target.Close()
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("x") || strings.HasPrefix(r.Header.Get("Authorization"), "Bearer redirect") {
			http.Redirect(w, r, target.URL+"/RPC2", http.StatusFound)
			return
		}
		http.Error(w, "<html><title>"+secret+"</title></html>", http.StatusOK)
	}))
	defer foreign.Close()
	a := startAM(t)
	host, portStr, _ := strings.Cut(strings.TrimPrefix(foreign.URL, "http://"), ":")
	for _, tc := range []struct{ token, want string }{
		{"redirect-token", "not a GIMS capture daemon (HTTP 302)"},
		{"page-token", "not a GIMS capture daemon"},
	} {
		err := a.call(adminName, adminPass, "AddDevice", nil, map[string]any{"name": "web", "hostname": host,
			"port": atoi(t, portStr), "token": tc.token})
		if faultCode(err) != 5 || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), secret) {
			t.Errorf("AddDevice on a web server (%s) = %v; want fault 5 %q without the page", tc.token, err, tc.want)
		}
	}
	if hits.Load() != 0 || withToken.Load() != 0 {
		t.Errorf("the redirect was followed %d times, %d with the token", hits.Load(), withToken.Load())
	}
}

// TestDeviceDetailsForAdminsOnly is issue 20 finding 8: fault 5 and the
// status name the device to experimenters, without its address, and
// without what the device learned about a flows collector's port; admins
// read everything.
func TestDeviceDetailsForAdminsOnly(t *testing.T) {
	t.Parallel()
	up := startCapd(t, "tok-up2")
	down := startCapd(t, "tok-down2")
	a := startAM(t)
	a.addDevice(t, "up", up)
	a.addDevice(t, "down", down)
	a.admin(t, "AddUser", nil, map[string]any{"name": "alice", "password": "alice-password", "role": "experimenter"})
	alice := func(method string, reply any, args ...any) error {
		return a.call("alice", "alice-password", method, reply, args...)
	}
	// A start that fails on the device that is down.
	var split int64
	if err := alice("CreateExperiment", &split, map[string]any{"name": "split", "devices": []string{"up:" + traceIface, "down:" + traceIface}}); err != nil {
		t.Fatal(err)
	}
	if err := alice("ConfigureExperiment", nil, split, map[string]any{"replay_speed": 0.1}); err != nil {
		t.Fatal(err)
	}
	downAddr := down.addr
	down.kill(9)
	err := alice("StartExperiment", nil, split)
	if faultCode(err) != 5 || !strings.Contains(err.Error(), "device down unreachable") || strings.Contains(err.Error(), downAddr) ||
		strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("StartExperiment as an experimenter = %v; want fault 5 naming the device, not its address %s", err, downAddr)
	}
	err = a.call(adminName, adminPass, "StartExperiment", nil, split)
	if faultCode(err) != 5 || !strings.Contains(err.Error(), downAddr) {
		t.Errorf("StartExperiment as the admin = %v; want fault 5 with the address %s", err, downAddr)
	}
	// A collector on a port where nothing listens: the device's status
	// says so to admins only.
	closed := testnet.RefusingTCP(t).Addr
	var flows int64
	if err := alice("CreateExperiment", &flows, map[string]any{"name": "flows", "devices": []string{"up:" + traceIface}}); err != nil {
		t.Fatal(err)
	}
	if err := alice("ConfigureExperiment", nil, flows, map[string]any{"flows": map[string]any{"collector": "tcp://" + closed}}); err != nil {
		t.Fatal(err)
	}
	if err := alice("StartExperiment", nil, flows); err != nil {
		t.Fatal(err)
	}
	st := a.waitStatus(t, "alice", "alice-password", flows, "done", func(s status) bool { return s.State == "done" })
	var admin status
	a.admin(t, "GetExperimentStatus", &admin, flows)
	if !strings.Contains(strings.Join(admin.Errors, "\n"), closed) {
		t.Fatalf("the admin's status does not say what the collector did: %q", admin.Errors)
	}
	joined := strings.Join(st.Errors, "\n")
	if strings.Contains(joined, closed) || !strings.Contains(joined, "flows collector could not be used") {
		t.Errorf("the experimenter's status errors %q: want the generic collector message, not the address %s", st.Errors, closed)
	}
	// A device that goes away while running: the experimenter's status
	// names it, without its address.
	var run int64
	if err := alice("CreateExperiment", &run, map[string]any{"name": "run", "devices": []string{"up:" + traceIface}}); err != nil {
		t.Fatal(err)
	}
	if err := alice("ConfigureExperiment", nil, run, map[string]any{"replay_speed": 0.01}); err != nil {
		t.Fatal(err)
	}
	if err := alice("StartExperiment", nil, run); err != nil {
		t.Fatal(err)
	}
	upAddr := up.addr
	up.kill(9)
	st = a.waitStatus(t, "alice", "alice-password", run, "the device unreachable", func(s status) bool {
		return len(s.Devices) == 1 && !s.Devices[0].Reachable
	})
	joined = strings.Join(st.Errors, "\n")
	if strings.Contains(joined, upAddr) || !strings.Contains(joined, "device up unreachable") {
		t.Errorf("the experimenter's status errors %q: want the device named, not its address %s", st.Errors, upAddr)
	}
	a.admin(t, "GetExperimentStatus", &admin, run)
	if !strings.Contains(strings.Join(admin.Errors, "\n"), upAddr) {
		t.Errorf("the admin's status errors %q do not give the address", admin.Errors)
	}
}

// atoi parses a port.
func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}
