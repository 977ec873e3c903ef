package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/internal/testnet"
)

func TestFaults(t *testing.T) {
	a := newFixture(t)
	// A port nobody listens on, for a device that cannot be reached.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	act, err := a.m.CreateActivation(context.Background(), a.admin, amapi.ActivationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.m.RegisterDevice(context.Background(), a.admin, amapi.Registration{Name: "tap9",
		Hostname: "127.0.0.1", Port: closedPort, Token: "tap9-token", Activation: act.Code}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		env      map[string]string
		args     []string
		wantLine string // the start of the one line on stderr
		wantTail string // its end, when it matters
	}{
		{
			name:     "not found",
			args:     []string{"get-experiment-settings", "99"},
			wantLine: "gimsctl: GetExperimentSettings: fault 1: ",
		},
		{
			name:     "invalid transition",
			args:     []string{"start-experiment", "1"},
			wantLine: "gimsctl: StartExperiment: fault 2: ",
		},
		{
			name:     "bad filter",
			args:     []string{"configure-experiment", "1", "-filter", "tcp port"},
			wantLine: "gimsctl: ConfigureExperiment: fault 3: ",
		},
		{
			name:     "not allowed",
			args:     []string{"-user", aliceUser, "list-users"},
			wantLine: "gimsctl: ListUsers: fault 4: ",
		},
		{
			name:     "not authenticated without a password",
			env:      map[string]string{envPassword: ""},
			args:     []string{"list-experiments"},
			wantLine: "gimsctl: ListExperiments: fault 4: ",
			wantTail: " (GIMS_PASSWORD is not set)\n",
		},
		{
			name:     "wrong password",
			env:      map[string]string{envPassword: "wrong"},
			args:     []string{"list-experiments"},
			wantLine: "gimsctl: ListExperiments: fault 4: ",
		},
		{
			name:     "device unreachable",
			args:     []string{"edit-device", "tap9", "-approve"},
			wantLine: "gimsctl: EditDevice: fault 5: ",
		},
		{
			name:     "conflict",
			env:      map[string]string{"PW": "another-password-1"},
			args:     []string{"add-user", "-name", aliceUser, "-password-env", "PW"},
			wantLine: "gimsctl: AddUser: fault 6: ",
		},
		{
			name:     "unknown method through call",
			args:     []string{"call", "NoSuchMethod"},
			wantLine: "gimsctl: NoSuchMethod: fault -32601: ",
		},
		{
			name:     "wrong parameter type through call",
			args:     []string{"call", "DeleteUser", "5"},
			wantLine: "gimsctl: DeleteUser: fault 3: ",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCtl(t, tc.env, append([]string{"-url", a.url}, tc.args...)...)
			if code != exitError {
				t.Errorf("exit %d, want %d", code, exitError)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, tc.wantLine) ||
				len(stderr) <= len(tc.wantLine)+1 || !strings.HasSuffix(stderr, tc.wantTail) {
				t.Errorf("stderr %q, want one line starting %q and ending %q", stderr, tc.wantLine, tc.wantTail)
			}
		})
	}
}

