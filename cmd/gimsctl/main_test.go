package main

import (
	"bytes"
	"encoding/base64"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gimsproject/gims/internal/daemontest"
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
	built, capdDir, err := daemontest.Build("..", []string{"gims-capd"}, nil)
	if err != nil {
		panic(err)
	}
	capdBinary = built["gims-capd"]
	code := m.Run()
	os.RemoveAll(dir)
	os.RemoveAll(capdDir)
	os.Exit(code)
}

// testPassword is the password of the tests; it must never be printed.
const testPassword = "s3cr3t-pa55"

// RecArgs receives up to two parameters of any type (exported, as the
// server requires of argument types).
type RecArgs struct {
	A any `xmlrpc:",optional"`
	B any `xmlrpc:",optional"`
}

// recorded is one call the AM received, as it was on the wire.
type recorded struct {
	method string
	args   []any
	auth   string
}

// wireRecorder decodes the calls sent to the real AM into natural Go
// values, to check what gimsctl sends (members given or left out), and
// counts the requests. Its methods are those of SPEC §3; it answers
// nothing (the real AM does).
type wireRecorder struct {
	srv      *xmlrpc.Server
	mu       sync.Mutex
	calls    []recorded
	requests int
}

// newWireRecorder returns a recorder of the SPEC §3 methods.
func newWireRecorder(t *testing.T) *wireRecorder {
	xcfg := xmlrpc.DefaultConfiguration()
	xcfg.DefaultService = "AM"
	srv, err := xmlrpc.NewServer(xcfg)
	if err != nil {
		t.Fatal(err)
	}
	w := &wireRecorder{srv: srv}
	if err := w.srv.RegisterService(w, "AM", nil); err != nil {
		t.Fatalf("RegisterService: %v", err)
	}
	return w
}

// wrap returns next with every request to it recorded first.
func (w *wireRecorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.requests++
		w.mu.Unlock()
		if r.Method == http.MethodPost {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(rw, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			copied := r.Clone(r.Context())
			copied.Body = io.NopCloser(bytes.NewReader(body))
			w.srv.ServeHTTP(httptest.NewRecorder(), copied)
		}
		next.ServeHTTP(rw, r)
	})
}

// record keeps one call.
func (w *wireRecorder) record(r *http.Request, method string, a *RecArgs) error {
	var args []any
	if a.A != nil {
		args = append(args, a.A)
	}
	if a.B != nil {
		args = append(args, a.B)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, recorded{method: method, args: args, auth: r.Header.Get("Authorization")})
	return nil
}

// reset forgets the calls and requests recorded so far.
func (w *wireRecorder) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls, w.requests = nil, 0
}

// onlyCall returns the only call received.
func (w *wireRecorder) onlyCall(t *testing.T) recorded {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.calls) != 1 {
		t.Fatalf("server got %d calls, want 1: %+v", len(w.calls), w.calls)
	}
	return w.calls[0]
}

// numRequests returns how many HTTP requests the server received.
func (w *wireRecorder) numRequests() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.requests
}

