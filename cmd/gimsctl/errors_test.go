package main

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gimsproject/gims/xmlrpc"
)

func TestFaults(t *testing.T) {
	cases := []struct {
		name     string
		method   string
		fault    xmlrpc.Fault
		env      map[string]string
		args     []string
		wantLine string
	}{
		{
			name: "invalid transition", method: "StartExperiment",
			fault:    xmlrpc.Fault{Code: 2, String: "experiment 7 is instantiated, configure it first"},
			args:     []string{"start-experiment", "7"},
			wantLine: "gimsctl: StartExperiment: fault 2: experiment 7 is instantiated, configure it first",
		},
		{
			name: "bad filter", method: "ConfigureExperiment",
			fault:    xmlrpc.Fault{Code: 3, String: "filter: syntax error"},
			args:     []string{"configure-experiment", "7", "-filter", "tcp port"},
			wantLine: "gimsctl: ConfigureExperiment: fault 3: filter: syntax error",
		},
		{
			name: "not allowed", method: "ListUsers",
			fault:    xmlrpc.Fault{Code: 4, String: "admin only"},
			args:     []string{"list-users"},
			wantLine: "gimsctl: ListUsers: fault 4: admin only",
		},
		{
			name: "not authenticated without a password", method: "ListExperiments",
			fault:    xmlrpc.Fault{Code: 4, String: "not authenticated"},
			env:      map[string]string{envPassword: ""},
			args:     []string{"list-experiments"},
			wantLine: "gimsctl: ListExperiments: fault 4: not authenticated (GIMS_PASSWORD is not set)",
		},
		{
			name: "device unreachable", method: "StopExperiment",
			fault:    xmlrpc.Fault{Code: 5, String: "device tap2 unreachable"},
			args:     []string{"stop-experiment", "7"},
			wantLine: "gimsctl: StopExperiment: fault 5: device tap2 unreachable",
		},
		{
			name: "conflict", method: "DeleteDevice",
			fault:    xmlrpc.Fault{Code: 6, String: "device tap1 is used by running experiment 7"},
			args:     []string{"delete-device", "tap1"},
			wantLine: "gimsctl: DeleteDevice: fault 6: device tap1 is used by running experiment 7",
		},
		{
			name:     "unknown method through call",
			args:     []string{"call", "NoSuchMethod"},
			wantLine: "gimsctl: NoSuchMethod: fault -32601: ",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			am, url := newFakeAM(t)
			if tc.method != "" {
				am.setFault(tc.method, tc.fault)
			}
			code, stdout, stderr := runCtl(t, tc.env, append([]string{"-url", url}, tc.args...)...)
			if code != exitError {
				t.Errorf("exit %d, want %d", code, exitError)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, tc.wantLine) {
				t.Errorf("stderr %q, want one line starting %q", stderr, tc.wantLine)
			}
		})
	}
}