func TestNetworkErrors(t *testing.T) {
	// A port that refuses connections.
	closed := "http://" + testnet.RefusingTCP(t).Addr + "/RPC2"
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
	// A token file the group or others can read (issue 20 finding 7).
	openFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(openFile, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(openFile, 0o644); err != nil {
		t.Fatal(err)
	}
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
		{"mac without secret", nil, []string{"configure-experiment", "1", "-mac", "zero"}, "-anonymize needs a secret"},
		{"payload without anonymization", nil, []string{"configure-experiment", "1", "-anonymize=false", "-payload", "zero"}, "contradicts"},
		{"two secrets", nil, []string{"configure-experiment", "1", "-anonymize-secret", "a", "-anonymize-secret-file", "f"}, "exclusive"},
		{"key and secret", nil, []string{"configure-experiment", "1", "-anonymize-key", "lab", "-anonymize-secret", "a"}, "exclude each other"},
		{"empty key", nil, []string{"configure-experiment", "1", "-anonymize-key", ""}, "-anonymize-key: give the key's name"},
		{"create-key without name", nil, []string{"create-key", "-users", "alice"}, "-name is required"},
		{"create-key without users", nil, []string{"create-key", "-name", "lab", "-users", " , "}, "-users"},
		{"delete-key without name", nil, []string{"delete-key"}, "wrong number of arguments"},
		{"missing secret file", nil, []string{"configure-experiment", "1", "-anonymize-secret-file", "/nonexistent/f"}, "-anonymize-secret-file"},
		{"bad replay speed", nil, []string{"configure-experiment", "1", "-replay-speed", "0"}, "-replay-speed 0"},
		{"bad rotate-mb", nil, []string{"configure-experiment", "1", "-rotate-mb", "0"}, "-rotate-mb 0: must be positive"},
		{"bad rotate-s", nil, []string{"configure-experiment", "1", "-rotate-s", "-5"}, "-rotate-s -5: must be positive"},
		{"bad start time", nil, []string{"configure-experiment", "1", "-start-at", "tomorrow"}, `-start-at "tomorrow": want RFC 3339 (2026-12-01T18:00:00Z) or +DURATION (+10m)`},
		{"bad relative stop", nil, []string{"configure-experiment", "1", "-stop-at", "+-5m"}, `-stop-at "+-5m"`},
		{"fractional run", nil, []string{"configure-experiment", "1", "-every", "10s", "-run", "1500ms", "-count", "2"}, "-run 1.5s: must be a positive whole number of seconds"},
		{"zero count", nil, []string{"configure-experiment", "1", "-every", "10s", "-run", "2s", "-count", "0"}, "-count 0: must be at least 1"},
		{"empty rename", nil, []string{"edit-device", "d", "-rename", ""}, "-rename: empty name"},
		{"download needs files", nil, []string{"get-experiment-results", "1", "-download", "d"}, "-download needs -kind files"},
		{"bad limit", nil, []string{"get-experiment-results", "1", "-limit", "0"}, "-limit 0"},
		{"add-device without token", nil, []string{"add-device", "-name", "d", "-hostname", "h"}, "a device token is required"},
		{"add-device bad port", nil, []string{"add-device", "-name", "d", "-hostname", "h", "-token", "t", "-port", "70000"}, "-port 70000"},
		{"policy payload", nil, []string{"edit-device", "d", "-max-payload", "all"}, `-max-payload "all": want strip, zero or keep`},
		{"policy key holder", nil, []string{"edit-device", "d", "-key-holder", "me"}, `-key-holder "me": want operator or experimenter`},
		{"policy outputs", nil, []string{"edit-device", "d", "-outputs", "pcapng"}, `-outputs: "pcapng" is not counters, flows or pcap`},
		{"policy users", nil, []string{"edit-device", "d", "-policy-users", ","}, "-policy-users: give at least one user name"},
		{"policy duration", nil, []string{"edit-device", "d", "-max-duration", "1500ms"}, "-max-duration 1.5s: want 0 (no bound) or a whole number of seconds"},
		{"policy storage", nil, []string{"edit-device", "d", "-max-storage", "lots"}, `-max-storage: "lots" is not a size`},
		{"policy snaplen", nil, []string{"edit-device", "d", "-max-snaplen", "-1"}, "-max-snaplen -1"},
		{"policy json", nil, []string{"edit-device", "d", "-policy-json", `{"payloads": "keep"}`}, `-policy-json: json: unknown field "payloads"`},
		{"edit-device nothing", nil, []string{"edit-device", "d"}, "nothing to change"},
		{"add-user no password", nil, []string{"add-user", "-name", "bob"}, "no password: set GIMS_NEW_PASSWORD"},
		{"add-user bad role", map[string]string{envNewPassword: "x"}, []string{"add-user", "-name", "bob", "-role", "root"}, `-role "root"`},
		{"register without token", nil, []string{"register-device", "-name", "d", "-hostname", "h"}, "a device token is required"},
		{"token file readable by others", nil, []string{"add-device", "-name", "d", "-hostname", "h", "-token-file", openFile}, "chmod 600"},
		{"register without activation", nil, []string{"register-device", "-name", "d", "-hostname", "h", "-token", "t"}, "an activation code is required"},
		{"create-activation bad expiry", nil, []string{"create-activation", "-expires", "1500ms"}, "-expires 1.5s"},
		{"call without method", nil, []string{"call"}, "wrong number of arguments"},
		{"call bad JSON", nil, []string{"call", "DeleteUser", "bob"}, "argument 1: invalid JSON"},
		{"help of unknown", nil, []string{"help", "nope"}, `unknown subcommand "nope"`},
	}
	a := newRealAM(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a.rec.reset()
			args := tc.args
			if !strings.HasPrefix(tc.name, "bad url") {
				args = append([]string{"-url", a.url}, args...)
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
			if n := a.rec.numRequests(); n != 0 {
				t.Errorf("%d requests made, want none", n)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	a := newRealAM(t)
	cases := []struct {
		name     string
		env      map[string]string
		args     []string
		wantAuth string
		wantCode int
	}{
		{"default user", nil, nil, basicAuth(adminUser), exitOK},
		{"-user", nil, []string{"-user", aliceUser}, basicAuth(aliceUser), exitOK},
		{"GIMS_USER", map[string]string{envUser: aliceUser}, nil, basicAuth(aliceUser), exitOK},
		{"-user beats GIMS_USER", map[string]string{envUser: "carol"}, []string{"-user", aliceUser}, basicAuth(aliceUser), exitOK},
		{"unknown user", map[string]string{envUser: "carol"}, nil, basicAuth("carol"), exitError},
		{"no password, no header", map[string]string{envPassword: ""}, nil, "", exitError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a.rec.reset()
			args := append(append([]string{"-url", a.url}, tc.args...), "list-experiments")
			if code, _, stderr := runCtl(t, tc.env, args...); code != tc.wantCode {
				t.Fatalf("exit %d, want %d: %s", code, tc.wantCode, stderr)
			}
			if got := a.rec.onlyCall(t).auth; got != tc.wantAuth {
				t.Errorf("Authorization %q, want %q", got, tc.wantAuth)
			}
		})
	}
	t.Run("credentials in the URL", func(t *testing.T) {
		a.rec.reset()
		url := strings.Replace(a.url, "http://", "http://"+aliceUser+":"+testPassword+"@", 1)
		if code, _, stderr := runCtl(t, map[string]string{envPassword: "other"}, "-url", url, "list-experiments"); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if got := a.rec.onlyCall(t).auth; got != basicAuth(aliceUser) {
			t.Errorf("Authorization %q, want Basic alice:…", got)
		}
	})
	t.Run("GIMS_URL", func(t *testing.T) {
		a.rec.reset()
		if code, _, stderr := runCtl(t, map[string]string{envURL: a.url}, "list-experiments"); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		a.rec.onlyCall(t)
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
		"anonymize-secret-file", "payload", "mac", "pcap", "storage", "duration-s"} {
		if !strings.Contains(sub, "  -"+f+" ") && !strings.Contains(sub, "  -"+f+"\n") {
			t.Errorf("configure-experiment -h lacks -%s", f)
		}
	}
	code, stdout, _ = runCtl(t, nil, "version")
	if code != exitOK || stdout != "gimsctl dev\n" {
		t.Errorf("version: exit %d, %q", code, stdout)
	}
}

// fileServer serves files under /files/7/ to the admin's credentials
// only, as the AM serves result files, for the download tests of what no
// real AM answers (files on other hosts, unsafe names, missing URLs).
func fileServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /files/7/{name}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != basicAuth(adminUser) {
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

// testClient is gimsctl's client of the AM at url with the admin's
// credentials.
func testClient(url string, stderr io.Writer) *client {
	return &client{opts: options{url: url, user: adminUser, password: testPassword, timeout: defaultTimeout},
		http: &http.Client{}, getenv: func(string) string { return "" }, stderr: stderr}
}

func TestDownload(t *testing.T) {
	ts := fileServer(t)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("credentials sent to another host")
		}
		w.Write([]byte("elsewhere"))
	}))
	defer other.Close()
	url := ts.URL + "/RPC2"

	t.Run("files", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "out")
		var stderr bytes.Buffer
		err := testClient(url, &stderr).downloadFiles([]amapi.FileRow{
			{Name: "flows.ipfix", Size: 22, URL: "/files/7/flows.ipfix"},
			{Name: "packets.pcap", Size: 23, URL: ts.URL + "/files/7/packets.pcap"},
			{Name: "ext.csv", Size: 9, URL: other.URL + "/ext.csv"},
		}, dir)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(stderr.String(), "downloaded ") != 3 {
			t.Errorf("stderr %q", stderr.String())
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
		files []amapi.FileRow
		want  string
	}{
		{"missing file", []amapi.FileRow{{Name: "missing.pcap", URL: "/files/7/missing.pcap"}}, "HTTP 404"},
		{"unsafe name", []amapi.FileRow{{Name: "../evil", URL: "/files/7/evil"}}, `refusing to write a file named "../evil"`},
		{"no url", []amapi.FileRow{{Name: "x"}}, "has no url"},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			err := testClient(url, io.Discard).downloadFiles(tc.files, dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
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
	a := newFixture(t)
	env := []string{"GIMS_URL=" + a.url, "GIMS_USER=" + aliceUser, "GIMS_PASSWORD=" + testPassword}
	cases := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string // its start
	}{
		{"list", []string{"list-experiments"}, 0, "ID  NAME    OWNER  STATE         DEVICES\n1   campus  alice  instantiated  tap1:file:tcpreplay__test.pcap\n", ""},
		{"create prints the id", []string{"-json", "create-experiment", "-name", "x", "-devices", "tap1"}, 0, "2\n", ""},
		{"fault", []string{"start-experiment", "1"}, 1, "", "gimsctl: StartExperiment: fault 2: "},
		{"usage", []string{"start-experiment"}, 2, "", "gimsctl: start-experiment: wrong number of arguments (usage: gimsctl start-experiment [flags] ID)\nrun 'gimsctl -h' for usage\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a.rec.reset()
			code, stdout, stderr := runBinary(t, env, tc.args...)
			if code != tc.wantCode || stdout != tc.wantStdout || !strings.HasPrefix(stderr, tc.wantStderr) ||
				tc.wantStderr == "" && stderr != "" {
				t.Errorf("exit %d, stdout %q, stderr %q\nwant exit %d, stdout %q, stderr %q…",
					code, stdout, stderr, tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
			if tc.wantCode != exitUsage {
				if got := a.rec.onlyCall(t).auth; got != basicAuth(aliceUser) {
					t.Errorf("Authorization %q, want Basic alice:…", got)
				}
			}
		})
	}
}
