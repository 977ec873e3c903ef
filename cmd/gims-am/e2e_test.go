package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gimsproject/gims/transform/cryptopan"
	"github.com/gimsproject/gims/xmlrpc"
)

// fileRow is one entry of GetExperimentResults kind files.
type fileRow struct {
	Name string `xmlrpc:"name"`
	Size int64  `xmlrpc:"size"`
	URL  string `xmlrpc:"url"`
}

// counterRow is one entry of kind counters.
type counterRow struct {
	Packets int64 `xmlrpc:"packets"`
	Bytes   int64 `xmlrpc:"bytes"`
	TCP     int64 `xmlrpc:"tcp_packets"`
	UDP     int64 `xmlrpc:"udp_packets"`
	ICMP    int64 `xmlrpc:"icmp_packets"`
	Other   int64 `xmlrpc:"other_packets"`
	// Bytes per protocol class.
	TCPBytes   int64 `xmlrpc:"tcp_bytes"`
	UDPBytes   int64 `xmlrpc:"udp_bytes"`
	ICMPBytes  int64 `xmlrpc:"icmp_bytes"`
	OtherBytes int64 `xmlrpc:"other_bytes"`
}

// flowRow is one entry of kind flows.
type flowRow struct {
	Src        string `xmlrpc:"src"`
	Dst        string `xmlrpc:"dst"`
	Packets    int64  `xmlrpc:"packets"`
	RevPackets int64  `xmlrpc:"rev_packets"`
	Device     string `xmlrpc:"device"`
}

// transitions returns the "from>to" history of an experiment.
func (a *amProc) transitions(t *testing.T, id int64) []string {
	t.Helper()
	var s struct {
		State       string `xmlrpc:"state"`
		Transitions []struct {
			From string `xmlrpc:"from"`
			To   string `xmlrpc:"to"`
			By   string `xmlrpc:"by"`
		} `xmlrpc:"transitions"`
	}
	a.admin(t, "GetExperimentSettings", &s, id)
	var out []string
	for _, x := range s.Transitions {
		out = append(out, x.From+">"+x.To)
	}
	return out
}

// pcapPackets counts the packets of a downloaded pcap.
func pcapPackets(t *testing.T, data []byte) int {
	t.Helper()
	path := filepath.Join(t.TempDir(), "got.pcap")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return tcpdumpCount(t, path, "")
}

