package device

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gimsproject/gims/capture/job"
	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/xmlrpc"
)

const (
	testToken = "s3cret-token"
	testPcap  = "file:zeek__http-get.pcap"
)

// testDevice is a device API on a real HTTP server on 127.0.0.1.
type testDevice struct {
	url string
	m   *job.Manager
	h   *Handler
	reg *prometheus.Registry
}

func newTestDevice(t testing.TB) *testDevice {
	t.Helper()
	pcapDir, err := filepath.Abs("testdata/pcaps")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	jcfg := job.DefaultConfiguration()
	jcfg.DataDir, jcfg.PcapDir = t.TempDir(), pcapDir
	m, err := job.New(jcfg, job.Dependencies{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfiguration()
	cfg.Token, cfg.Version = testToken, "test-1"
	h, err := New(cfg, Dependencies{Jobs: m, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		ts.Close()
		if err := m.Stop(); err != nil {
			t.Error(err)
		}
	})
	return &testDevice{url: ts.URL, m: m, h: h, reg: reg}
}

func bearer(token string) http.Header {
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return h
}

func (d *testDevice) call(t testing.TB, method string, reply any, args ...any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return xmlrpc.Call(ctx, nil, d.url+deviceapi.RPCPath, bearer(testToken), method, args, reply)
}

func (d *testDevice) mustCall(t testing.TB, method string, reply any, args ...any) {
	t.Helper()
	if err := d.call(t, method, reply, args...); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
}

// waitDone polls JobStatus until the job is done.
func (d *testDevice) waitDone(t testing.TB, id string) deviceapi.JobStatus {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var st deviceapi.JobStatus
		d.mustCall(t, "JobStatus", &st, id)
		if st.State == "done" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s", id, st.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fullSpec() map[string]any {
	return map[string]any{
		"interface": testPcap,
		"filter":    "tcp or udp or icmp",
		"counters":  map[string]any{"interval_ms": 1000},
		"flows":     map[string]any{"active_timeout_s": 60, "idle_timeout_s": 30},
		"pcap":      true,
	}
}

func TestCapabilities(t *testing.T) {
	d := newTestDevice(t)
	var c deviceapi.Capabilities
	d.mustCall(t, "Capabilities", &c)
	if c.Version != "test-1" || c.MaxSnaplen != deviceapi.MaxSnaplen || c.StorageFreeBytes == 0 {
		t.Errorf("Capabilities = %+v", c)
	}
	if strings.Join(c.Transforms, ",") != "counters,flows,anonymize,pcap" {
		t.Errorf("transforms = %v", c.Transforms)
	}
	var found bool
	for _, i := range c.Interfaces {
		if i.Name == testPcap {
			found = true
			if i.LinkType != "EN10MB" || i.Description == "" {
				t.Errorf("interface %+v", i)
			}
		}
	}
	if !found {
		t.Errorf("no %s in %+v", testPcap, c.Interfaces)
	}
}

// TestFileJob runs a file job to done and reads every kind of result,
// and its files over HTTP.
func TestFileJob(t *testing.T) {
	d := newTestDevice(t)
	var id string
	d.mustCall(t, "StartJob", &id, map[string]any{
		"interface": testPcap, "filter": "",
		"counters": map[string]any{}, "flows": map[string]any{}, "pcap": true,
		"experiment": 42,
	})
	st := d.waitDone(t, id)
	if st.ID != id || st.Interface != testPcap || st.Experiment != 42 || st.Packets == 0 || st.Bytes == 0 ||
		st.Progress != 100 || st.FlowsExported == 0 || st.StorageUsedBytes == 0 || st.Ended.IsZero() {
		t.Errorf("status = %+v", st)
	}

	var list []deviceapi.JobSummary
	d.mustCall(t, "ListJobs", &list)
	if len(list) != 1 || list[0].ID != id || list[0].State != "done" || list[0].Experiment != 42 {
		t.Errorf("ListJobs = %+v", list)
	}

	var counters []deviceapi.CounterEntry
	d.mustCall(t, "JobResults", &counters, id, map[string]any{"kind": "counters"})
	var sum uint64
	for _, c := range counters {
		sum += c.Packets
		if c.TCPPackets+c.UDPPackets+c.ICMPPackets+c.OtherPackets != c.Packets || c.Time.IsZero() ||
			c.TCPBytes+c.UDPBytes+c.ICMPBytes+c.OtherBytes != c.Bytes {
			t.Errorf("counter row %+v", c)
		}
	}
	if len(counters) == 0 || sum != st.Packets {
		t.Errorf("counters sum %d in %d rows, status packets %d", sum, len(counters), st.Packets)
	}

	var flows []deviceapi.FlowEntry
	d.mustCall(t, "JobResults", &flows, id, map[string]any{"kind": "flows"})
	if len(flows) == 0 || uint64(len(flows)) != st.FlowsExported {
		t.Fatalf("%d flows, status says %d exported", len(flows), st.FlowsExported)
	}
	f := flows[0]
	if f.Proto != 6 || f.Src == "" || f.Dst == "" || f.Packets == 0 || f.RevPackets == 0 ||
		f.EndReason == "" || f.StartMS > f.EndMS || f.Start.Unix() != f.StartMS/1000 {
		t.Errorf("largest flow %+v (biflow expected by default)", f)
	}
	var page []deviceapi.FlowEntry
	d.mustCall(t, "JobResults", &page, id, map[string]any{"kind": "flows", "offset": 1, "limit": 1})
	if len(flows) > 1 && (len(page) != 1 || page[0] != flows[1]) {
		t.Errorf("page offset 1 limit 1 = %+v, want %+v", page, flows[1])
	}

	var files []deviceapi.FileEntry
	d.mustCall(t, "JobResults", &files, id, map[string]any{"kind": "files"})
	if len(files) != 3 {
		t.Fatalf("files = %+v", files)
	}
	for _, fe := range files {
		if fe.URL != "/files/"+id+"/"+fe.Name {
			t.Errorf("url %q", fe.URL)
		}
		req, _ := http.NewRequest(http.MethodGet, d.url+fe.URL, nil)
		req.Header = bearer(testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || int64(len(body)) != fe.Size {
			t.Errorf("GET %s: %d, %d bytes, want 200 and %d", fe.URL, resp.StatusCode, len(body), fe.Size)
		}
		if fe.Name == "packets.pcap" && (len(body) < 4 || (string(body[:4]) != "\xd4\xc3\xb2\xa1" && string(body[:4]) != "\x4d\x3c\xb2\xa1")) {
			t.Errorf("packets.pcap starts with %x", body[:min(4, len(body))])
		}
	}

	for _, tc := range []struct {
		name, path, token string
		want              int
		method            string
	}{
		{"post refused", "/files/" + id + "/flows.ipfix", testToken, http.StatusMethodNotAllowed, http.MethodPost},
		{"head", "/files/" + id + "/flows.ipfix", testToken, http.StatusOK, http.MethodHead},
		{"no token", "/files/" + id + "/flows.ipfix", "", http.StatusUnauthorized, http.MethodGet},
		{"wrong token", "/files/" + id + "/flows.ipfix", "nope", http.StatusForbidden, http.MethodGet},
		{"state file", "/files/" + id + "/job.json", testToken, http.StatusNotFound, http.MethodGet},
		{"unknown job", "/files/0123456789abcdef/flows.ipfix", testToken, http.StatusNotFound, http.MethodGet},
		{"traversal", "/files/" + id + "/..%2fjob.json", testToken, http.StatusNotFound, http.MethodGet},
		{"no name", "/files/" + id, testToken, http.StatusNotFound, http.MethodGet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, d.url+tc.path, nil)
			req.Header = bearer(tc.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("GET %s: %d, want %d", tc.path, resp.StatusCode, tc.want)
			}
		})
	}
}

// TestLifecycle pauses, resumes and stops a slowly replayed file job.
func TestLifecycle(t *testing.T) {
	d := newTestDevice(t)
	var id string
	spec := fullSpec()
	spec["replay_speed"] = 0.0001
	spec["key"] = make([]byte, 32)
	d.mustCall(t, "StartJob", &id, spec)
	steps := []struct {
		method, want string
	}{
		{"PauseJob", "paused"},
		{"ResumeJob", "running"},
		{"PauseJob", "paused"},
		{"StopJob", "done"},
	}
	for _, s := range steps {
		var ok bool
		d.mustCall(t, s.method, &ok, id)
		var st deviceapi.JobStatus
		d.mustCall(t, "JobStatus", &st, id)
		if !ok || st.State != s.want {
			t.Fatalf("after %s: reply %t, state %s, want %s", s.method, ok, st.State, s.want)
		}
	}
}

func TestFaults(t *testing.T) {
	d := newTestDevice(t)
	var done string
	d.mustCall(t, "StartJob", &done, map[string]any{"interface": testPcap, "filter": ""})
	d.waitDone(t, done)

	withSpec := func(k string, v any) map[string]any {
		s := fullSpec()
		s[k] = v
		return s
	}
	cases := []struct {
		name     string
		token    string
		method   string
		args     []any
		code     int
		contains string
	}{
		{"no token", "", "Capabilities", nil, deviceapi.FaultAuth, "Bearer"},
		{"wrong token", "wrong", "Capabilities", nil, deviceapi.FaultAuth, "wrong"},
		{"wrong token introspection", "wrong", "system.listMethods", nil, deviceapi.FaultAuth, ""},
		{"unknown job status", testToken, "JobStatus", []any{"0123456789abcdef"}, deviceapi.FaultNotFound, "0123456789abcdef"},
		{"unknown job stop", testToken, "StopJob", []any{"nope"}, deviceapi.FaultNotFound, ""},
		{"unknown job results", testToken, "JobResults", []any{"nope", map[string]any{"kind": "flows"}}, deviceapi.FaultNotFound, ""},
		{"bad filter", testToken, "StartJob", []any{withSpec("filter", "tcp port ")}, deviceapi.FaultInvalid, "syntax error"},
		{"bad key length", testToken, "StartJob", []any{withSpec("key", make([]byte, 16))}, deviceapi.FaultInvalid, "32 bytes"},
		{"unknown interface", testToken, "StartJob", []any{withSpec("interface", "nosuch0")}, deviceapi.FaultInvalid, "unknown interface"},
		{"unknown file", testToken, "StartJob", []any{withSpec("interface", "file:nosuch.pcap")}, deviceapi.FaultInvalid, "unknown interface"},
		{"bad snaplen", testToken, "StartJob", []any{withSpec("snaplen", -1)}, deviceapi.FaultInvalid, "snaplen"},
		{"unknown member", testToken, "StartJob", []any{withSpec("colour", "red")}, deviceapi.FaultInvalid, "colour"},
		{"wrong type", testToken, "StartJob", []any{withSpec("pcap", "yes")}, deviceapi.FaultInvalid, "pcap"},
		{"collector not allowed", testToken, "StartJob", []any{withSpec("flows", map[string]any{"collector": "udp://192.0.2.1:4739"})},
			deviceapi.FaultAuth, "outside the networks this device exports flows to"},
		{"pause done job", testToken, "PauseJob", []any{done}, deviceapi.FaultState, "done"},
		{"resume done job", testToken, "ResumeJob", []any{done}, deviceapi.FaultState, "done"},
		{"stop done job", testToken, "StopJob", []any{done}, deviceapi.FaultState, "done"},
		{"bad result kind", testToken, "JobResults", []any{done, map[string]any{"kind": "packets"}}, deviceapi.FaultInvalid, "kind"},
		{"bad limit", testToken, "JobResults", []any{done, map[string]any{"kind": "flows", "limit": 10001}}, deviceapi.FaultInvalid, "limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := xmlrpc.Call(ctx, nil, d.url+deviceapi.RPCPath, bearer(tc.token), tc.method, tc.args, nil)
			var f *xmlrpc.Fault
			if !errors.As(err, &f) {
				t.Fatalf("got %v, want fault %d", err, tc.code)
			}
			if f.Code != tc.code || !strings.Contains(f.String, tc.contains) {
				t.Errorf("fault %d %q, want %d containing %q", f.Code, f.String, tc.code, tc.contains)
			}
			if strings.Contains(f.String, testToken) {
				t.Errorf("fault string leaks the token: %q", f.String)
			}
		})
	}
	var list []deviceapi.JobSummary
	d.mustCall(t, "ListJobs", &list)
	if len(list) != 1 {
		t.Errorf("refused StartJob calls left jobs: %+v", list)
	}
}

