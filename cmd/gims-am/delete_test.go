package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// auditRow is one entry of GetAuditLog.
type auditRow struct {
	At     time.Time `xmlrpc:"at"`
	User   string    `xmlrpc:"user"`
	Remote string    `xmlrpc:"remote"`
	Method string    `xmlrpc:"method"`
	Target string    `xmlrpc:"target"`
	Result string    `xmlrpc:"result"`
}

// jobDirs lists the job folders of a capture daemon keeping its jobs in
// dir/data.
func jobDirs(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "data", "jobs"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// filesUnder counts the regular files under dir (0 when it is gone).
func filesUnder(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			n++
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return n
}

// TestDeleteAndAudit drives an experiment through its life as an
// experimenter, deletes it (refused while running, refused to another
// experimenter) and checks that every file is gone on the AM and on the
// device, then that the audit log lists each step with its user, address
// and result, and is for admins only (also from Python's xmlrpc.client).
func TestDeleteAndAudit(t *testing.T) {
	t.Parallel()
	capdDir := t.TempDir()
	c := startCapdIn(t, capdDir, "", "tok-del")
	a := startAM(t)
	a.addDevice(t, "tap1", c)
	for _, u := range []string{"alice", "bob"} {
		a.admin(t, "AddUser", nil, map[string]any{"name": u, "password": u + "-password", "role": "experimenter"})
	}
	alice := func(method string, reply any, args ...any) error {
		return a.call("alice", "alice-password", method, reply, args...)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%v\nAM log:\n%s", err, a.logText())
		}
	}
	var id int64
	must(alice("CreateExperiment", &id, map[string]any{"name": "gone", "devices": []string{"tap1:" + traceIface}}))
	must(alice("ConfigureExperiment", nil, id, map[string]any{"filter": "", "replay_speed": 0.05, "pcap": true,
		"storage": "remote", "counters": map[string]any{"interval_ms": 200}, "flows": map[string]any{}}))
	must(alice("StartExperiment", nil, id))
	a.waitStatus(t, "alice", "alice-password", id, "first packets", func(s status) bool { return s.Packets > 0 })
	if err := alice("DeleteExperiment", nil, id); faultCode(err) != 2 {
		t.Fatalf("DeleteExperiment while running = %v, want fault 2", err)
	}
	must(alice("StopExperiment", nil, id))
	a.waitStatus(t, "alice", "alice-password", id, "results pulled", func(s status) bool { return s.ResultsPulled })

	amFiles := filepath.Join(a.dir, "data", "experiments", strconv.FormatInt(id, 10))
	// counters.csv, flows.ipfix, packets.pcap and the flow store the pull
	// fed (flows.db and its column file, flows.db.cols).
	if n := filesUnder(t, amFiles); n != 5 {
		t.Fatalf("the AM holds %d files of experiment %d, want 5", n, id)
	}
	for _, f := range []string{"flows.db", "flows.db.cols"} {
		if _, err := os.Stat(filepath.Join(amFiles, f)); err != nil {
			t.Fatalf("no flow store: %v", err)
		}
	}
	jobs := jobDirs(t, capdDir)
	if len(jobs) != 1 || filesUnder(t, filepath.Join(capdDir, "data", "jobs", jobs[0])) < 4 {
		t.Fatalf("device jobs %v, want one with its files and job.json", jobs)
	}
	if err := a.call("bob", "bob-password", "DeleteExperiment", nil, id); faultCode(err) != 1 {
		t.Fatalf("DeleteExperiment by another experimenter = %v, want fault 1", err)
	}
	var ok bool
	must(alice("DeleteExperiment", &ok, id))
	if !ok {
		t.Error("DeleteExperiment = false")
	}
	if n := filesUnder(t, amFiles); n != 0 {
		t.Errorf("the AM still holds %d files of experiment %d", n, id)
	}
	if _, err := os.Stat(amFiles); !os.IsNotExist(err) {
		t.Errorf("%s: %v, want gone", amFiles, err)
	}
	if jobs := jobDirs(t, capdDir); len(jobs) != 0 {
		t.Errorf("device still holds jobs %v", jobs)
	}
	var list []struct {
		ID int64 `xmlrpc:"id"`
	}
	a.admin(t, "ListExperiments", &list)
	if len(list) != 0 {
		t.Errorf("ListExperiments = %+v after the delete", list)
	}
	if err := alice("GetExperimentStatus", nil, id); faultCode(err) != 1 {
		t.Errorf("GetExperimentStatus of a deleted experiment = %v, want fault 1", err)
	}
	if err := alice("DeleteExperiment", nil, id); faultCode(err) != 1 {
		t.Errorf("DeleteExperiment again = %v, want fault 1", err)
	}

	// The audit log: admins only.
	if err := alice("GetAuditLog", nil, map[string]any{}); faultCode(err) != 4 {
		t.Errorf("GetAuditLog by an experimenter = %v, want fault 4", err)
	}
	var log []auditRow
	a.admin(t, "GetAuditLog", &log, map[string]any{"user": "alice"})
	target := strconv.FormatInt(id, 10)
	want := []string{
		"CreateExperiment gone ok",
		"ConfigureExperiment " + target + " ok",
		"StartExperiment " + target + " ok",
		"DeleteExperiment " + target + " fault 2",
		"StopExperiment " + target + " ok",
		"DeleteExperiment " + target + " ok",
		"DeleteExperiment " + target + " fault 1",
	}
	var got []string
	for i := len(log) - 1; i >= 0; i-- { // newest first
		e := log[i]
		if e.User != "alice" || e.Remote != "127.0.0.1" || e.At.IsZero() || time.Since(e.At) > time.Hour {
			t.Errorf("audit entry %+v", e)
		}
		r := e.Result
		if strings.HasPrefix(r, "fault ") {
			r, _, _ = strings.Cut(r, ":")
		}
		got = append(got, e.Method+" "+e.Target+" "+r)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("alice's audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var all []auditRow
	a.admin(t, "GetAuditLog", &all, map[string]any{"limit": 10000})
	seen := map[string]bool{}
	for _, e := range all {
		seen[e.User+" "+e.Method+" "+e.Target+" "+e.Result] = true
		if strings.Contains(e.Result, "password") || strings.Contains(e.Result, c.token) {
			t.Errorf("audit entry %+v holds a secret", e)
		}
	}
	for _, w := range []string{"admin AddDevice tap1 ok", "admin AddUser alice ok", "admin AddUser bob ok"} {
		if !seen[w] {
			t.Errorf("no audit entry %q in %+v", w, all)
		}
	}
	var refused bool
	for _, e := range all {
		refused = refused || (e.User == "bob" && e.Method == "DeleteExperiment" && strings.HasPrefix(e.Result, "fault 1:"))
	}
	if !refused {
		t.Errorf("bob's refused DeleteExperiment is not in the audit log %+v", all)
	}
	if err := a.call(adminName, adminPass, "GetAuditLog", nil, map[string]any{"limit": 10001}); faultCode(err) != 3 {
		t.Errorf("GetAuditLog limit 10001 = %v, want fault 3", err)
	}

	// Python's stock client reads it too, newest first, and the refusal
	// an experimenter gets is fault 4.
	script := `
import json, sys, xmlrpc.client
admin = xmlrpc.client.ServerProxy(sys.argv[1])
log = admin.GetAuditLog({"user": "alice", "limit": 2})
fault = 0
try:
    xmlrpc.client.ServerProxy(sys.argv[2]).GetAuditLog({})
except xmlrpc.client.Fault as f:
    fault = f.faultCode
print(json.dumps({"methods": [e["method"] for e in log], "fault": fault}))
`
	out, err := exec.Command("python3", "-c", script, a.url(adminName, adminPass), a.url("alice", "alice-password")).Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var py struct {
		Methods []string `json:"methods"`
		Fault   int      `json:"fault"`
	}
	if err := json.Unmarshal(out, &py); err != nil {
		t.Fatalf("python output %q: %v", out, err)
	}
	if strings.Join(py.Methods, ",") != "DeleteExperiment,DeleteExperiment" || py.Fault != 4 {
		t.Errorf("python = %+v, want the two last DeleteExperiment and fault 4", py)
	}
}

// TestRetention: with -retention, a done experiment's status says when
// its files expire, and then they are gone on the AM and on the device,
// while the record stays.
func TestRetention(t *testing.T) {
	t.Parallel()
	capdDir := t.TempDir()
	c := startCapdIn(t, capdDir, "", "tok-ret")
	a := startAM(t, "-retention", "4s")
	a.addDevice(t, "tap1", c)
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "short", "devices": []string{"tap1:" + traceIface}})
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"filter": "", "pcap": true, "storage": "remote",
		"counters": map[string]any{}, "flows": map[string]any{}})
	a.admin(t, "StartExperiment", nil, id)
	a.waitStatus(t, adminName, adminPass, id, "results pulled", func(s status) bool { return s.State == "done" && s.ResultsPulled })
	var st struct {
		State        string    `xmlrpc:"state"`
		Expires      time.Time `xmlrpc:"expires"`
		FilesExpired bool      `xmlrpc:"files_expired"`
		Packets      int64     `xmlrpc:"packets"`
	}
	a.admin(t, "GetExperimentStatus", &st, id)
	if st.FilesExpired || st.Expires.IsZero() || time.Until(st.Expires) > 5*time.Second {
		t.Fatalf("status %+v: want expires within 4 s, not yet expired", st)
	}
	amFiles := filepath.Join(a.dir, "data", "experiments", strconv.FormatInt(id, 10))
	if n := filesUnder(t, amFiles); n != 5 { // with the flow store, flows.db and flows.db.cols
		t.Errorf("the AM holds %d files before the expiry, want 5", n)
	}
	if jobs := jobDirs(t, capdDir); len(jobs) != 1 {
		t.Errorf("device jobs %v before the expiry, want one", jobs)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !st.FilesExpired {
		if time.Now().After(deadline) {
			t.Fatalf("files not expired within 30 s: %+v\nAM log:\n%s", st, a.logText())
		}
		time.Sleep(200 * time.Millisecond)
		a.admin(t, "GetExperimentStatus", &st, id)
	}
	if st.State != "done" || st.Packets == 0 {
		t.Errorf("status after the expiry %+v: want done with its counters", st)
	}
	if n := filesUnder(t, amFiles); n != 0 {
		t.Errorf("the AM still holds %d files", n)
	}
	if jobs := jobDirs(t, capdDir); len(jobs) != 0 {
		t.Errorf("device still holds jobs %v", jobs)
	}
	var log []auditRow
	a.admin(t, "GetAuditLog", &log, map[string]any{"user": "system", "limit": 1})
	if len(log) != 1 || log[0].Method != "Retention" || log[0].Target != strconv.FormatInt(id, 10) || log[0].Result != "ok" {
		t.Errorf("audit log of the retention = %+v", log)
	}
}