// TestLifecycleFileDevice drives a full lifecycle (create → configure →
// start → pause → start → stop) on a file: device, then a second
// experiment to its end, and checks the results against the trace.
func TestLifecycleFileDevice(t *testing.T) {
	t.Parallel()
	c := startCapd(t, "tok-file")
	a := startAM(t)
	a.addDevice(t, "tap1", c)

	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "slow", "devices": []string{"tap1:" + traceIface}})
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"filter": "tcp", "replay_speed": 0.25, "pcap": true,
		"counters": map[string]any{"interval_ms": 200}, "flows": map[string]any{}, "anonymize": map[string]any{"secret": "s3cret-phrase"}})
	var st status
	a.admin(t, "StartExperiment", &st, id)
	if st.State != "running" {
		t.Fatalf("after StartExperiment: state %q", st.State)
	}
	a.waitStatus(t, adminName, adminPass, id, "first packets", func(s status) bool { return s.Packets > 0 })
	a.admin(t, "PauseExperiment", &st, id)
	paused := a.waitStatus(t, adminName, adminPass, id, "paused", func(s status) bool { return s.State == "paused" })
	time.Sleep(700 * time.Millisecond)
	again := a.waitStatus(t, adminName, adminPass, id, "paused", func(s status) bool { return true })
	if again.Packets != paused.Packets {
		t.Errorf("packets grew while paused: %d → %d", paused.Packets, again.Packets)
	}
	a.admin(t, "StartExperiment", &st, id)
	a.admin(t, "StopExperiment", &st, id)
	if st.State != "done" {
		t.Fatalf("after StopExperiment: state %q", st.State)
	}
	want := []string{">instantiated", "instantiated>configured", "configured>running", "running>paused",
		"paused>running", "running>done"}
	if got := a.transitions(t, id); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("transitions = %v, want %v", got, want)
	}
	final := a.waitStatus(t, adminName, adminPass, id, "results pulled", func(s status) bool { return s.ResultsPulled })
	var counters []counterRow
	a.admin(t, "GetExperimentResults", &counters, id, map[string]any{"kind": "counters", "limit": 10000})
	var sum, tcpBytes int64
	for _, r := range counters {
		sum += r.Packets
		tcpBytes += r.TCPBytes
		if r.TCPBytes+r.UDPBytes+r.ICMPBytes+r.OtherBytes != r.Bytes {
			t.Errorf("counter row %+v: bytes per protocol do not add up to bytes", r)
		}
	}
	if sum != final.Packets || final.Packets == 0 {
		t.Errorf("counters sum to %d packets, status says %d", sum, final.Packets)
	}
	if tcpBytes == 0 {
		t.Errorf("counters hold no TCP bytes (filter tcp, %d packets)", sum)
	}
	// The AM handed the devices the key of the secret: flows show the
	// trace's busiest host as Crypto-PAn maps it, never as it is.
	var flows []flowRow
	a.admin(t, "GetExperimentResults", &flows, id, map[string]any{"kind": "flows", "limit": 10000})
	key, err := cryptopan.KeyFromSecret("s3cret-phrase")
	if err != nil {
		t.Fatal(err)
	}
	cp, err := cryptopan.New(key[:])
	if err != nil {
		t.Fatal(err)
	}
	host := netip.MustParseAddr("172.16.11.12")
	anon := cp.AnonymizeAddr(host).String()
	var seen bool
	for _, f := range flows {
		seen = seen || f.Src == anon || f.Dst == anon
		if f.Src == host.String() || f.Dst == host.String() {
			t.Errorf("flow %+v shows the real address", f)
		}
	}
	if !seen {
		t.Errorf("no flow of %s (anonymized %s) in %+v", host, anon, flows)
	}
	var files []fileRow
	a.admin(t, "GetExperimentResults", &files, id, map[string]any{"kind": "files"})
	for _, f := range files {
		if f.Name != "packets.pcap" {
			continue
		}
		code, body := download(t, f.URL, adminName, adminPass)
		if code != 200 || int64(len(body)) != f.Size {
			t.Fatalf("GET %s: HTTP %d, %d bytes (listed %d)", f.URL, code, len(body), f.Size)
		}
		if n := pcapPackets(t, body); int64(n) != final.Packets {
			t.Errorf("the pcap holds %d packets, status says %d", n, final.Packets)
		}
		if code, _ := download(t, f.URL, "", ""); code != 401 {
			t.Errorf("GET without credentials: HTTP %d, want 401", code)
		}
	}

	// A second experiment runs to the end of the trace by itself.
	var id2 int64
	a.admin(t, "CreateExperiment", &id2, map[string]any{"name": "full", "devices": []string{"tap1:" + traceIface}})
	a.admin(t, "ConfigureExperiment", nil, id2, map[string]any{"filter": "tcp or udp", "pcap": true,
		"counters": map[string]any{}, "flows": map[string]any{}})
	a.admin(t, "StartExperiment", nil, id2)
	done := a.waitStatus(t, adminName, adminPass, id2, "done and pulled", func(s status) bool {
		return s.State == "done" && s.ResultsPulled
	})
	wantPackets := tcpdumpCount(t, trace, "tcp or udp")
	if done.Packets != int64(wantPackets) {
		t.Errorf("experiment counted %d packets, tcpdump counts %d with the same filter", done.Packets, wantPackets)
	}
	if last := a.transitions(t, id2); last[len(last)-1] != "running>done" {
		t.Errorf("transitions = %v, want running>done by the manager at the end", last)
	}
	flows = nil
	a.admin(t, "GetExperimentResults", &flows, id2, map[string]any{"kind": "flows", "limit": 10000})
	var flowPackets int64
	for _, f := range flows {
		flowPackets += f.Packets + f.RevPackets
		if f.Device != "tap1" {
			t.Errorf("flow device = %q, want tap1", f.Device)
		}
	}
	if flowPackets != done.Packets || int64(len(flows)) != done.FlowsExported {
		t.Errorf("flows: %d records with %d packets; status: %d flows, %d packets", len(flows), flowPackets,
			done.FlowsExported, done.Packets)
	}
	// The results outlive the device: with the daemon gone, the AM
	// serves its copies.
	c.kill(9)
	var after []flowRow
	a.admin(t, "GetExperimentResults", &after, id2, map[string]any{"kind": "flows", "limit": 10000})
	if len(after) != len(flows) {
		t.Errorf("with the device down: %d flows, want %d", len(after), len(flows))
	}
	a.admin(t, "GetExperimentResults", &files, id2, map[string]any{"kind": "files"})
	if len(files) != 3 {
		t.Errorf("with the device down: files %+v, want counters, flows and pcap", files)
	}
	for _, f := range files {
		if code, body := download(t, f.URL, adminName, adminPass); code != 200 || int64(len(body)) != f.Size {
			t.Errorf("GET %s with the device down: HTTP %d, %d bytes", f.URL, code, len(body))
		}
	}
}

