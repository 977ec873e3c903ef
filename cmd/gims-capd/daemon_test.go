package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gimsproject/gims/capture/device"
	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/internal/testnet"
	"github.com/gimsproject/gims/xmlrpc"
)

// daemonEnv is the environment of a daemon under test, without any
// inherited token.
func daemonEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, tokenEnv+"=") && !strings.HasPrefix(kv, activationEnv+"=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// TestDaemonServesAndStops runs the binary in daemon mode on a free port,
// calls the device API, starts a slow file job, and checks that SIGTERM
// flushes the job and exits 0.
func TestDaemonServesAndStops(t *testing.T) {
	dir := t.TempDir()
	pcapDir := filepath.Join(dir, "pcaps")
	if err := os.Mkdir(pcapDir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/pcaps/tcpreplay__test.pcap")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pcapDir, "trace.pcap"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("  daemon-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "data")

	// An aggregate manager that refuses the first registration.
	am := &amStub{failures: 1}
	xcfg := xmlrpc.DefaultConfiguration()
	xcfg.DefaultService = "AM"
	amSrv, err := xmlrpc.NewServer(xcfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := amSrv.RegisterService(am, "AM", nil); err != nil {
		t.Fatal(err)
	}
	amTS := httptest.NewServer(amSrv)
	defer amTS.Close()

	cmd := exec.Command(capd, "-listen", "127.0.0.1:0", "-data", dataDir, "-pcap-dir", pcapDir,
		"-token-file", tokenFile, "-register", amTS.URL+"/RPC2")
	cmd.Env = daemonEnv(activationEnv + "=gims-act-from-env")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	// The daemon logs the address it listens on; the rest of its log is
	// kept for the failure messages.
	addrRE := regexp.MustCompile(`msg="capture daemon listening" addr=(\S+)`)
	addrc := make(chan string, 1)
	var (
		logMu sync.Mutex
		log   strings.Builder
	)
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			log.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
		}
	}()
	logText := func() string {
		logMu.Lock()
		defer logMu.Unlock()
		return log.String()
	}
	var addr string
	select {
	case addr = <-addrc:
	case <-time.After(20 * time.Second):
		t.Fatalf("daemon did not report its address; log:\n%s", logText())
	}
	url := "http://" + addr + deviceapi.RPCPath
	hdr := http.Header{"Authorization": {"Bearer daemon-token"}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var caps deviceapi.Capabilities
	if err := xmlrpc.Call(ctx, nil, url, hdr, "Capabilities", nil, &caps); err != nil {
		t.Fatalf("Capabilities: %v; log:\n%s", err, logText())
	}
	if caps.Version == "" || len(caps.Transforms) != 4 {
		t.Errorf("Capabilities = %+v", caps)
	}
	if !strings.Contains(func() string {
		var names []string
		for _, i := range caps.Interfaces {
			names = append(names, i.Name)
		}
		return strings.Join(names, " ")
	}(), "file:trace.pcap") {
		t.Errorf("file:trace.pcap not offered: %+v", caps.Interfaces)
	}
	err = xmlrpc.Call(ctx, nil, url, http.Header{"Authorization": {"Bearer wrong"}}, "ListJobs", nil, nil)
	var f *xmlrpc.Fault
	if !errors.As(err, &f) || f.Code != deviceapi.FaultAuth {
		t.Errorf("wrong token: %v, want fault 4", err)
	}

	// A short file job: its packets are the daemon's packet counter in
	// /metrics, which only the token may read.
	var short string
	if err := xmlrpc.Call(ctx, nil, url, hdr, "StartJob", []any{map[string]any{"interface": "file:trace.pcap"}},
		&short); err != nil {
		t.Fatalf("StartJob: %v", err)
	}
	var st deviceapi.JobStatus
	for deadline := time.Now().Add(10 * time.Second); st.State != "done"; time.Sleep(20 * time.Millisecond) {
		if err := xmlrpc.Call(ctx, nil, url, hdr, "JobStatus", []any{short}, &st); err != nil {
			t.Fatalf("JobStatus: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("short job still %s after 10 s", st.State)
		}
	}
	if st.Packets == 0 {
		t.Fatal("the short job captured nothing")
	}
	metricsURL := "http://" + addr + device.MetricsPath
	for _, tc := range []struct {
		pos    string
		header http.Header
		want   int
	}{
		{"#0", nil, http.StatusUnauthorized},
		{"#1", http.Header{"Authorization": {"Bearer wrong"}}, http.StatusForbidden},
		{"#2", hdr, http.StatusOK},
	} {
		code, body := get(t, metricsURL, tc.header)
		if code != tc.want {
			t.Errorf("%s GET /metrics: HTTP %d, want %d", tc.pos, code, tc.want)
		}
		if code != http.StatusOK {
			continue
		}
		for _, want := range []string{fmt.Sprintf("gims_capd_packets_total %d\n", st.Packets),
			`gims_capd_jobs{state="done"} 1`, `gims_capd_api_calls_total{method="StartJob"} 1`,
			// refused before the body is read: the method is not known
			`gims_capd_api_faults_total{code="4",method="unknown"} 1`, "go_goroutines ", "process_cpu_seconds_total "} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s:\n%s", strings.TrimSpace(want), body)
			}
		}
		if strings.Contains(body, "daemon-token") {
			t.Errorf("/metrics shows the token")
		}
	}

	var id string
	spec := map[string]any{"interface": "file:trace.pcap", "filter": "", "flows": map[string]any{},
		"pcap": true, "replay_speed": 0.0001}
	if err := xmlrpc.Call(ctx, nil, url, hdr, "StartJob", []any{spec}, &id); err != nil {
		t.Fatalf("StartJob: %v", err)
	}

	// The daemon registered itself after one refusal.
	_, port, _ := net.SplitHostPort(addr)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		am.mu.Lock()
		got, calls := am.got, am.calls
		am.mu.Unlock()
		if got.Token != "" {
			if calls != 2 || got.Token != "daemon-token" || strconv.Itoa(got.Port) != port || got.Hostname == "" ||
				got.Activation != "gims-act-from-env" {
				t.Errorf("registration %+v after %d calls", got, calls)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no registration after %d calls; log:\n%s", calls, logText())
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		<-logDone
		waited <- cmd.Wait()
	}()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; log:\n%s", err, logText())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("daemon still running 20s after SIGTERM; log:\n%s", logText())
	}
	if strings.Contains(logText(), "daemon-token") {
		t.Errorf("the log shows the token:\n%s", logText())
	}
	// The job was flushed: its pcap file holds at least the file header.
	info, err := os.Stat(filepath.Join(dataDir, "jobs", id, "packets.pcap"))
	if err != nil || info.Size() < 24 {
		t.Errorf("packets.pcap after shutdown: %v, %v", info, err)
	}
}