// TestDeleteWithDeviceDown: a device that does not answer leaves the
// record (fault 5 naming the device) but not the AM's copies; once it is
// back, DeleteExperiment again removes its files and the record.
func TestDeleteWithDeviceDown(t *testing.T) {
	t.Parallel()
	capdDir := t.TempDir()
	c := startCapdIn(t, capdDir, "", "tok-deldown")
	a := startAM(t, "-device-timeout", "2s")
	a.addDevice(t, "tap1", c)
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "down", "devices": []string{"tap1:" + traceIface}})
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"filter": "", "pcap": true, "storage": "remote"})
	a.admin(t, "StartExperiment", nil, id)
	a.waitStatus(t, adminName, adminPass, id, "results pulled", func(s status) bool { return s.State == "done" && s.ResultsPulled })
	amFiles := filepath.Join(a.dir, "data", "experiments", strconv.FormatInt(id, 10))
	if n := filesUnder(t, amFiles); n == 0 {
		t.Fatal("the AM holds no copy before the delete")
	}
	c.kill(syscall.SIGKILL)
	err := a.call(adminName, adminPass, "DeleteExperiment", nil, id)
	if faultCode(err) != 5 || !strings.Contains(err.Error(), "tap1") {
		t.Fatalf("DeleteExperiment with the device down = %v, want fault 5 naming tap1", err)
	}
	if n := filesUnder(t, amFiles); n != 0 {
		t.Errorf("the AM still holds %d files", n)
	}
	if jobs := jobDirs(t, capdDir); len(jobs) != 1 {
		t.Fatalf("device jobs %v, want the one left", jobs)
	}
	var st status
	a.admin(t, "GetExperimentStatus", &st, id) // the record stays
	startCapdIn(t, capdDir, c.addr, "tok-deldown")
	a.admin(t, "DeleteExperiment", nil, id)
	if jobs := jobDirs(t, capdDir); len(jobs) != 0 {
		t.Errorf("device still holds jobs %v", jobs)
	}
	if err := a.call(adminName, adminPass, "GetExperimentStatus", nil, id); faultCode(err) != 1 {
		t.Errorf("GetExperimentStatus after the delete = %v, want fault 1", err)
	}
}
