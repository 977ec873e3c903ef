package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gimsproject/gims/xmlrpc"
)

// TestAuthorizationMatrix calls every API method as every kind of caller:
// only the allowed ones get through, and refused calls change nothing.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	c := startCapd(t, "tok-auth")
	a := startAM(t)
	a.addDevice(t, "tap1", c)
	// carol takes the wrong passwords: past the throttle's limit, her
	// logins are refused for a while (SPEC §10).
	for _, u := range []string{"alice", "bob", "carol"} {
		a.admin(t, "AddUser", nil, map[string]any{"name": u, "password": u + "-password", "role": "experimenter"})
	}
	var id int64
	if err := a.call("alice", "alice-password", "CreateExperiment", &id,
		map[string]any{"name": "mine", "devices": []string{"tap1:" + traceIface}}); err != nil {
		t.Fatal(err)
	}
	if err := a.call("alice", "alice-password", "ConfigureExperiment", nil, id,
		map[string]any{"counters": map[string]any{}, "anonymize": map[string]any{"secret": "alice-secret"}}); err != nil {
		t.Fatal(err)
	}
	before := a.transitions(t, id)

	type method struct {
		name  string
		args  []any
		scope string // "experiment": on alice's experiment; "admin"; "user": any user
	}
	methods := []method{
		{"CreateExperiment", []any{map[string]any{"name": "x", "devices": []string{"tap1:lo"}}}, "user"},
		{"ConfigureExperiment", []any{id, map[string]any{}}, "experiment"},
		{"StartExperiment", []any{id}, "experiment"},
		{"PauseExperiment", []any{id}, "experiment"},
		{"StopExperiment", []any{id}, "experiment"},
		{"GetDeviceCapabilities", []any{"tap1"}, "user"},
		{"GetExperimentSettings", []any{id}, "experiment"},
		{"GetExperimentStatus", []any{id}, "experiment"},
		{"GetExperimentResults", []any{id, map[string]any{"kind": "files"}}, "experiment"},
		{"QueryFlows", []any{id, map[string]any{"group_by": []string{"src"}}}, "experiment"},
		{"ListExperiments", nil, "user"},
		{"AddDevice", []any{map[string]any{"name": "evil", "hostname": "127.0.0.1", "port": 1, "token": "x"}}, "admin"},
		{"EditDevice", []any{"tap1", map[string]any{"description": "pwned"}}, "admin"},
		{"DeleteDevice", []any{"tap1"}, "admin"},
		{"ListDevices", nil, "admin"},
		{"AddUser", []any{map[string]any{"name": "mallory", "password": "mallory-pass", "role": "admin"}}, "admin"},
		{"DeleteUser", []any{"alice"}, "admin"},
		{"ListUsers", nil, "admin"},
		{"SetUserRole", []any{"alice", "admin"}, "admin"},
		// Without an activation code, RegisterDevice is refused to everyone.
		{"RegisterDevice", []any{map[string]any{"name": "reg", "hostname": "127.0.0.1", "port": 2, "token": "t"}}, "admin"},
		{"CreateActivation", []any{map[string]any{"expires_s": 60}}, "admin"},
		{"ListActivations", nil, "admin"},
		{"DeleteActivation", []any{1}, "admin"},
		{"DeleteExperiment", []any{id}, "experiment"},
		{"GetAuditLog", []any{map[string]any{}}, "admin"},
		{"CreateKey", []any{map[string]any{"name": "stolen", "users": []string{"*"}}}, "admin"},
		{"ListKeys", nil, "user"}, // an experimenter's: the keys it may use
		{"DeleteKey", []any{"stolen"}, "admin"},
		{"GetScheduleTimeline", nil, "user"},
		{"system.listMethods", nil, "user"},
	}
	var listed []string
	a.admin(t, "system.listMethods", &listed)
	if len(listed) != len(methods)+2 { // + methodHelp, multicall
		t.Errorf("system.listMethods = %v: the matrix must cover every method", listed)
	}
	bearer := func(method string, args []any) error {
		h := http.Header{}
		h.Set("Authorization", "Bearer "+c.token)
		return xmlrpc.Call(context.Background(), nil, a.url("", ""), h, method, args, nil)
	}
	for _, m := range methods {
		callers := []struct {
			name string
			call func() error
			want int // fault code; 0: must succeed
		}{
			{"no auth", func() error { return a.call("", "", m.name, nil, m.args...) }, 4},
			{"wrong password", func() error { return a.call("carol", "wrong-password", m.name, nil, m.args...) }, 4},
			{"unknown user", func() error { return a.call("nobody", "whatever-pw", m.name, nil, m.args...) }, 4},
			{"device token", func() error { return bearer(m.name, m.args) }, 4},
		}
		switch m.scope {
		case "user":
			callers = append(callers, struct {
				name string
				call func() error
				want int
			}{"experimenter", func() error { return a.call("bob", "bob-password", m.name, nil, m.args...) }, 0})
		case "experiment":
			callers = append(callers, struct {
				name string
				call func() error
				want int
			}{"other experimenter", func() error { return a.call("bob", "bob-password", m.name, nil, m.args...) }, 1})
		case "admin":
			callers = append(callers, struct {
				name string
				call func() error
				want int
			}{"experimenter on admin call", func() error { return a.call("bob", "bob-password", m.name, nil, m.args...) }, 4})
		}
		for _, cl := range callers {
			t.Run(m.name+"/"+cl.name, func(t *testing.T) {
				err := cl.call()
				if faultCode(err) != cl.want {
					t.Errorf("%s as %s = %v, want fault %d", m.name, cl.name, err, cl.want)
				}
				if err != nil && strings.Contains(err.Error(), "password") && strings.Contains(err.Error(), "alice-password") {
					t.Errorf("the fault repeats the password: %v", err)
				}
			})
		}
	}
	if after := a.transitions(t, id); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("refused calls changed alice's experiment: %v → %v", before, after)
	}
	var devs []struct {
		Name        string `xmlrpc:"name"`
		Description string `xmlrpc:"description"`
	}
	a.admin(t, "ListDevices", &devs)
	if len(devs) != 1 || devs[0].Name != "tap1" || devs[0].Description != "test daemon" { // no "reg": it had no activation code
		t.Errorf("devices after refused admin calls: %+v", devs)
	}

	// What experimenters may do, they may do on their own only.
	var bobs []struct {
		ID int64 `xmlrpc:"id"`
	}
	if err := a.call("bob", "bob-password", "ListExperiments", &bobs); err != nil || len(bobs) != 1 {
		t.Errorf("bob's ListExperiments = %+v, %v; want only the experiment bob created in the matrix", bobs, err)
	}
	if err := a.call("alice", "alice-password", "GetExperimentStatus", nil, id); err != nil {
		t.Errorf("alice on her own experiment: %v", err)
	}
	if err := a.call("carol", "carol-password", "ListExperiments", nil); faultCode(err) != 4 ||
		!strings.Contains(err.Error(), "too many failed logins") {
		t.Errorf("carol after %d wrong passwords: %v, want throttled", len(methods), err)
	}
	var settings struct {
		Config struct {
			Anonymize map[string]any `xmlrpc:"anonymize"`
		} `xmlrpc:"config"`
	}
	a.admin(t, "GetExperimentSettings", &settings, id)
	if _, ok := settings.Config.Anonymize["secret_fingerprint"]; !ok || len(settings.Config.Anonymize) != 3 ||
		settings.Config.Anonymize["payload"] != "strip" || settings.Config.Anonymize["mac"] != "keyed" {
		t.Errorf("anonymize settings = %v, want only secret_fingerprint and the default payload strip and mac keyed",
			settings.Config.Anonymize)
	}

	// Downloads and metrics check the same credentials.
	base := "http://" + a.addr
	for _, tc := range []struct {
		path, user, pass string
		want             int
	}{
		{"/metrics", "", "", 401},
		{"/metrics", "bob", "bob-password", 403},
		{"/metrics", adminName, adminPass, 200},
		{fmt.Sprintf("/files/%d/0/counters.csv", id), "", "", 401},
		{fmt.Sprintf("/files/%d/flows.csv", id), "", "", 401},
		{fmt.Sprintf("/files/%d/flows.csv", id), "bob", "bob-password", 404},
		{fmt.Sprintf("/files/%d/flows.csv", id), "alice", "alice-password", 200},
		{fmt.Sprintf("/files/%d/query.pcap?filter=tcp", id), "bob", "bob-password", 404},
		{fmt.Sprintf("/files/%d/flows.parquet", id), adminName, adminPass, 200},
		{fmt.Sprintf("/files/%d/0/counters.csv", id), "bob", "bob-password", 404},
		{fmt.Sprintf("/files/%d/0/counters.csv", id), "alice", "wrong-password", 401},
	} {
		if code, _ := download(t, base+tc.path, tc.user, tc.pass); code != tc.want {
			t.Errorf("GET %s as %q: HTTP %d, want %d", tc.path, tc.user, code, tc.want)
		}
	}
	_, metrics := download(t, base+"/metrics", adminName, adminPass)
	for _, want := range []string{`gims_api_faults_total{code="4",method="DeleteDevice"}`, `gims_experiments{state="configured"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s:\n%s", want, metrics)
		}
	}
	var answers strings.Builder
	for _, q := range []struct {
		method string
		args   []any
	}{
		{"GetExperimentSettings", []any{id}}, {"GetExperimentStatus", []any{id}}, {"ListExperiments", nil},
		{"ListDevices", nil}, {"ListUsers", nil}, {"GetDeviceCapabilities", []any{"tap1"}},
		{"GetExperimentResults", []any{id, map[string]any{"kind": "files"}}},
		{"EditDevice", []any{"tap1", map[string]any{"description": "again"}}},
	} {
		var reply any
		a.admin(t, q.method, &reply, q.args...)
		fmt.Fprintf(&answers, "%s: %v\n", q.method, reply)
	}
	for _, secret := range []string{"alice-secret", "alice-password", "bob-password", adminPass, c.token} {
		for where, text := range map[string]string{"/metrics": string(metrics), "the AM's log": a.logText(),
			"API answers": answers.String()} {
			if strings.Contains(text, secret) {
				t.Errorf("secret %q appears in %s", secret, where)
			}
		}
	}
}

// TestSecretFileModes is issue 20 finding 7: the database (device tokens)
// with its -wal and -shm, and seal.key, are readable by their owner only,
// whatever the umask.
func TestSecretFileModes(t *testing.T) {
	t.Parallel()
	c := startCapd(t, "tok-modes")
	a := startAM(t)
	a.addDevice(t, "tap1", c)
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "modes", "devices": []string{"tap1:" + traceIface}})
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"anonymize": map[string]any{"secret": "modes secret"}})
	db := filepath.Join(a.dir, "am.db")
	for _, path := range []string{db, db + "-wal", db + "-shm", filepath.Join(a.dir, "data", "seal.key")} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", filepath.Base(path), fi.Mode().Perm())
		}
	}
}