// get GETs url with header and returns the status and body.
func get(t *testing.T, url string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if header != nil {
		req.Header = header
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(body)
}

func TestDaemonUsage(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Issue 20 finding 7: a token file the group or others can read.
	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"no token", []string{"-data", dir}, nil, tokenEnv},
		{"empty token file", []string{"-data", dir, "-token-file", empty}, nil, "empty"},
		{"missing token file", []string{"-data", dir, "-token-file", filepath.Join(dir, "nope")}, nil, "token file"},
		{"token file readable by others", []string{"-data", dir, "-token-file", open}, nil, "chmod 600"},
		{"bad register URL", []string{"-data", dir, "-listen", "127.0.0.1:0", "-register", "ftp://am", "-activation", "c"},
			[]string{tokenEnv + "=x"}, "-register"},
		{"register without activation", []string{"-data", dir, "-listen", "127.0.0.1:0", "-register", "http://127.0.0.1:1/RPC2"},
			[]string{tokenEnv + "=x"}, activationEnv},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(capd, tc.args...)
			cmd.Env = daemonEnv(tc.env...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != exitUsage {
				t.Fatalf("err %v, want exit 2; output:\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("output %q does not mention %q", out, tc.want)
			}
		})
	}
}

func TestLoadToken(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("\tfrom-file \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, file, env, want string
		usage                 bool
	}{
		{"file wins and is trimmed", file, "from-env", "from-file", false},
		{"environment", "", " from-env\n", "from-env", false},
		{"none", "", "", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := loadToken(tc.file, func(k string) string {
				if k == tokenEnv {
					return tc.env
				}
				return ""
			})
			var usage usageError
			if tc.usage != errors.As(err, &usage) || got != tc.want {
				t.Errorf("loadToken = %q, %v; want %q, usage error %t", got, err, tc.want, tc.usage)
			}
		})
	}
}

