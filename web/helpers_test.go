package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/am/api"
	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/internal/daemontest"
)

// bins holds what TestMain builds and makes: the gims-capd binary and
// the generated trace.
var bins struct {
	capd  string
	trace string
	// light is a lighter trace over the same ten seconds, for a second
	// device whose line differs from the first's.
	light string
}

// Names of the pcaps in the test capture daemon's -pcap-dir.
const (
	sampleName = "tcpreplay__test.pcap"
	traceName  = "trace.pcap"
	lightName  = "trace-light.pcap"
)

func TestMain(m *testing.M) {
	built, dir, err := daemontest.Build("../cmd", []string{"gims-capd", "gims-tracegen"}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		bins.capd = built["gims-capd"]
		// Ten seconds of TCP, UDP and ICMP: at replay speed 1 it runs long
		// enough to watch the counters rise.
		bins.trace = filepath.Join(dir, traceName)
		cmd := exec.Command(built["gims-tracegen"], "-o", bins.trace, "-duration", "10s", "-packets", "3000",
			"-flows", "150", "-snaplen", "128", "-seed", "7")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "gims-tracegen: %v\n", err)
			return 1
		}
		bins.light = filepath.Join(dir, lightName)
		cmd = exec.Command(built["gims-tracegen"], "-o", bins.light, "-duration", "10s", "-packets", "800",
			"-flows", "40", "-snaplen", "128", "-seed", "8")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "gims-tracegen: %v\n", err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// capd is a gims-capd process started by a test.
type capd struct {
	*daemontest.Proc
	host  string
	port  int
	token string
}

// startCapd starts a capture daemon on 127.0.0.1 with the sample pcap and
// the generated trace in its -pcap-dir.
func startCapd(t *testing.T, token string) *capd {
	t.Helper()
	sample := filepath.Join("..", "cmd", "gims-capd", "testdata", "pcaps", sampleName)
	c := daemontest.StartCapd(t, bins.capd, t.TempDir(), token, []string{sample, bins.trace})
	return &capd{Proc: c.Proc, host: c.Host, port: c.Port, token: token}
}

// Users of every test environment.
const (
	adminName = "admin"
	adminPass = "admin-password-1"
	alice     = "alice"
	alicePass = "alice-password-1"
	bob       = "bob"
	bobPass   = "bob-password-1"
)

// env is an in-process aggregate manager with the GUI and the API mounted
// as gims-am mounts them.
type env struct {
	m     *am.Manager
	gui   *Handler
	srv   *httptest.Server
	admin am.Principal
}

// newEnv starts a manager on a fresh database with an admin and two
// experimenters, and serves it.
func newEnv(t *testing.T) *env {
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
	reg := prometheus.NewRegistry()
	mcfg := am.DefaultConfiguration()
	mcfg.DataDir = filepath.Join(dir, "data")
	mcfg.PollInterval, mcfg.PullInterval, mcfg.RefreshInterval = 200*time.Millisecond, time.Second, 5*time.Second
	mcfg.DeviceTimeout, mcfg.BcryptCost = 5*time.Second, bcrypt.MinCost
	m, err := am.New(mcfg, am.Dependencies{DB: store, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	if _, err := m.InitAdmin(ctx, adminName, adminPass); err != nil {
		t.Fatal(err)
	}
	admin := am.Principal{Name: adminName, Role: am.RoleAdmin}
	for _, u := range []amapi.UserInput{{Name: alice, Password: alicePass, Role: am.RoleExperimenter},
		{Name: bob, Password: bobPass, Role: am.RoleExperimenter}} {
		if _, err := m.AddUser(ctx, admin, u); err != nil {
			t.Fatal(err)
		}
	}
	cfg := DefaultConfiguration()
	cfg.StatusInterval = 500 * time.Millisecond
	cfg.ResultsInterval = time.Second
	gui, err := New(cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	rpc, err := api.New(api.DefaultConfiguration(), api.Dependencies{Manager: m, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(api.RPCPath, rpc)
	mux.Handle(am.FilesPath, rpc)
	mux.Handle(api.MetricsPath, rpc)
	mux.Handle("/", gui)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{m: m, gui: gui, srv: srv, admin: admin}
}

// addDevice adds capture daemon c as name through the manager, with
// openPolicy.
func (e *env) addDevice(t *testing.T, name string, c *capd) {
	t.Helper()
	e.addDeviceWith(t, name, c, openPolicy())
}

// addDeviceWith adds capture daemon c as name with policy pol.
func (e *env) addDeviceWith(t *testing.T, name string, c *capd, pol *amapi.PolicyInput) {
	t.Helper()
	if _, err := e.m.AddDevice(context.Background(), e.admin, amapi.DeviceInput{Name: name, Location: "lab", Type: "gims-capd",
		Hostname: c.host, Port: c.port, Token: c.token, Policy: pol}); err != nil {
		t.Fatal(err)
	}
}

// client is a cookie-keeping HTTP client of the GUI, as a browser without
// JavaScript would use it.
type client struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

// csrfRE finds a page's CSRF token.
var csrfRE = regexp.MustCompile(`name="csrf-token" content="([^"]+)"`)

// newClient returns a client that has not logged in.
func (e *env) newClient(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: e.srv.URL, c: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// login logs a client in as user.
func (e *env) login(t *testing.T, user, pass string) *client {
	t.Helper()
	c := e.newClient(t)
	c.get("/login")
	status, _, hdr := c.postForm("/login", url.Values{"name": {user}, "password": {pass}})
	if status != http.StatusSeeOther || hdr.Get("Location") != "/experiments" {
		t.Fatalf("login %s: status %d, location %q", user, status, hdr.Get("Location"))
	}
	c.get("/experiments")
	return c
}

// do sends a request and returns the status, body and headers; a page's
// CSRF token is remembered.
func (c *client) do(req *http.Request) (int, string, http.Header) {
	c.t.Helper()
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if m := csrfRE.FindSubmatch(body); m != nil {
		c.csrf = string(m[1])
	}
	return resp.StatusCode, string(body), resp.Header
}

// get fetches path.
func (c *client) get(path string) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	status, body, _ := c.do(req)
	return status, body
}

// postForm posts a form with the client's CSRF token.
func (c *client) postForm(path string, form url.Values) (int, string, http.Header) {
	c.t.Helper()
	if form.Get(csrfField) == "" && c.csrf != "" {
		form.Set(csrfField, c.csrf)
	}
	return c.postRaw(path, form, nil)
}

// postRaw posts a form as given, with extra headers.
func (c *client) postRaw(path string, form url.Values, headers map[string]string) (int, string, http.Header) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return c.do(req)
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// openPolicy is the device policy (SPEC §9) that allows every
// experiment, for the tests that are not about policy: every user, no
// anonymization required, payloads kept, experimenters' secrets.
func openPolicy() *amapi.PolicyInput {
	p := amapi.DefaultDevicePolicy()
	p.RequireAnonymization, p.Payload, p.KeyHolder = false, "keep", "experimenter"
	return amapi.PolicyInputOf(p)
}