func TestMulticallNeedsToken(t *testing.T) {
	d := newTestDevice(t)
	calls := []any{map[string]any{"methodName": "ListJobs", "params": []any{}}}
	var out []any
	ctx := context.Background()
	if err := xmlrpc.Call(ctx, nil, d.url+deviceapi.RPCPath, bearer(testToken), "system.multicall", []any{calls}, &out); err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 {
		t.Fatalf("multicall = %v", out)
	}
	if _, ok := out[0].([]any); !ok {
		t.Errorf("multicall with the token = %#v, want a result", out[0])
	}
	err := xmlrpc.Call(ctx, nil, d.url+deviceapi.RPCPath, nil, "system.multicall", []any{calls}, &out)
	var f *xmlrpc.Fault
	if !errors.As(err, &f) || f.Code != deviceapi.FaultAuth {
		t.Errorf("multicall without token: %v", err)
	}
}

func TestBodyLimit(t *testing.T) {
	d := newTestDevice(t)
	big := map[string]any{"interface": testPcap, "filter": strings.Repeat("x", 2<<20)}
	err := d.call(t, "StartJob", nil, big)
	var he *xmlrpc.HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB request: %v, want HTTP 413", err)
	}
}

func TestNewInvalidConfiguration(t *testing.T) {
	jcfg := job.DefaultConfiguration()
	jcfg.DataDir = t.TempDir()
	m, err := job.New(jcfg, job.Dependencies{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		mod  func(*Configuration)
		want string
	}{
		{"no token", func(c *Configuration) { c.Token = "" },
			"invalid device API configuration: Token must be set"},
		{"no version", func(c *Configuration) { c.Version = "" },
			"invalid device API configuration: Version must be set"},
		{"no logger", func(c *Configuration) { c.Logger = nil },
			"invalid device API configuration: Logger must be set"},
		{"zero body", func(c *Configuration) { c.MaxBodyBytes = 0 },
			"invalid device API configuration: MaxBodyBytes must be positive, got 0"},
		{"negative body", func(c *Configuration) { c.MaxBodyBytes = -1 },
			"invalid device API configuration: MaxBodyBytes must be positive, got -1"},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d %s", i, tc.name), func(t *testing.T) {
			cfg := DefaultConfiguration()
			cfg.Token = "secret"
			tc.mod(&cfg)
			if _, err := New(cfg, Dependencies{Jobs: m}); err == nil || err.Error() != tc.want {
				t.Errorf("New() error:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
	cfg := DefaultConfiguration()
	cfg.Token = "secret"
	if _, err := New(cfg, Dependencies{}); err == nil || err.Error() != "device API needs a job manager" {
		t.Errorf("New(nil manager) error = %v", err)
	}
}

// TestPythonClient drives the API from Python's xmlrpc.client with a
// transport that adds the bearer token (testdata/pyclient.py).
func TestPythonClient(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3 is required in CI (make deps installs it): %v", err)
		}
		t.Skipf("python3 not installed (make deps installs it): %v", err)
	}
	d := newTestDevice(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "testdata/pyclient.py", d.url+deviceapi.RPCPath, testPcap)
	cmd.Env = append(os.Environ(), "GIMS_DEVICE_TOKEN="+testToken)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pyclient.py: %v\n%s", err, out)
	}
	if strings.TrimSpace(string(out)) != "OK" {
		t.Errorf("pyclient.py output:\n%s", out)
	}
}