// amStub is an aggregate manager that refuses the first registrations.
type amStub struct {
	mu       sync.Mutex
	failures int
	// refuse is the fault code of the failures (default 5).
	refuse int
	calls  int
	got    registration
}

// RegisterArgs is RegisterDevice's parameter.
type RegisterArgs struct{ Device registration }

// RegisterDevice fails while failures remain, then records the device.
func (a *amStub) RegisterDevice(r *http.Request, args *RegisterArgs, reply *bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	if a.calls <= a.failures {
		code := 5
		if a.refuse != 0 {
			code = a.refuse
		}
		return xmlrpc.Fault{Code: code, String: "not ready"}
	}
	a.got = args.Device
	*reply = true
	return nil
}

func TestRegistrarRetries(t *testing.T) {
	am := &amStub{failures: 2}
	xcfg := xmlrpc.DefaultConfiguration()
	xcfg.DefaultService = "AM"
	srv, err := xmlrpc.NewServer(xcfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.RegisterService(am, "AM", nil); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8081}
	r, err := newRegistrar(ts.URL+"/RPC2", "tok", "gims-act-x", addr, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r.initial, r.max = 5*time.Millisecond, 20*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.run(ctx); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	am.mu.Lock()
	defer am.mu.Unlock()
	want := registration{Name: host, Hostname: host, Port: 8081, Token: "tok", Activation: "gims-act-x"}
	if am.calls != 3 || am.got != want {
		t.Errorf("%d calls, registered %+v; want 3 calls, %+v", am.calls, am.got, want)
	}
}

func TestRegistrarStopsWithContext(t *testing.T) {
	// Nothing listens there: every attempt fails until the context ends.
	url := "http://" + testnet.RefusingTCP(t).Addr + "/RPC2"
	r, err := newRegistrar(url, "tok", "gims-act-x", &net.TCPAddr{Port: 1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r.initial = 5 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := r.run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("run = %v, want the context's error", err)
	}
}

// TestRegistrarStopsOnRefusal: a bad activation code (fault 4) or a name
// taken (fault 6) cannot get better by retrying.
func TestRegistrarStopsOnRefusal(t *testing.T) {
	for _, code := range []int{faultAuth, faultConflict} {
		am := &amStub{failures: 100, refuse: code}
		xcfg := xmlrpc.DefaultConfiguration()
		xcfg.DefaultService = "AM"
		srv, err := xmlrpc.NewServer(xcfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.RegisterService(am, "AM", nil); err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(srv)
		r, err := newRegistrar(ts.URL+"/RPC2", "tok", "bad", &net.TCPAddr{Port: 1}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		r.initial = time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = r.run(ctx)
		cancel()
		ts.Close()
		if f, ok := xmlrpc.AsFault(err); !ok || f.Code != code {
			t.Errorf("fault %d: run = %v, want that fault", code, err)
		}
		am.mu.Lock()
		if am.calls != 1 {
			t.Errorf("fault %d: %d calls, want 1", code, am.calls)
		}
		am.mu.Unlock()
	}
}