// TestLifecycleLoopback captures live on lo: exactly the datagrams sent
// while running are counted, none while paused.
func TestLifecycleLoopback(t *testing.T) {
	t.Parallel()
	c := startCapd(t, "tok-lo")
	a := startAM(t)
	a.addDevice(t, "lo-tap", c)
	u := newUDPSink(t)
	send := u.send
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "live", "devices": []string{"lo-tap:lo"}})
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"filter": u.filter(),
		"counters": map[string]any{"interval_ms": 100}, "flows": map[string]any{}, "pcap": true})
	a.admin(t, "StartExperiment", nil, id) // the job's capture is open once it returns
	send(50)
	a.waitStatus(t, adminName, adminPass, id, "50 packets", func(s status) bool { return s.Packets == 50 })
	a.admin(t, "PauseExperiment", nil, id)
	send(10)
	// The resume is in effect once StartExperiment returns (the meter
	// judges pauses by packet timestamps).
	a.admin(t, "StartExperiment", nil, id)
	send(20)
	a.waitStatus(t, adminName, adminPass, id, "70 packets", func(s status) bool { return s.Packets >= 70 })
	var st status
	a.admin(t, "StopExperiment", &st, id)
	if st.Packets != 70 || st.State != "done" {
		t.Errorf("after stop: %d packets, state %s; want 70 (the 10 sent while paused not counted), done", st.Packets, st.State)
	}
	var flows []flowRow
	a.admin(t, "GetExperimentResults", &flows, id, map[string]any{"kind": "flows"})
	if len(flows) != 1 || flows[0].Packets != 70 {
		t.Errorf("flows = %+v, want one flow of 70 packets", flows)
	}
}

// TestIllegalTransitions: every transition not in SPEC §2 is fault 2,
// names the state, and changes nothing.
func TestIllegalTransitions(t *testing.T) {
	t.Parallel()
	c := startCapd(t, "tok-ill")
	a := startAM(t)
	a.addDevice(t, "tap1", c)
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "ill", "devices": []string{"tap1:" + traceIface}})
	cfg := map[string]any{"replay_speed": 0.1, "counters": map[string]any{}}
	illegal := map[string][]string{
		"instantiated": {"StartExperiment", "PauseExperiment", "StopExperiment"},
		"configured":   {"PauseExperiment", "StopExperiment"},
		"running":      {"ConfigureExperiment", "StartExperiment"},
		"paused":       {"ConfigureExperiment", "PauseExperiment"},
		"done":         {"ConfigureExperiment", "StartExperiment", "PauseExperiment", "StopExperiment"},
	}
	check := func(state string) {
		t.Helper()
		before := a.transitions(t, id)
		for _, method := range illegal[state] {
			args := []any{id}
			if method == "ConfigureExperiment" {
				args = append(args, cfg)
			}
			err := a.call(adminName, adminPass, method, nil, args...)
			if faultCode(err) != 2 || !strings.Contains(err.Error(), state) {
				t.Errorf("%s in %s: %v, want fault 2 naming %s", method, state, err, state)
			}
		}
		if after := a.transitions(t, id); strings.Join(after, " ") != strings.Join(before, " ") {
			t.Errorf("illegal calls in %s changed the history: %v → %v", state, before, after)
		}
	}
	check("instantiated")
	a.admin(t, "ConfigureExperiment", nil, id, cfg)
	check("configured")
	a.admin(t, "StartExperiment", nil, id)
	check("running")
	a.admin(t, "PauseExperiment", nil, id)
	check("paused")
	a.admin(t, "StopExperiment", nil, id)
	check("done")
}