func (w *wireRecorder) CreateExperiment(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "CreateExperiment", a)
}
func (w *wireRecorder) ConfigureExperiment(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "ConfigureExperiment", a)
}
func (w *wireRecorder) StartExperiment(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "StartExperiment", a)
}
func (w *wireRecorder) PauseExperiment(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "PauseExperiment", a)
}
func (w *wireRecorder) StopExperiment(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "StopExperiment", a)
}
func (w *wireRecorder) GetDeviceCapabilities(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "GetDeviceCapabilities", a)
}
func (w *wireRecorder) GetExperimentSettings(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "GetExperimentSettings", a)
}
func (w *wireRecorder) GetExperimentStatus(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "GetExperimentStatus", a)
}
func (w *wireRecorder) GetExperimentResults(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "GetExperimentResults", a)
}
func (w *wireRecorder) QueryFlows(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "QueryFlows", a)
}
func (w *wireRecorder) ListExperiments(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "ListExperiments", a)
}
func (w *wireRecorder) AddDevice(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "AddDevice", a)
}
func (w *wireRecorder) EditDevice(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "EditDevice", a)
}
func (w *wireRecorder) DeleteDevice(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "DeleteDevice", a)
}
func (w *wireRecorder) ListDevices(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "ListDevices", a)
}
func (w *wireRecorder) AddUser(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "AddUser", a)
}
func (w *wireRecorder) DeleteUser(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "DeleteUser", a)
}
func (w *wireRecorder) SetUserRole(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "SetUserRole", a)
}
func (w *wireRecorder) ListUsers(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "ListUsers", a)
}
func (w *wireRecorder) RegisterDevice(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "RegisterDevice", a)
}
func (w *wireRecorder) CreateActivation(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "CreateActivation", a)
}
func (w *wireRecorder) ListActivations(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "ListActivations", a)
}
func (w *wireRecorder) DeleteActivation(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "DeleteActivation", a)
}
func (w *wireRecorder) DeleteExperiment(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "DeleteExperiment", a)
}
func (w *wireRecorder) CreateKey(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "CreateKey", a)
}
func (w *wireRecorder) ListKeys(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "ListKeys", a)
}
func (w *wireRecorder) DeleteKey(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "DeleteKey", a)
}
func (w *wireRecorder) GetAuditLog(r *http.Request, a *RecArgs, _ *any) error {
	return w.record(r, "GetAuditLog", a)
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
			name: "query every flag",
			args: []string{"query", "3", "-filter", "host 10.0.0.1", "-from", "2026-01-02T15:04:05Z", "-to", "2026-01-02T16:00:00Z",
				"-group-by", "src, dport", "-order-by", "-packets", "-offset", "10", "-limit", "5"},
			method: "QueryFlows",
			want: []any{3, map[string]any{"filter": "host 10.0.0.1", "from": time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC),
				"to": time.Date(2026, 1, 2, 16, 0, 0, 0, time.UTC), "group_by": []any{"src", "dport"}, "order_by": "-packets",
				"offset": 10, "limit": 5}},
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
				"-payload", "zero", "-mac", "keep", "-pcap", "-storage", "local", "-duration-s", "3600", "-replay-speed", "2.5",
				"-rotate-mb", "100", "-rotate-s", "3600"},
			method: "ConfigureExperiment",
			want: []any{7, map[string]any{
				"filter": "tcp port 80", "snaplen": 96, "promiscuous": false,
				"counters": map[string]any{"interval_ms": 500},
				"flows": map[string]any{"active_timeout_s": 60, "idle_timeout_s": 15, "biflow": false,
					"collector": "udp://127.0.0.1:4739"},
				"anonymize": map[string]any{"secret": "pass phrase", "payload": "zero", "mac": "keep"},
				"pcap":      true, "storage": "local", "duration_s": 3600, "replay_speed": 2.5,
				"rotate_mb": 100, "rotate_s": 3600,
			}},
		},
		{
			name: "configure-experiment schedule",
			args: []string{"configure-experiment", "7", "-start-at", "2026-12-01T18:00:00Z", "-stop-at", "2026-12-01T20:00:00+01:00",
				"-every", "10m", "-run", "90s", "-count", "3"},
			method: "ConfigureExperiment",
			want: []any{7, map[string]any{"schedule": map[string]any{
				"start_at": time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC), "stop_at": time.Date(2026, 12, 1, 19, 0, 0, 0, time.UTC),
				"every_s": 600, "run_s": 90, "count": 3}}},
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
			want:   []any{7, map[string]any{}}, // false is the default: not sent
		},
		{
			name:   "configure-experiment -payload implies -anonymize",
			env:    map[string]string{envAnonSecret: "env passphrase"},
			args:   []string{"configure-experiment", "7", "-payload", "keep"},
			method: "ConfigureExperiment",
			want:   []any{7, map[string]any{"anonymize": map[string]any{"secret": "env passphrase", "payload": "keep"}}},
		},
		{
			name:   "configure-experiment operator-held key, not the environment's secret",
			env:    map[string]string{envAnonSecret: "env passphrase"},
			args:   []string{"configure-experiment", "7", "-anonymize-key", "lab", "-payload", "zero"},
			method: "ConfigureExperiment",
			want:   []any{7, map[string]any{"anonymize": map[string]any{"key": "lab", "payload": "zero"}}},
		},
		{
			name:   "create-key",
			args:   []string{"create-key", "-name", "lab", "-users", "alice, bob"},
			method: "CreateKey",
			want:   []any{map[string]any{"name": "lab", "users": []any{"alice", "bob"}}},
		},
		{
			name:   "create-key for everyone by default",
			args:   []string{"create-key", "-name", "lab"},
			method: "CreateKey",
			want:   []any{map[string]any{"name": "lab", "users": []any{"*"}}},
		},
		{name: "list-keys", args: []string{"list-keys"}, method: "ListKeys"},
		{name: "delete-key", args: []string{"delete-key", "lab"}, method: "DeleteKey", want: []any{"lab"}},
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
				"-hostname", "127.0.0.1", "-port", "8082", "-description", "uplink", "-token-file", tokenFile,
				"-interfaces", "eth0,eth1"},
			method: "AddDevice",
			want: []any{map[string]any{"name": "tap1", "location": "rack 3", "type": "gims-capd",
				"hostname": "127.0.0.1", "port": 8082, "description": "uplink", "token": "tok-from-file",
				"interfaces": []any{"eth0", "eth1"}}},
		},
		{
			name:   "add-device token from the environment, defaults",
			env:    map[string]string{envDeviceToken: "tok-env"},
			args:   []string{"add-device", "-name", "tap1", "-hostname", "127.0.0.1"},
			method: "AddDevice",
			want: []any{map[string]any{"name": "tap1", "location": "", "type": "", "hostname": "127.0.0.1",
				"port": 8081, "description": "", "token": "tok-env"}},
		},
		{
			name: "add-device with a policy",
			env:  map[string]string{envDeviceToken: "tok-env"},
			args: []string{"add-device", "-name", "tap1", "-hostname", "127.0.0.1", "-policy-users", "alice, bob",
				"-require-anonymization=false", "-max-payload", "keep", "-outputs", "counters,flows", "-max-snaplen", "256",
				"-max-duration", "1h", "-max-storage", "1GiB", "-key-holder", "experimenter"},
			method: "AddDevice",
			want: []any{map[string]any{"name": "tap1", "location": "", "type": "", "hostname": "127.0.0.1",
				"port": 8081, "description": "", "token": "tok-env", "policy": map[string]any{
					"users": []any{"alice", "bob"}, "require_anonymization": false, "payload": "keep",
					"outputs": []any{"counters", "flows"}, "max_snaplen": 256, "max_duration_s": 3600,
					"max_storage_bytes": 1 << 30, "key_holder": "experimenter"}}},
		},
		{
			name:   "edit-device one policy member",
			args:   []string{"edit-device", "tap1", "-max-payload", "zero"},
			method: "EditDevice",
			want:   []any{"tap1", map[string]any{"policy": map[string]any{"payload": "zero"}}},
		},
		{
			name: "edit-device -policy-json and a flag over it",
			args: []string{"edit-device", "tap1", "-policy-json", `{"users": ["*"], "max_snaplen": 128, "key_holder": "experimenter"}`,
				"-key-holder", "operator", "-outputs", ""},
			method: "EditDevice",
			want: []any{"tap1", map[string]any{"policy": map[string]any{"users": []any{"*"}, "max_snaplen": 128,
				"key_holder": "operator", "outputs": []any{}}}},
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
		{name: "set-user-role", args: []string{"set-user-role", "bob", "admin"}, method: "SetUserRole", want: []any{"bob", "admin"}},
		{
			name:   "register-device",
			args:   []string{"register-device", "-name", "tap9", "-hostname", "127.0.0.1", "-token", "t9", "-activation", "gims-act-1"},
			method: "RegisterDevice",
			want:   []any{map[string]any{"name": "tap9", "hostname": "127.0.0.1", "port": 8081, "token": "t9", "activation": "gims-act-1"}},
		},
		{
			name:   "register-device activation from the environment",
			env:    map[string]string{envActivation: "gims-act-2"},
			args:   []string{"register-device", "-name", "tap9", "-hostname", "127.0.0.1", "-token", "t9"},
			method: "RegisterDevice",
			want:   []any{map[string]any{"name": "tap9", "hostname": "127.0.0.1", "port": 8081, "token": "t9", "activation": "gims-act-2"}},
		},
		{
			name:   "create-activation",
			args:   []string{"create-activation", "-expires", "2h", "-uses", "3"},
			method: "CreateActivation",
			want:   []any{map[string]any{"expires_s": 7200, "uses": 3}},
		},
		{name: "list-activations", args: []string{"list-activations"}, method: "ListActivations"},
		{name: "delete-activation", args: []string{"delete-activation", "4"}, method: "DeleteActivation", want: []any{4}},
		{name: "delete-experiment", args: []string{"delete-experiment", "7"}, method: "DeleteExperiment", want: []any{7}},
		{
			name:   "audit",
			args:   []string{"audit", "-user", "alice", "-limit", "5"},
			method: "GetAuditLog",
			want:   []any{map[string]any{"user": "alice", "limit": 5}},
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
	// The real AM answers (mostly faults: there is no experiment 7); what
	// counts here is what went on the wire.
	a := newRealAM(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a.rec.reset()
			if code, _, stderr := runCtl(t, tc.env, append([]string{"-url", a.url}, tc.args...)...); code == exitUsage {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			c := a.rec.onlyCall(t)
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
