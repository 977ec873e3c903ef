package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/am/api"
	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/internal/daemontest"
)

// capdBinary is gims-capd, built once by TestMain for the tests that need
// a capture device.
var capdBinary string

// Users of the real AM. gimsctl runs as admin (its default user) unless
// a test says otherwise; every user has testPassword.
const (
	adminUser = "admin"
	aliceUser = "alice"
)

// traceFile is the capture the test device replays, and traceIface its
// interface name on the device.
const (
	traceFile  = "../gims-capd/testdata/pcaps/tcpreplay__test.pcap"
	traceIface = "file:tcpreplay__test.pcap"
)

// realAM is an in-process aggregate manager on a fresh SQLite database,
// served by am/api on 127.0.0.1 as gims-am serves it.
type realAM struct {
	m     *am.Manager
	srv   *httptest.Server
	url   string // the /RPC2 endpoint
	admin am.Principal
	rec   *wireRecorder
}

// newRealAM starts a manager with the users admin and alice (an
// experimenter), both with testPassword.
func newRealAM(t *testing.T) *realAM {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	dcfg := db.DefaultConfiguration()
	dcfg.Path = filepath.Join(dir, "gims.db")
	store, err := db.Open(ctx, dcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	mcfg := am.DefaultConfiguration()
	mcfg.DataDir = filepath.Join(dir, "data")
	mcfg.PollInterval, mcfg.PullInterval, mcfg.RefreshInterval = 200*time.Millisecond, 500*time.Millisecond, 5*time.Second
	mcfg.DeviceTimeout, mcfg.BcryptCost = 5*time.Second, bcrypt.MinCost
	m, err := am.New(mcfg, am.Dependencies{DB: store})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	if _, err := m.InitAdmin(ctx, adminUser, testPassword); err != nil {
		t.Fatal(err)
	}
	admin := am.Principal{Name: adminUser, Role: am.RoleAdmin}
	if _, err := m.AddUser(ctx, admin, amapi.UserInput{Name: aliceUser, Password: testPassword, Role: am.RoleExperimenter}); err != nil {
		t.Fatal(err)
	}
	h, err := api.New(api.DefaultConfiguration(), api.Dependencies{Manager: m})
	if err != nil {
		t.Fatal(err)
	}
	rec := newWireRecorder(t)
	srv := httptest.NewServer(rec.wrap(h)) // on 127.0.0.1
	t.Cleanup(srv.Close)
	return &realAM{m: m, srv: srv, url: srv.URL + api.RPCPath, admin: admin, rec: rec}
}

// capd is a capture daemon started by a test, replaying traceFile.
type capd struct {
	host  string
	port  int
	token string
}

// startCapd starts gims-capd on 127.0.0.1 with traceFile in its
// -pcap-dir.
func startCapd(t *testing.T, token string) *capd {
	t.Helper()
	c := daemontest.StartCapd(t, capdBinary, t.TempDir(), token, []string{traceFile})
	return &capd{host: c.Host, port: c.Port, token: token}
}

// addDevice adds capture daemon c as name through the manager.
func (a *realAM) addDevice(t *testing.T, name string, c *capd) {
	t.Helper()
	if _, err := a.m.AddDevice(context.Background(), a.admin, amapi.DeviceInput{Name: name, Location: "rack 3",
		Type: "gims-capd", Hostname: c.host, Port: c.port, Description: "uplink", Token: c.token,
		Policy: openPolicy()}); err != nil {
		t.Fatal(err)
	}
}

// newFixture is a real AM with capture device tap1 and experiment 1,
// "campus", owned by alice and instantiated on tap1's trace.
func newFixture(t *testing.T) *realAM {
	t.Helper()
	a := newRealAM(t)
	a.addDevice(t, "tap1", startCapd(t, "tap1-token"))
	alice := am.Principal{Name: aliceUser, Role: am.RoleExperimenter}
	if _, err := a.m.CreateExperiment(context.Background(), alice,
		amapi.CreateRequest{Name: "campus", Devices: []string{"tap1:" + traceIface}}); err != nil {
		t.Fatal(err)
	}
	return a
}

// waitStatus polls an experiment's status until cond holds.
func (a *realAM) waitStatus(t *testing.T, id int64, what string, cond func(amapi.Status) bool) amapi.Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := a.m.GetExperimentStatus(context.Background(), a.admin, id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("experiment %d: %s: not after 30s (status %+v)", id, what, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// volatile are the parts of gimsctl's output that change from run to
// run, with what replaces them in golden files.
type volatile struct {
	re   *regexp.Regexp
	repl string
}

// normalizer returns the function that replaces what changes between runs
// in an output: the AM's and the device's ports, times of today
// (creation, transitions, last seen; the trace's own times stay),
// durations and CPU shares, storage sizes and job ids. Runs of spaces
// after text are collapsed, as the width of columns follows the values.
func normalizer(a *realAM, devs ...*capd) func(string) string {
	_, amPort, _ := net.SplitHostPort(strings.TrimPrefix(a.srv.URL, "http://"))
	vs := []volatile{
		{regexp.MustCompile(`127\.0\.0\.1:` + amPort), "127.0.0.1:AMPORT"},
		{regexp.MustCompile(`"job": "[^"]*"`), `"job": "JOB"`},
		{regexp.MustCompile(`"(elapsed_s|cpu_percent|storage_free_bytes|storage_used_bytes|interrupted_s)": [-0-9.e+]+`), `"$1": N`},
		{regexp.MustCompile(`(?m)^(elapsed|cpu|storage free|storage used):( +).*$`), "$1:$2N"},
		{regexp.MustCompile(`\b\d+(\.\d+)?(h|m|s|ms|µs)\b|\b\d+\.\d%`), "N"},
		{regexp.MustCompile(`(?m)^version:( +)\S+$`), "version:${1}V"},
		{regexp.MustCompile(`"version": "[^"]*"`), `"version": "V"`},
	}
	for i, c := range devs {
		vs = append(vs, volatile{regexp.MustCompile(`\b` + strconv.Itoa(c.port) + `\b`), "CAPDPORT" + strconv.Itoa(i+1)})
	}
	today := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	spaces := regexp.MustCompile(`(\S)  +`)
	return func(s string) string {
		s = today.ReplaceAllStringFunc(s, func(ts string) string {
			tm, err := time.Parse(time.RFC3339Nano, ts)
			if err != nil || time.Since(tm).Abs() > 24*time.Hour {
				return ts
			}
			return "NOW"
		})
		for _, v := range vs {
			s = v.re.ReplaceAllString(s, v.repl)
		}
		return spaces.ReplaceAllString(s, "$1  ")
	}
}

// TestOutputRealAM runs every subcommand against a real manager and a
// real capture device through an experiment's life, and compares the
// tables and the JSON with the golden files (volatile values normalized).
func TestOutputRealAM(t *testing.T) {
	a := newRealAM(t)
	c := startCapd(t, "tap1-token")
	a.addDevice(t, "tap1", c)
	c9 := startCapd(t, "tap9-token")
	norm := normalizer(a, c, c9)
	act, err := a.m.CreateActivation(context.Background(), a.admin, amapi.ActivationRequest{ExpiresS: 3600})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PW": "bob-password-1", envDeviceToken: "tap9-token", envActivation: act.Code}
	downloads := t.TempDir()
	steps := []struct {
		golden string // "" checks the exit status only
		args   []string
		// then runs after the step.
		then func(t *testing.T)
		// filter, when set, takes out what depends on the machine.
		filter func(string) string
		// downloads is the number of "downloaded …" lines on stderr.
		downloads int
	}{
		{golden: "create-experiment.txt", args: []string{"create-experiment", "-name", "campus", "-description", "uplink study",
			"-devices", "tap1:" + traceIface}},
		{golden: "json-int.json", args: []string{"-json", "create-experiment", "-name", "dns", "-devices", "tap1"}},
		{golden: "configure-experiment.txt", args: []string{"configure-experiment", "1", "-filter", "ip or ip6", "-snaplen", "96",
			"-counters", "-flows", "-idle-timeout-s", "60", "-anonymize-secret", "campus secret", "-pcap"}},
		{golden: "get-experiment-settings.txt", args: []string{"get-experiment-settings", "1"}},
		{golden: "json-settings.json", args: []string{"-json", "get-experiment-settings", "1"}},
		{golden: "call-struct.txt", args: []string{"call", "GetExperimentSettings", "1"}},
		{args: []string{"start-experiment", "1"}, then: func(t *testing.T) {
			a.waitStatus(t, 1, "done with the results pulled", func(s amapi.Status) bool {
				return s.State == am.StateDone && s.ResultsPulled
			})
		}},
		{golden: "get-experiment-status.txt", args: []string{"get-experiment-status", "1"}},
		{golden: "json-status.json", args: []string{"get-experiment-status", "-json", "1"}},
		{golden: "results-flows.txt", args: []string{"get-experiment-results", "1", "-limit", "5"}},
		{golden: "json-flows.json", args: []string{"-json", "get-experiment-results", "1", "-limit", "2"}},
		{golden: "results-counters.txt", args: []string{"get-experiment-results", "1", "-kind", "counters", "-limit", "5"}},
		{golden: "json-counters.json", args: []string{"-json", "get-experiment-results", "1", "-kind", "counters", "-limit", "1"}},
		{golden: "results-files.txt", args: []string{"get-experiment-results", "1", "-kind", "files"}},
		{golden: "query-group-src.txt", args: []string{"query", "1", "-group-by", "src", "-order-by", "-bytes", "-limit", "10"}},
		{golden: "query-flows.txt", args: []string{"query", "1", "-filter", "tcp and dst port 80 and packets > 4", "-limit", "3"}},
		{args: []string{"get-experiment-results", "1", "-kind", "files", "-download", downloads}, downloads: 3, then: func(t *testing.T) {
			for _, name := range []string{"counters.csv", "flows.ipfix", "packets.pcap"} {
				if fi, err := os.Stat(filepath.Join(downloads, name)); err != nil || fi.Size() == 0 {
					t.Errorf("%s not downloaded: %v", name, err)
				}
			}
		}},
		{golden: "download-counters.csv", args: []string{"download", "-o", "-", a.srv.URL + "/files/1/0/counters.csv"}},
		{golden: "list-experiments.txt", args: []string{"list-experiments"}},
		{golden: "get-device-capabilities.txt", args: []string{"get-device-capabilities", "tap1"}, filter: fileInterfacesOnly},
		{golden: "list-devices.txt", args: []string{"list-devices"}},
		{golden: "json-list-experiments.json", args: []string{"-json", "list-experiments"}},
		{golden: "add-user.txt", args: []string{"add-user", "-name", "bob", "-password-env", "PW"}},
		{golden: "list-users.txt", args: []string{"list-users"}},
		{golden: "json-list-users.json", args: []string{"-json", "list-users"}},
		{golden: "register-device.txt", args: []string{"register-device", "-name", "tap9", "-hostname", "127.0.0.1", "-port", strconv.Itoa(c9.port)}},
		// The code is random: only the exit status of create-activation.
		{args: []string{"create-activation", "-expires", "2h", "-uses", "3"}},
		{golden: "list-activations.txt", args: []string{"list-activations"}},
		{args: []string{"delete-activation", "2"}},
		{args: []string{"audit", "-user", "nobody", "-since", "1h"}},
		{golden: "edit-device.txt", args: []string{"edit-device", "tap9", "-location", "rack 9", "-approve"}},
		// The device policy flags (SPEC §9) against the real AM.
		{golden: "edit-device-policy.txt", args: []string{"edit-device", "tap9", "-policy-users", "alice,bob", "-max-payload", "zero",
			"-outputs", "counters,flows", "-max-snaplen", "256", "-max-duration", "1h", "-max-storage", "1GiB", "-key-holder", "experimenter"}},
		{golden: "delete-device.txt", args: []string{"delete-device", "tap9"}},
		{golden: "delete-user.txt", args: []string{"delete-user", "bob"}},
		{golden: "list-methods.txt", args: []string{"list-methods"}},
		{golden: "json-list-methods.json", args: []string{"-json", "list-methods"}},
		{golden: "method-help.txt", args: []string{"method-help", "CreateExperiment"}},
	}
	for _, s := range steps {
		name := s.golden
		if name == "" {
			name = strings.Join(s.args, " ")
		}
		ok := t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCtl(t, env, append([]string{"-url", a.url}, s.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if n := strings.Count(stderr, "\n"); n != s.downloads || strings.Count(stderr, "downloaded ") != n {
				t.Errorf("stderr %q, want %d lines \"downloaded …\"", stderr, s.downloads)
			}
			if strings.HasSuffix(s.golden, ".json") && !json.Valid([]byte(stdout)) {
				t.Errorf("invalid JSON: %s", stdout)
			}
			if s.filter != nil {
				stdout = s.filter(stdout)
			}
			if s.golden != "" {
				golden(t, s.golden, norm(stdout))
			}
			if s.then != nil {
				s.then(t)
			}
		})
		if !ok {
			t.FailNow() // the next steps depend on this one
		}
	}
}

// fileInterfacesOnly keeps, of the interface table of a device's
// capabilities, the file: interfaces: the others are the machine's.
func fileInterfacesOnly(s string) string {
	lines := strings.SplitAfter(s, "\n")
	out := lines[:0]
	table := false
	for _, l := range lines {
		if strings.HasPrefix(l, "INTERFACE ") {
			table = true
		} else if table && !strings.HasPrefix(l, "file:") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "")
}

// openPolicy is the device policy (SPEC §9) that allows every
// experiment, for the tests that are not about policy: every user, no
// anonymization required, payloads kept, experimenters' secrets.
func openPolicy() *amapi.PolicyInput {
	p := amapi.DefaultDevicePolicy()
	p.RequireAnonymization, p.Payload, p.KeyHolder = false, "keep", "experimenter"
	return amapi.PolicyInputOf(p)
}