func TestNetworkErrors(t *testing.T) {
	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/RPC2"
	l.Close()
	notRPC := httptest.NewServer(http.NotFoundHandler())
	defer notRPC.Close()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"connection refused", []string{"-url", closed, "list-experiments"}, "connection refused"},
		{"password in the URL not shown", []string{"-url", strings.Replace(closed, "http://", "http://bob:"+testPassword+"@", 1), "list-experiments"}, "connection refused"},
		{"HTTP error", []string{"-url", notRPC.URL + "/RPC2", "list-experiments"}, "HTTP 404"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCtl(t, nil, tc.args...)
			if code != exitError {
				t.Errorf("exit %d, want %d", code, exitError)
			}
			if !strings.HasPrefix(stderr, "gimsctl: ") || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr %q, want one line with %q", stderr, tc.want)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no subcommand", nil, nil, "missing subcommand"},
		{"unknown subcommand", nil, []string{"frobnicate"}, `unknown subcommand "frobnicate"`},
		{"unknown global flag", nil, []string{"-nope", "list-users"}, "flag provided but not defined: -nope"},
		{"bad url", nil, []string{"-url", "ftp://x/RPC2", "list-users"}, "-url"},
		{"bad url hides password", nil, []string{"-url", "ftp://u:" + testPassword + "@x/", "list-users"}, "-url"},
		{"bad timeout", nil, []string{"-timeout", "-1s", "list-users"}, "-timeout"},
		{"unknown flag", nil, []string{"list-users", "-x"}, "list-users: flag provided but not defined: -x"},
		{"extra argument", nil, []string{"list-users", "bob"}, "wrong number of arguments"},
		{"missing id", nil, []string{"start-experiment"}, "wrong number of arguments (usage: gimsctl start-experiment [flags] ID)"},
		{"bad id", nil, []string{"start-experiment", "seven"}, `experiment id "seven"`},
		{"zero id", nil, []string{"get-experiment-status", "0"}, `experiment id "0"`},
		{"create without name", nil, []string{"create-experiment", "-devices", "a"}, "-name is required"},
		{"create without devices", nil, []string{"create-experiment", "-name", "a", "-devices", " , "}, "-devices is required"},
		{"bad storage", nil, []string{"configure-experiment", "1", "-storage", "cloud"}, `-storage "cloud"`},
		{"bad snaplen", nil, []string{"configure-experiment", "1", "-snaplen", "0"}, "-snaplen 0"},
		{"bad interval", nil, []string{"configure-experiment", "1", "-counter-interval-ms", "-5"}, "-counter-interval-ms -5"},
		{"contradicting counters", nil, []string{"configure-experiment", "1", "-counters=false", "-counter-interval-ms", "5"}, "-counters=false"},
		{"anonymize without secret", nil, []string{"configure-experiment", "1", "-anonymize"}, "-anonymize needs a secret"},
		{"two secrets", nil, []string{"configure-experiment", "1", "-anonymize-secret", "a", "-anonymize-secret-file", "f"}, "exclusive"},
		{"missing secret file", nil, []string{"configure-experiment", "1", "-anonymize-secret-file", "/nonexistent/f"}, "-anonymize-secret-file"},
		{"bad replay speed", nil, []string{"configure-experiment", "1", "-replay-speed", "0"}, "-replay-speed 0"},
		{"empty rename", nil, []string{"edit-device", "d", "-rename", ""}, "-rename: empty name"},
		{"download needs files", nil, []string{"get-experiment-results", "1", "-download", "d"}, "-download needs -kind files"},
		{"bad limit", nil, []string{"get-experiment-results", "1", "-limit", "0"}, "-limit 0"},
		{"add-device without token", nil, []string{"add-device", "-name", "d", "-hostname", "h"}, "a device token is required"},
		{"add-device bad port", nil, []string{"add-device", "-name", "d", "-hostname", "h", "-token", "t", "-port", "70000"}, "-port 70000"},
		{"edit-device nothing", nil, []string{"edit-device", "d"}, "nothing to change"},
		{"add-user no password", nil, []string{"add-user", "-name", "bob"}, "no password: set GIMS_NEW_PASSWORD"},
		{"add-user bad role", map[string]string{envNewPassword: "x"}, []string{"add-user", "-name", "bob", "-role", "root"}, `-role "root"`},
		{"register without token", nil, []string{"register-device", "-name", "d", "-hostname", "h"}, "a device token is required"},
		{"call without method", nil, []string{"call"}, "wrong number of arguments"},
		{"call bad JSON", nil, []string{"call", "DeleteUser", "bob"}, "argument 1: invalid JSON"},
		{"help of unknown", nil, []string{"help", "nope"}, `unknown subcommand "nope"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			am, url := newFakeAM(t)
			args := tc.args
			if !strings.HasPrefix(tc.name, "bad url") {
				args = append([]string{"-url", url}, args...)
			}
			code, stdout, stderr := runCtl(t, tc.env, args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d (stderr %q)", code, exitUsage, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if !strings.HasPrefix(stderr, "gimsctl: ") || !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q, want it to say %q", stderr, tc.want)
			}
			if n := am.numCalls(); n != 0 {
				t.Errorf("%d calls made, want none", n)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	cases := []struct {
		name     string
		env      map[string]string
		args     []string
		wantAuth string
	}{
		{"default user", nil, nil, basicAuth("admin")},
		{"-user", nil, []string{"-user", "alice"}, basicAuth("alice")},
		{"GIMS_USER", map[string]string{envUser: "carol"}, nil, basicAuth("carol")},
		{"-user beats GIMS_USER", map[string]string{envUser: "carol"}, []string{"-user", "alice"}, basicAuth("alice")},
		{"no password, no header", map[string]string{envPassword: ""}, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			am, url := newFakeAM(t)
			args := append(append([]string{"-url", url}, tc.args...), "list-experiments")
			if code, _, stderr := runCtl(t, tc.env, args...); code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if got := am.onlyCall(t).auth; got != tc.wantAuth {
				t.Errorf("Authorization %q, want %q", got, tc.wantAuth)
			}
		})
	}
	t.Run("credentials in the URL", func(t *testing.T) {
		am, url := newFakeAM(t)
		url = strings.Replace(url, "http://", "http://dave:"+testPassword+"@", 1)
		if code, _, stderr := runCtl(t, map[string]string{envPassword: "other"}, "-url", url, "list-experiments"); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if got := am.onlyCall(t).auth; got != basicAuth("dave") {
			t.Errorf("Authorization %q, want Basic dave:…", got)
		}
	})
	t.Run("GIMS_URL", func(t *testing.T) {
		am, url := newFakeAM(t)
		if code, _, stderr := runCtl(t, map[string]string{envURL: url}, "list-experiments"); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		am.onlyCall(t)
	})
}

func TestHelp(t *testing.T) {
	code, stdout, stderr := runCtl(t, nil, "-h")
	if code != exitOK || stderr != "" {
		t.Fatalf("gimsctl -h: exit %d, stderr %q", code, stderr)
	}
	for _, want := range []string{"-url", "-user", "-json", "-timeout", "GIMS_PASSWORD"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("gimsctl -h lacks %q", want)
		}
	}
	for _, c := range commands() {
		if !strings.Contains(stdout, "\n  "+c.name+" ") {
			t.Errorf("gimsctl -h lacks subcommand %s", c.name)
		}
		for _, args := range [][]string{{c.name, "-h"}, {"help", c.name}} {
			code, sub, stderr := runCtl(t, nil, args...)
			if code != exitOK || stderr != "" {
				t.Errorf("gimsctl %v: exit %d, stderr %q", args, code, stderr)
			}
			if !strings.HasPrefix(sub, "usage: gimsctl [global flags] "+c.name) || !strings.Contains(sub, "-json") {
				t.Errorf("gimsctl %v:\n%s", args, sub)
			}
		}
	}
	// Every flag of a subcommand is listed in its help.
	code, sub, _ := runCtl(t, nil, "configure-experiment", "-h")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, f := range []string{"filter", "snaplen", "promiscuous", "counters", "counter-interval-ms", "flows",
		"active-timeout-s", "idle-timeout-s", "biflow", "collector", "anonymize", "anonymize-secret",
		"anonymize-secret-file", "pcap", "storage", "duration-s"} {
		if !strings.Contains(sub, "  -"+f+" ") && !strings.Contains(sub, "  -"+f+"\n") {
			t.Errorf("configure-experiment -h lacks -%s", f)
		}
	}
	code, stdout, _ = runCtl(t, nil, "version")
	if code != exitOK || stdout != "gimsctl dev\n" {
		t.Errorf("version: exit %d, %q", code, stdout)
	}
}

// fileServer serves result files under /files/ to the test credentials
// only, and the fake AM at /RPC2.
func fileServer(t *testing.T, am *fakeAM) *httptest.Server {
	t.Helper()
	xcfg := xmlrpc.DefaultConfiguration()
	xcfg.DefaultService = "AM"
	srv, err := xmlrpc.NewServer(xcfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.RegisterService(am, "AM", nil); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/RPC2", srv)
	mux.HandleFunc("GET /files/7/{name}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != basicAuth("admin") {
			http.Error(w, "not authenticated", http.StatusUnauthorized)
			return
		}
		switch name := r.PathValue("name"); name {
		case "missing.pcap":
			http.NotFound(w, r)
		default:
			w.Write([]byte("content of " + name))
		}
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

func TestDownload(t *testing.T) {
	am := &fakeAM{replies: cannedReplies()}
	ts := fileServer(t, am)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("credentials sent to another host")
		}
		w.Write([]byte("elsewhere"))
	}))
	defer other.Close()
	url := ts.URL + "/RPC2"

	t.Run("files -download", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "out")
		am.setReply("GetExperimentResults:files", []any{
			map[string]any{"name": "flows.ipfix", "size": 22, "url": "/files/7/flows.ipfix"},
			map[string]any{"name": "packets.pcap", "size": 23, "url": ts.URL + "/files/7/packets.pcap"},
			map[string]any{"name": "ext.csv", "size": 9, "url": other.URL + "/ext.csv"},
		})
		code, stdout, stderr := runCtl(t, nil, "-url", url, "get-experiment-results", "7", "-kind", "files", "-download", dir)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if !strings.Contains(stdout, "flows.ipfix") || strings.Count(stderr, "downloaded ") != 3 {
			t.Errorf("stdout %q, stderr %q", stdout, stderr)
		}
		for name, want := range map[string]string{
			"flows.ipfix":  "content of flows.ipfix",
			"packets.pcap": "content of packets.pcap",
			"ext.csv":      "elsewhere",
		} {
			got, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil || string(got) != want {
				t.Errorf("%s: %q, %v; want %q", name, got, err, want)
			}
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 3 {
			t.Errorf("%d files in %s, want 3 (no temporary left)", len(entries), dir)
		}
	})
	failures := []struct {
		name  string
		files []any
		want  string
	}{
		{"missing file", []any{map[string]any{"name": "missing.pcap", "url": "/files/7/missing.pcap"}}, "HTTP 404"},
		{"unsafe name", []any{map[string]any{"name": "../evil", "url": "/files/7/evil"}}, `refusing to write a file named "../evil"`},
		{"no url", []any{map[string]any{"name": "x"}}, "has no url"},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			am.setReply("GetExperimentResults:files", tc.files)
			code, _, stderr := runCtl(t, nil, "-url", url, "get-experiment-results", "7", "-kind", "files", "-download", dir)
			if code != exitError || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, tc.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("%d files left in %s", len(entries), dir)
			}
		})
	}
	t.Run("download -o", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "x.pcap")
		code, _, stderr := runCtl(t, nil, "-url", url, "download", "/files/7/packets.pcap", "-o", out)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if got, _ := os.ReadFile(out); string(got) != "content of packets.pcap" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("download to stdout", func(t *testing.T) {
		code, stdout, stderr := runCtl(t, nil, "-url", url, "download", ts.URL+"/files/7/a.csv", "-o", "-")
		if code != exitOK || stdout != "content of a.csv" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})
	t.Run("download unauthorized", func(t *testing.T) {
		code, _, stderr := runCtl(t, map[string]string{envPassword: "wrong"}, "-url", url, "download", "/files/7/a.csv", "-o", "-")
		if code != exitError || !strings.Contains(stderr, "HTTP 401") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
}

// runBinary runs the built gimsctl with env and returns the exit status,
// stdout and stderr.
func runBinary(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(ctlBinary, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("run gimsctl %v: %v", args, err)
	return -1, "", ""
}

func TestBinary(t *testing.T) {
	am, url := newFakeAM(t)
	am.setFault("StartExperiment", xmlrpc.Fault{Code: 2, String: "experiment 7 is done"})
	env := []string{"GIMS_URL=" + url, "GIMS_USER=alice", "GIMS_PASSWORD=" + testPassword}
	cases := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"list", []string{"list-experiments"}, 0, "ID  NAME    OWNER  STATE         DEVICES\n7   campus  alice  running       tap1,tap2:eth1\n8   dns     bob    instantiated  tap3\n", ""},
		{"create prints the id", []string{"-json", "create-experiment", "-name", "x", "-devices", "tap1"}, 0, "7\n", ""},
		{"fault", []string{"start-experiment", "7"}, 1, "", "gimsctl: StartExperiment: fault 2: experiment 7 is done\n"},
		{"usage", []string{"start-experiment"}, 2, "", "gimsctl: start-experiment: wrong number of arguments (usage: gimsctl start-experiment [flags] ID)\nrun 'gimsctl -h' for usage\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runBinary(t, env, tc.args...)
			if code != tc.wantCode || stdout != tc.wantStdout || stderr != tc.wantStderr {
				t.Errorf("exit %d, stdout %q, stderr %q\nwant exit %d, stdout %q, stderr %q",
					code, stdout, stderr, tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
		})
	}
	if got := am.call(t, 0).auth; got != basicAuth("alice") {
		t.Errorf("Authorization %q, want Basic alice:…", got)
	}
}