// TestBadArguments: a bad filter is fault 3 with libpcap's message, and
// so are bad intervals, unknown members and wrong types.
func TestBadArguments(t *testing.T) {
	t.Parallel()
	c := startCapd(t, "tok-bad")
	a := startAM(t)
	a.addDevice(t, "tap1", c)
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "bad", "devices": []string{"tap1:" + traceIface}})
	for _, tc := range []struct {
		name string
		cfg  any
		want string
	}{
		{"filter", map[string]any{"filter": "tcp port"}, "syntax error"},
		{"interval", map[string]any{"counters": map[string]any{"interval_ms": -5}}, "interval_ms"},
		{"timeout", map[string]any{"flows": map[string]any{"idle_timeout_s": -1}}, "idle_timeout_s"},
		{"collector", map[string]any{"flows": map[string]any{"collector": "http://x"}}, "collector"},
		{"storage", map[string]any{"storage": "cloud"}, "storage"},
		{"unknown member", map[string]any{"filtre": "tcp"}, "filtre"},
		{"wrong type", map[string]any{"snaplen": "big"}, "snaplen"},
		{"empty secret", map[string]any{"anonymize": map[string]any{"secret": ""}}, "secret"},
		{"bad payload", map[string]any{"anonymize": map[string]any{"secret": "s", "payload": "cut"}},
			`anonymize payload must be strip, zero or keep, got "cut"`},
		{"bad mac", map[string]any{"anonymize": map[string]any{"secret": "s", "mac": "hash"}},
			`anonymize mac must be keyed, zero or keep, got "hash"`},
		{"payload without anonymization", map[string]any{"anonymize": map[string]any{"payload": "keep"}},
			"payload and mac apply only with anonymization"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := a.call(adminName, adminPass, "ConfigureExperiment", nil, id, tc.cfg)
			if faultCode(err) != 3 || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ConfigureExperiment(%v) = %v, want fault 3 mentioning %q", tc.cfg, err, tc.want)
			}
		})
	}
	if got := a.transitions(t, id); len(got) != 1 {
		t.Errorf("refused configurations were recorded: %v", got)
	}
	for _, tc := range []struct {
		name string
		req  map[string]any
		code int
	}{
		{"unknown device", map[string]any{"name": "x1", "devices": []string{"nope"}}, 1},
		{"unknown interface", map[string]any{"name": "x2", "devices": []string{"tap1:eth99"}}, 3},
		{"no devices", map[string]any{"name": "x3", "devices": []string{}}, 3},
		{"duplicate name", map[string]any{"name": "bad", "devices": []string{"tap1:lo"}}, 6},
		{"bad name", map[string]any{"name": "a/b", "devices": []string{"tap1:lo"}}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := a.call(adminName, adminPass, "CreateExperiment", nil, tc.req); faultCode(err) != tc.code {
				t.Errorf("CreateExperiment(%v) = %v, want fault %d", tc.req, err, tc.code)
			}
		})
	}
}

// deviceJob is one entry of a capture daemon's ListJobs.
type deviceJob struct {
	ID    string `xmlrpc:"id"`
	State string `xmlrpc:"state"`
}

// deviceJobs lists a capture daemon's jobs over its device API.
func deviceJobs(t *testing.T, c *capd) []deviceJob {
	t.Helper()
	var jobs []deviceJob
	h := http.Header{}
	h.Set("Authorization", "Bearer "+c.token)
	if err := xmlrpc.Call(context.Background(), nil, "http://"+c.addr+"/RPC2", h, "ListJobs", nil, &jobs); err != nil {
		t.Fatalf("ListJobs: %v", err)
	}
	return jobs
}

