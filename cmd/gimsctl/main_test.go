package main

import (
	"bytes"
	"encoding/base64"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gimsproject/gims/xmlrpc"
)

// update rewrites the golden files of the output tests.
var update = flag.Bool("update", false, "rewrite testdata/golden/*")

// ctlBinary is gimsctl built once for the tests that run it as a process.
var ctlBinary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "gimsctl-test")
	if err != nil {
		panic(err)
	}
	ctlBinary = filepath.Join(dir, "gimsctl")
	args := []string{"build", "-o", ctlBinary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("building gimsctl: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testPassword is the password of the tests; it must never be printed.
const testPassword = "s3cr3t-pa55"

// t0 is the time of the canned replies.
var t0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

// RecArgs receives up to two parameters of any type (exported, as the
// server requires of argument types).
type RecArgs struct {
	A any `xmlrpc:",optional"`
	B any `xmlrpc:",optional"`
}

// recorded is one call the fake AM received.
type recorded struct {
	method string
	args   []any
	auth   string
}

// fakeAM answers the SPEC §3 methods with canned replies and faults and
// records what it got.
type fakeAM struct {
	mu      sync.Mutex
	calls   []recorded
	replies map[string]any
	faults  map[string]xmlrpc.Fault
}

func (s *fakeAM) handle(r *http.Request, method string, a *RecArgs, reply *any) error {
	var args []any
	if a.A != nil {
		args = append(args, a.A)
	}
	if a.B != nil {
		args = append(args, a.B)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, recorded{method: method, args: args, auth: r.Header.Get("Authorization")})
	if f, ok := s.faults[method]; ok {
		return f
	}
	key := method
	if method == "GetExperimentResults" {
		if m, ok := a.B.(map[string]any); ok {
			key += ":" + m["kind"].(string)
		}
	}
	v, ok := s.replies[key]
	if !ok {
		return xmlrpc.Fault{Code: 1, String: "no canned reply for " + key}
	}
	*reply = v
	return nil
}

func (s *fakeAM) CreateExperiment(r *http.Request, a *RecArgs, reply *any) error {
	return s.handle(r, "CreateExperiment", a, reply)
}
func (s *fakeAM) ConfigureExperiment(r *http.Request, a *RecArgs, reply *any) error {
	return s.handle(r, "ConfigureExperiment", a, reply)
}
func (s *fakeAM) StartExperiment(r *http.Request, a *RecArgs, reply *any) error {
	return s.handle(r, "StartExperiment", a, reply)
}
func (s *fakeAM) PauseExperiment(r *http.Request, a *RecArgs, reply *any) error {
	return s.handle(r, "PauseExperiment", a, reply)
}
func (s *fakeAM) StopExperiment(r *http.Request, a *RecArgs, reply *any) error {
	return s.handle(r, "StopExperiment", a, reply)
}
func (s *fakeAM) GetDeviceCapabilities(r *http.Request, a *RecArgs, reply *any) error {
	return s.handle(r, "GetDeviceCapabilities", a, reply)
}
func (s *fakeAM) GetExperimentSettings(r *http.Request, a *RecArgs, reply *any) error {
	return s.handle(r, "GetExperimentSettings", a, reply)
}
func (s *fakeAM) GetExperimentStatus(r *http.Request, a *RecArgs, reply *any) error {
	return s.handle(r, "GetExperimentStatus", a, reply)
}
func (s *fakeAM) GetExperimentResults(r *http.Request, a *RecArgs, reply *any) error {
	return s.handle(r, "GetExperimentResults", a, reply)
}
func (s *fakeAM) ListExperiments(r *http.Request, a *RecArgs, reply *any) error {
	return s.handle(r, "ListExperiments", a, reply)
}
func (s *fakeAM) AddDevice(r *http.Request, a *RecArgs, reply *any) error {
	return s.handle(r, "AddDevice", a, reply)
}
func (s *fakeAM) EditDevice(r *http.Request, a *RecArgs, reply *any) error {
	return s.handle(r, "EditDevice", a, reply)
}
func (s *fakeAM) DeleteDevice(r *http.Request, a *RecArgs, reply *any) error {
	return s.handle(r, "DeleteDevice", a, reply)
}
func (s *fakeAM) ListDevices(r *http.Request, a *RecArgs, reply *any) error {
	return s.handle(r, "ListDevices", a, reply)
}
func (s *fakeAM) AddUser(r *http.Request, a *RecArgs, reply *any) error {
	return s.handle(r, "AddUser", a, reply)
}
func (s *fakeAM) DeleteUser(r *http.Request, a *RecArgs, reply *any) error {
	return s.handle(r, "DeleteUser", a, reply)
}
func (s *fakeAM) ListUsers(r *http.Request, a *RecArgs, reply *any) error {
	return s.handle(r, "ListUsers", a, reply)
}
func (s *fakeAM) RegisterDevice(r *http.Request, a *RecArgs, reply *any) error {
	return s.handle(r, "RegisterDevice", a, reply)
}

// Blob answers a base64 value, which SPEC §3 allows.
func (s *fakeAM) Blob(r *http.Request, a *RecArgs, reply *any) error {
	return s.handle(r, "Blob", a, reply)
}

// onlyCall returns the only call received.
func (s *fakeAM) onlyCall(t *testing.T) recorded {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.calls) != 1 {
		t.Fatalf("server got %d calls, want 1: %+v", len(s.calls), s.calls)
	}
	return s.calls[0]
}

// call returns the i-th call received.
func (s *fakeAM) call(t *testing.T, i int) recorded {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= len(s.calls) {
		t.Fatalf("server got %d calls, want more than %d", len(s.calls), i)
	}
	return s.calls[i]
}

// setReply sets the reply of a method ("GetExperimentResults:kind" for
// results).
func (s *fakeAM) setReply(method string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies[method] = v
}

// setFault makes a method answer f.
func (s *fakeAM) setFault(method string, f xmlrpc.Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = f
}

// numCalls returns how many calls the server received.
func (s *fakeAM) numCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// cannedReplies are SPEC-shaped replies of every method, with an extra
// member here and there that a newer server could add.
func cannedReplies() map[string]any {
	caps := map[string]any{
		"interfaces": []any{
			map[string]any{"name": "eth0", "link_type": "EN10MB", "description": "uplink tap"},
			map[string]any{"name": "file:trace.pcap", "link_type": "EN10MB", "description": ""},
		},
		"max_snaplen":        262144,
		"transforms":         []any{"counters", "flows", "anonymize", "pcap"},
		"storage_free_bytes": int64(10 << 30),
		"version":            "1.0.0",
	}
	settings := map[string]any{
		"id": 7, "name": "campus", "description": "uplink study", "owner": "alice", "state": "configured",
		"devices": []any{"tap1", "tap2:eth1"},
		"config": map[string]any{
			"filter": "tcp port 80", "snaplen": 96, "promiscuous": true,
			"counters": map[string]any{"interval_ms": 1000},
			"flows": map[string]any{"active_timeout_s": 1800, "idle_timeout_s": 300, "biflow": true,
				"collector": "udp://127.0.0.1:4739"},
			"anonymize": map[string]any{"secret_fingerprint": "1a2b3c4d"},
			"pcap":      false, "storage": "remote",
		},
		"created": t0,
		"transitions": []any{
			map[string]any{"from": "", "to": "instantiated", "by": "alice", "at": t0},
			map[string]any{"from": "instantiated", "to": "configured", "by": "alice", "at": t0.Add(time.Minute)},
		},
	}
	device := func(name string, per map[string]any) map[string]any {
		m := map[string]any{"name": name, "reachable": true, "packets": 100000, "bytes": 80000000,
			"dropped": 3, "elapsed_s": 90, "flows_exported": 40, "errors": []any{}, "cpu_percent": 10.0,
			"storage_used_bytes": 1 << 20, "storage_free_bytes": int64(50 << 30)}
		for k, v := range per {
			m[k] = v
		}
		return m
	}
	status := map[string]any{
		"state": "running", "packets": 123456, "bytes": 98765432, "dropped": 3, "elapsed_s": 90.5,
		"flows_exported": 42, "errors": []any{}, "cpu_percent": 12.5, "running_experiments": 1,
		"storage_used_bytes": 1 << 20, "storage_free_bytes": int64(50 << 30),
		"devices": []any{
			device("tap1", nil),
			device("tap2", map[string]any{"reachable": false, "packets": 23456, "bytes": 18765432, "dropped": 0,
				"errors": []any{"connection refused"}}),
		},
		"future_field": "new",
	}
	tapRecord := map[string]any{
		"name": "tap1", "location": "rack 3", "type": "gims-capd", "hostname": "10.1.1.1", "port": 8081,
		"description": "uplink", "interfaces": []any{"eth0"}, "approved": true, "reachable": true,
		"last_seen": t0, "capabilities": caps,
	}
	return map[string]any{
		"CreateExperiment":      7,
		"ConfigureExperiment":   settings,
		"GetExperimentSettings": settings,
		"StartExperiment":       status,
		"PauseExperiment":       status,
		"StopExperiment":        status,
		"GetExperimentStatus":   status,
		"GetDeviceCapabilities": caps,
		"GetExperimentResults:flows": []any{
			map[string]any{"src": "10.0.0.1", "dst": "192.0.2.7", "sport": 51000, "dport": 443, "proto": 6,
				"packets": 120, "bytes": 150000, "rev_packets": 80, "rev_bytes": 4096, "start": t0,
				"end": t0.Add(1500 * time.Millisecond), "end_reason": 3, "device": "tap1", "vlan": 0,
				"start_ms": t0.UnixMilli(), "end_ms": t0.Add(1500 * time.Millisecond).UnixMilli(), "interface": "eth0"},
			map[string]any{"src": "2001:db8::1", "dst": "2001:db8::2", "sport": 0, "dport": 0, "proto": 58,
				"packets": 2, "bytes": 208, "rev_packets": 0, "rev_bytes": 0, "start": t0,
				"end": t0.Add(time.Second), "end_reason": 1, "device": "tap2"},
		},
		"GetExperimentResults:counters": []any{
			map[string]any{"time": t0, "device": "tap1", "packets": 10, "bytes": 1500, "tcp_packets": 6,
				"udp_packets": 3, "icmp_packets": 1, "other_packets": 0,
				"tcp_bytes": 1000, "udp_bytes": 402, "icmp_bytes": 98, "other_bytes": 0},
			map[string]any{"time": t0.Add(time.Second), "device": "tap1", "packets": 20, "bytes": 300000,
				"tcp_packets": 20, "udp_packets": 0, "icmp_packets": 0, "other_packets": 0,
				"tcp_bytes": 300000, "udp_bytes": 0, "icmp_bytes": 0, "other_bytes": 0},
		},
		"GetExperimentResults:files": []any{
			map[string]any{"name": "flows.ipfix", "size": 2048, "url": "/files/7/flows.ipfix", "device": "tap1", "interface": "eth0"},
			map[string]any{"name": "packets.pcap", "size": 3 << 20, "url": "/files/7/packets.pcap"},
		},
		"ListExperiments": []any{
			map[string]any{"id": 7, "name": "campus", "owner": "alice", "state": "running", "devices": []any{"tap1", "tap2:eth1"}},
			map[string]any{"id": 8, "name": "dns", "owner": "bob", "state": "instantiated", "devices": []any{"tap3"}, "extra": true},
		},
		"AddDevice":    tapRecord,
		"EditDevice":   tapRecord,
		"DeleteDevice": tapRecord,
		"ListDevices": []any{
			tapRecord,
			map[string]any{"name": "tap9", "hostname": "10.1.1.9", "port": 8081, "approved": false,
				"reachable": false, "type": "gims-capd"},
		},
		"AddUser":    map[string]any{"name": "bob", "role": "experimenter"},
		"DeleteUser": map[string]any{"name": "bob", "role": "experimenter"},
		"ListUsers": []any{
			map[string]any{"name": "admin", "role": "admin"},
			map[string]any{"name": "alice", "role": "experimenter", "created": t0},
		},
		"RegisterDevice": map[string]any{"name": "tap9", "hostname": "10.1.1.9", "port": 8081, "status": "pending"},
		"Blob":           []byte("hello"),
	}
}

// newFakeAM starts an XML-RPC server with the fake AM and returns it with
// its /RPC2 URL.
func newFakeAM(t *testing.T) (*fakeAM, string) {
	t.Helper()
	am := &fakeAM{replies: cannedReplies(), faults: map[string]xmlrpc.Fault{}}
	xcfg := xmlrpc.DefaultConfiguration()
	xcfg.DefaultService = "AM"
	srv, err := xmlrpc.NewServer(xcfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.RegisterService(am, "AM", map[string]string{
		"CreateExperiment": "CreateExperiment(struct{name, description?, devices}) -> int",
	}); err != nil {
		t.Fatalf("RegisterService: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/RPC2", srv)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return am, ts.URL + "/RPC2"
}

// runCtl runs gimsctl's run with env (GIMS_PASSWORD set unless env says
// otherwise) and returns the exit status, stdout and stderr.
func runCtl(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	full := map[string]string{envPassword: testPassword}
	for k, v := range env {
		full[k] = v
	}
	getenv := func(k string) string { return full[k] }
	var stdout, stderr bytes.Buffer
	code := run(args, getenv, &stdout, &stderr)
	for _, out := range []string{stdout.String(), stderr.String()} {
		if strings.Contains(out, testPassword) {
			t.Errorf("gimsctl %v printed the password: %q", args, out)
		}
	}
	return code, stdout.String(), stderr.String()
}

// basicAuth is the Authorization header of user with testPassword.
func basicAuth(user string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+testPassword))
}

func TestArguments(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(secretFile, []byte("file passphrase\n"), 0o600)
	os.WriteFile(tokenFile, []byte("tok-from-file\n"), 0o600)
	cases := []struct {
		name   string
		env    map[string]string
		args   []string
		method string
		want   []any
	}{
		{
			name:   "create-experiment",
			args:   []string{"create-experiment", "-name", "campus", "-description", "uplink study", "-devices", "tap1, tap2:eth1"},
			method: "CreateExperiment",
			want: []any{map[string]any{"name": "campus", "description": "uplink study",
				"devices": []any{"tap1", "tap2:eth1"}}},
		},
		{
			name:   "CreateExperiment by method name, no description",
			args:   []string{"CreateExperiment", "-name", "campus", "-devices", "tap1"},
			method: "CreateExperiment",
			want:   []any{map[string]any{"name": "campus", "devices": []any{"tap1"}}},
		},
		{
			name:   "configure-experiment no flags",
			args:   []string{"configure-experiment", "7"},
			method: "ConfigureExperiment",
			want:   []any{7, map[string]any{}},
		},
		{
			name: "configure-experiment every field",
			args: []string{"configure-experiment", "7", "-filter", "tcp port 80", "-snaplen", "96", "-promiscuous=false",
				"-counters", "-counter-interval-ms", "500", "-flows", "-active-timeout-s", "60", "-idle-timeout-s", "15",
				"-biflow=false", "-collector", "udp://127.0.0.1:4739", "-anonymize-secret", "pass phrase",
				"-pcap", "-storage", "local", "-duration-s", "3600", "-replay-speed", "2.5"},
			method: "ConfigureExperiment",
			want: []any{7, map[string]any{
				"filter": "tcp port 80", "snaplen": 96, "promiscuous": false,
				"counters": map[string]any{"interval_ms": 500},
				"flows": map[string]any{"active_timeout_s": 60, "idle_timeout_s": 15, "biflow": false,
					"collector": "udp://127.0.0.1:4739"},
				"anonymize": map[string]any{"secret": "pass phrase"},
				"pcap":      true, "storage": "local", "duration_s": 3600, "replay_speed": 2.5,
			}},
		},
		{
			name:   "configure-experiment enabling flags only",
			args:   []string{"configure-experiment", "-counters", "-flows", "7"},
			method: "ConfigureExperiment",
			want:   []any{7, map[string]any{"counters": map[string]any{}, "flows": map[string]any{}}},
		},
		{
			name:   "configure-experiment sub-flags imply their structure",
			args:   []string{"configure-experiment", "7", "-counter-interval-ms", "250", "-collector", "tcp://c:4739"},
			method: "ConfigureExperiment",
			want: []any{7, map[string]any{"counters": map[string]any{"interval_ms": 250},
				"flows": map[string]any{"collector": "tcp://c:4739"}}},
		},
		{
			name:   "configure-experiment -anonymize from the environment",
			env:    map[string]string{envAnonSecret: "env passphrase"},
			args:   []string{"configure-experiment", "7", "-anonymize"},
			method: "ConfigureExperiment",
			want:   []any{7, map[string]any{"anonymize": map[string]any{"secret": "env passphrase"}}},
		},
		{
			name:   "configure-experiment environment secret alone does not anonymize",
			env:    map[string]string{envAnonSecret: "env passphrase"},
			args:   []string{"configure-experiment", "7", "-pcap=false"},
			method: "ConfigureExperiment",
			want:   []any{7, map[string]any{"pcap": false}},
		},
		{
			name:   "configure-experiment secret file",
			args:   []string{"configure-experiment", "7", "-anonymize-secret-file", secretFile},
			method: "ConfigureExperiment",
			want:   []any{7, map[string]any{"anonymize": map[string]any{"secret": "file passphrase"}}},
		},
		{name: "start-experiment", args: []string{"start-experiment", "7"}, method: "StartExperiment", want: []any{7}},
		{name: "pause-experiment", args: []string{"pause-experiment", "7"}, method: "PauseExperiment", want: []any{7}},
		{name: "stop-experiment", args: []string{"StopExperiment", "7"}, method: "StopExperiment", want: []any{7}},
		{name: "get-device-capabilities", args: []string{"get-device-capabilities", "tap1"}, method: "GetDeviceCapabilities", want: []any{"tap1"}},
		{name: "get-experiment-settings", args: []string{"get-experiment-settings", "7"}, method: "GetExperimentSettings", want: []any{7}},
		{name: "get-experiment-status", args: []string{"get-experiment-status", "7"}, method: "GetExperimentStatus", want: []any{7}},
		{
			name:   "get-experiment-results default kind",
			args:   []string{"get-experiment-results", "7"},
			method: "GetExperimentResults",
			want:   []any{7, map[string]any{"kind": "flows"}},
		},
		{
			name:   "get-experiment-results paged",
			args:   []string{"get-experiment-results", "7", "-kind", "flows", "-offset", "100", "-limit", "50"},
			method: "GetExperimentResults",
			want:   []any{7, map[string]any{"kind": "flows", "offset": 100, "limit": 50}},
		},
		{
			name:   "get-experiment-results counters",
			args:   []string{"get-experiment-results", "-kind=counters", "7"},
			method: "GetExperimentResults",
			want:   []any{7, map[string]any{"kind": "counters"}},
		},
		{name: "list-experiments", args: []string{"list-experiments"}, method: "ListExperiments"},
		{
			name: "add-device",
			args: []string{"add-device", "-name", "tap1", "-location", "rack 3", "-type", "gims-capd",
				"-hostname", "10.1.1.1", "-port", "8082", "-description", "uplink", "-token-file", tokenFile,
				"-interfaces", "eth0,eth1"},
			method: "AddDevice",
			want: []any{map[string]any{"name": "tap1", "location": "rack 3", "type": "gims-capd",
				"hostname": "10.1.1.1", "port": 8082, "description": "uplink", "token": "tok-from-file",
				"interfaces": []any{"eth0", "eth1"}}},
		},
		{
			name:   "add-device token from the environment, defaults",
			env:    map[string]string{envDeviceToken: "tok-env"},
			args:   []string{"add-device", "-name", "tap1", "-hostname", "tap1.example"},
			method: "AddDevice",
			want: []any{map[string]any{"name": "tap1", "location": "", "type": "", "hostname": "tap1.example",
				"port": 8081, "description": "", "token": "tok-env"}},
		},
		{
			name:   "edit-device changed fields only",
			args:   []string{"edit-device", "tap1", "-location", "rack 4", "-port", "9000"},
			method: "EditDevice",
			want:   []any{"tap1", map[string]any{"location": "rack 4", "port": 9000}},
		},
		{
			name:   "edit-device rename",
			args:   []string{"edit-device", "tap1", "-rename", "tap1b", "-description", ""},
			method: "EditDevice",
			want:   []any{"tap1", map[string]any{"name": "tap1b", "description": ""}},
		},
		{
			name:   "edit-device approve",
			env:    map[string]string{envDeviceToken: "not sent"},
			args:   []string{"edit-device", "-approve", "tap9"},
			method: "EditDevice",
			want:   []any{"tap9", map[string]any{"approved": true}},
		},
		{
			name:   "edit-device new token",
			args:   []string{"EditDevice", "tap1", "-token", "tok2", "-interfaces", ""},
			method: "EditDevice",
			want:   []any{"tap1", map[string]any{"token": "tok2", "interfaces": []any{}}},
		},
		{name: "delete-device", args: []string{"delete-device", "tap1"}, method: "DeleteDevice", want: []any{"tap1"}},
		{name: "list-devices", args: []string{"list-devices"}, method: "ListDevices"},
		{
			name:   "add-user",
			env:    map[string]string{envNewPassword: "bob's password"},
			args:   []string{"add-user", "-name", "bob"},
			method: "AddUser",
			want:   []any{map[string]any{"name": "bob", "password": "bob's password", "role": "experimenter"}},
		},
		{
			name:   "add-user -password-env",
			env:    map[string]string{"BOBPW": "pw2"},
			args:   []string{"add-user", "-name", "bob", "-role", "admin", "-password-env", "BOBPW"},
			method: "AddUser",
			want:   []any{map[string]any{"name": "bob", "password": "pw2", "role": "admin"}},
		},
		{name: "delete-user", args: []string{"delete-user", "bob"}, method: "DeleteUser", want: []any{"bob"}},
		{name: "list-users", args: []string{"ListUsers"}, method: "ListUsers"},
		{
			name:   "register-device",
			args:   []string{"register-device", "-name", "tap9", "-hostname", "10.1.1.9", "-token", "t9"},
			method: "RegisterDevice",
			want:   []any{map[string]any{"name": "tap9", "hostname": "10.1.1.9", "port": 8081, "token": "t9"}},
		},
		{
			name:   "call with JSON arguments",
			args:   []string{"call", "ConfigureExperiment", "7", `{"snaplen": 128, "flows": {"biflow": false}, "filter": "udp", "x": 1.5, "l": [1, "a", null]}`},
			method: "ConfigureExperiment",
			want: []any{7, map[string]any{"snaplen": 128, "flows": map[string]any{"biflow": false},
				"filter": "udp", "x": 1.5, "l": []any{1, "a", nil}}},
		},
		{
			name:   "call with a negative number and a string",
			args:   []string{"call", "EditDevice", `"tap1"`, `{"port": -1}`},
			method: "EditDevice",
			want:   []any{"tap1", map[string]any{"port": -1}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			am, url := newFakeAM(t)
			code, stdout, stderr := runCtl(t, tc.env, append([]string{"-url", url}, tc.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if stdout == "" {
				t.Errorf("nothing printed")
			}
			c := am.onlyCall(t)
			if c.method != tc.method {
				t.Errorf("method %s, want %s", c.method, tc.method)
			}
			if diff := diffValues(c.args, tc.want); diff != "" {
				t.Errorf("arguments (-got, +want):\n%s", diff)
			}
			if c.auth != basicAuth(defaultUser) {
				t.Errorf("Authorization %q, want Basic admin:…", c.auth)
			}
		})
	}
}