// TestDeviceDownAtStart: with one of two devices down, StartExperiment is
// fault 5 naming it, the other device's job is rolled back, and the
// experiment stays configured.
func TestDeviceDownAtStart(t *testing.T) {
	t.Parallel()
	up := startCapd(t, "tok-up")
	down := startCapd(t, "tok-down")
	a := startAM(t)
	a.addDevice(t, "up", up)
	a.addDevice(t, "down", down)
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "split", "devices": []string{"up:" + traceIface, "down:" + traceIface}})
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"replay_speed": 0.1, "counters": map[string]any{}})
	down.kill(9)
	var st status
	err := a.call(adminName, adminPass, "StartExperiment", &st, id)
	if faultCode(err) != 5 || !strings.Contains(err.Error(), "down") || !strings.Contains(err.Error(), "rolled back on up") {
		t.Fatalf("StartExperiment with a device down = %v, want fault 5 naming it and the rollback", err)
	}
	a.admin(t, "GetExperimentStatus", &st, id)
	if st.State != "configured" {
		t.Errorf("state after the failed start = %s, want configured", st.State)
	}
	if tr := a.transitions(t, id); tr[len(tr)-1] != "instantiated>configured" {
		t.Errorf("a failed start was recorded: %v", tr)
	}
	jobs := deviceJobs(t, up)
	if len(jobs) != 1 {
		t.Errorf("jobs on the device that was up: %+v, want the one started and rolled back", jobs)
	}
	for _, j := range jobs {
		if j.State != "done" {
			t.Errorf("job %s on the device that was up is %s, want done (rolled back)", j.ID, j.State)
		}
	}
}

// TestPythonClient drives a whole experiment from Python's stock
// xmlrpc.client with credentials in the URL.
func TestPythonClient(t *testing.T) {
	t.Parallel()
	c := startCapd(t, "tok-py")
	a := startAM(t)
	host, port, _ := strings.Cut(c.addr, ":")
	cmd := exec.Command("python3", "testdata/drive.py", a.url(adminName, adminPass), host, port, c.token, traceIface)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("drive.py: %v\n%s\nAM log:\n%s", err, stderr.String(), a.logText())
	}
	var got struct {
		State       string   `json:"state"`
		Packets     int      `json:"packets"`
		Flows       int      `json:"flows"`
		Files       []string `json:"files"`
		PcapBytes   int      `json:"pcap_bytes"`
		Fingerprint string   `json:"fingerprint"`
		Fault       int      `json:"bad_filter_fault"`
		Methods     int      `json:"methods"`
		Multicall   []any    `json:"multicall"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("drive.py output %q: %v", out, err)
	}
	if want := tcpdumpCount(t, trace, ""); got.State != "done" || got.Packets != want || got.Flows == 0 ||
		len(got.Files) != 3 || got.PcapBytes == 0 || len(got.Fingerprint) != 8 || got.Fault != 3 || got.Methods < 21 {
		t.Errorf("drive.py = %+v; want done with %d packets, flows, 3 files, a fingerprint, fault 3 for a bad filter, 21+ methods", got, want)
	}
	if strings.Contains(a.logText(), "py-secret-phrase") || strings.Contains(a.logText(), c.token) {
		t.Error("a secret appears in the AM's log")
	}
}

// TestGimsctl runs the command-line client against the real AM.
func TestGimsctl(t *testing.T) {
	t.Parallel()
	c := startCapd(t, "tok-ctl")
	a := startAM(t)
	host, port, _ := strings.Cut(c.addr, ":")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bins["gimsctl"], append([]string{"-url", a.url("", "")}, args...)...)
		cmd.Env = append(os.Environ(), "GIMS_USER="+adminName, "GIMS_PASSWORD="+adminPass, "GIMS_DEVICE_TOKEN="+c.token)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("gimsctl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("add-device", "-name", "tap1", "-hostname", host, "-port", port, "-key-holder", "experimenter")
	id := strings.TrimSpace(run("create-experiment", "-name", "ctl", "-devices", "tap1:"+traceIface))
	run("configure-experiment", id, "-flows", "-counters", "-pcap", "-anonymize-secret", "ctl-secret")
	run("start-experiment", id)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(run("get-experiment-status", id), "done") {
		if time.Now().After(deadline) {
			t.Fatal("experiment not done within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(run("-json", "list-experiments")), &list); err != nil || len(list) != 1 || list[0]["name"] != "ctl" {
		t.Errorf("list-experiments -json = %v (%v)", list, err)
	}
	out := run("get-experiment-results", id, "-kind", "flows")
	if !strings.Contains(out, "SRC") || strings.Count(out, "\n") < 2 {
		t.Errorf("flows table:\n%s", out)
	}
}
