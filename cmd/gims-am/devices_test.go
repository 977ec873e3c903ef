package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gimsproject/gims/internal/daemontest"
)

// deviceRow is the part of ListDevices the tests read.
type deviceRow struct {
	Name         string    `xmlrpc:"name"`
	Pending      bool      `xmlrpc:"pending"`
	Reachable    bool      `xmlrpc:"reachable"`
	LastSeen     time.Time `xmlrpc:"last_seen"`
	LastError    string    `xmlrpc:"last_error"`
	Capabilities *struct {
		Interfaces []struct {
			Name     string `xmlrpc:"name"`
			LinkType string `xmlrpc:"link_type"`
		} `xmlrpc:"interfaces"`
		Transforms []string `xmlrpc:"transforms"`
	} `xmlrpc:"capabilities"`
}

// listDevices returns the devices by name.
func (a *amProc) listDevices(t *testing.T) map[string]deviceRow {
	t.Helper()
	var rows []deviceRow
	a.admin(t, "ListDevices", &rows)
	out := map[string]deviceRow{}
	for _, r := range rows {
		out[r.Name] = r
	}
	return out
}

// TestRegistrationAndRefresh: a daemon started with -register appears
// pending, an admin approves it, its capabilities are fetched, and the
// periodic refresh notices when it goes away.
func TestRegistrationAndRefresh(t *testing.T) {
	t.Parallel()
	a := startAM(t, "-refresh-interval", "300ms")
	a.admin(t, "AddUser", nil, map[string]any{"name": "registrar", "password": "registrar-pw", "role": "experimenter"})
	var act struct {
		Code string `xmlrpc:"code"`
	}
	a.admin(t, "CreateActivation", &act, map[string]any{"expires_s": 600, "uses": 1})
	dir := t.TempDir()
	reg := start(t, bins["gims-capd"], []string{"GIMS_DEVICE_TOKEN=tok-reg", "GIMS_ACTIVATION=" + act.Code}, daemontest.CapdListening,
		"-listen", "127.0.0.1:0", "-data", dir, "-register", a.url("registrar", "registrar-pw"))
	var name string
	deadline := time.Now().Add(20 * time.Second)
	for name == "" {
		for n, d := range a.listDevices(t) {
			if d.Pending {
				name = n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pending device after 20 s; daemon log:\n%s", reg.logText())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A pending device cannot be used, and an approval fetches its
	// capabilities. The registration names the host; reach it on loopback.
	if err := a.call(adminName, adminPass, "CreateExperiment", nil, map[string]any{"name": "early", "devices": []string{name}}); faultCode(err) != 1 {
		t.Errorf("experiment on a pending device: %v, want fault 1", err)
	}
	a.admin(t, "EditDevice", nil, name, map[string]any{"approved": true, "hostname": "127.0.0.1"})
	d := a.listDevices(t)[name]
	if d.Pending || !d.Reachable || d.Capabilities == nil || len(d.Capabilities.Transforms) != 4 {
		t.Fatalf("after approval: %+v", d)
	}
	var caps struct {
		Interfaces []struct {
			Name string `xmlrpc:"name"`
		} `xmlrpc:"interfaces"`
	}
	if err := a.call("registrar", "registrar-pw", "GetDeviceCapabilities", &caps, name); err != nil || len(caps.Interfaces) == 0 {
		t.Errorf("GetDeviceCapabilities as an experimenter = %+v, %v", caps, err)
	}
	// The refresh (every 300 ms) moves last_seen on; dateTime.iso8601 has
	// whole seconds, so that shows within a second or so.
	first := d.LastSeen
	deadline = time.Now().Add(10 * time.Second)
	for d := a.listDevices(t)[name]; !d.LastSeen.After(first); d = a.listDevices(t)[name] {
		if time.Now().After(deadline) {
			t.Fatalf("last_seen not refreshed within 10 s: %v then %v", first, d.LastSeen)
		}
		time.Sleep(100 * time.Millisecond)
	}
	reg.kill(9)
	deadline = time.Now().Add(10 * time.Second)
	for a.listDevices(t)[name].Reachable {
		if time.Now().After(deadline) {
			t.Fatal("a dead device still reachable after 10 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d := a.listDevices(t)[name]; !strings.Contains(d.LastError, "unreachable") {
		t.Errorf("last_error = %q, want it to say unreachable", d.LastError)
	}
	_, metrics := download(t, "http://"+a.addr+"/metrics", adminName, adminPass)
	if !strings.Contains(string(metrics), fmt.Sprintf(`gims_device_up{device=%q} 0`, name)) {
		t.Errorf("/metrics does not show the device down:\n%s", metrics)
	}
}

// TestDeviceAdmin covers AddDevice refusals, EditDevice and DeleteDevice
// with the in-use conflict.
func TestDeviceAdmin(t *testing.T) {
	t.Parallel()
	c := startCapd(t, "tok-adm")
	a := startAM(t)
	host, port, _ := strings.Cut(c.addr, ":")
	var p int
	fmt.Sscan(port, &p)
	for _, tc := range []struct {
		name string
		dev  map[string]any
		code int
	}{
		{"wrong token", map[string]any{"name": "t1", "hostname": host, "port": p, "token": "nope"}, 5},
		{"nobody there", map[string]any{"name": "t2", "hostname": "127.0.0.1", "port": 1, "token": "x"}, 5},
		{"bad port", map[string]any{"name": "t3", "hostname": host, "port": 70000, "token": "x"}, 3},
		{"no token", map[string]any{"name": "t4", "hostname": host, "port": p}, 3},
		{"unknown interface", map[string]any{"name": "t5", "hostname": host, "port": p, "token": c.token, "interfaces": []string{"eth99"}}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := a.call(adminName, adminPass, "AddDevice", nil, tc.dev); faultCode(err) != tc.code {
				t.Errorf("AddDevice(%v) = %v, want fault %d", tc.dev, err, tc.code)
			}
		})
	}
	if n := len(a.listDevices(t)); n != 0 {
		t.Fatalf("refused devices were stored: %d", n)
	}
	a.addDevice(t, "tap1", c)
	if err := a.call(adminName, adminPass, "AddDevice", nil, map[string]any{"name": "tap1", "hostname": host, "port": p, "token": c.token}); faultCode(err) != 6 {
		t.Errorf("duplicate AddDevice = %v, want fault 6", err)
	}
	var edited struct {
		Location string `xmlrpc:"location"`
		Token    string `xmlrpc:"token"`
	}
	a.admin(t, "EditDevice", &edited, "tap1", map[string]any{"location": "rack 2", "interfaces": []string{"lo", traceIface}})
	if edited.Location != "rack 2" || edited.Token != "" {
		t.Errorf("EditDevice = %+v, want the new location and no token", edited)
	}
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "busy", "devices": []string{"tap1"}}) // default: lo
	// A job on lo leaves out the device API's traffic (TCP).
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"counters": map[string]any{}, "filter": "udp"})
	a.admin(t, "StartExperiment", nil, id)
	if err := a.call(adminName, adminPass, "DeleteDevice", nil, "tap1"); faultCode(err) != 6 {
		t.Errorf("DeleteDevice while running = %v, want fault 6", err)
	}
	if err := a.call(adminName, adminPass, "EditDevice", nil, "tap1", map[string]any{"port": 1}); faultCode(err) != 6 {
		t.Errorf("moving a device in use = %v, want fault 6", err)
	}
	a.admin(t, "StopExperiment", nil, id)
	var deleted struct {
		Name     string   `xmlrpc:"name"`
		Location string   `xmlrpc:"location"`
		Ifaces   []string `xmlrpc:"interfaces"`
	}
	a.admin(t, "DeleteDevice", &deleted, "tap1")
	if deleted.Name != "tap1" || deleted.Location != "rack 2" || len(deleted.Ifaces) != 2 {
		t.Errorf("DeleteDevice returned %+v, want the whole record", deleted)
	}
	if err := a.call(adminName, adminPass, "DeleteDevice", nil, "tap1"); faultCode(err) != 1 {
		t.Errorf("DeleteDevice twice = %v, want fault 1", err)
	}
}

// TestDurationAndLocalStorage: duration_s stops a live experiment by
// itself; with storage local the files stay on the device and the AM
// serves them from there.
func TestDurationAndLocalStorage(t *testing.T) {
	t.Parallel()
	c := startCapd(t, "tok-dur")
	a := startAM(t)
	a.addDevice(t, "tap1", c)
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "timed", "devices": []string{"tap1:lo"}})
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"duration_s": 1, "storage": "local",
		"counters": map[string]any{}, "flows": map[string]any{}, "filter": "udp"})
	a.admin(t, "StartExperiment", nil, id)
	began := time.Now()
	st := a.waitStatus(t, adminName, adminPass, id, "done", func(s status) bool { return s.State == "done" })
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("a 1 s experiment took %v to stop", took)
	}
	if st.ElapsedS < 1 || st.ElapsedS > 3 {
		t.Errorf("elapsed_s = %v, want about 1", st.ElapsedS)
	}
	var s struct {
		Transitions []struct {
			To string `xmlrpc:"to"`
			By string `xmlrpc:"by"`
		} `xmlrpc:"transitions"`
	}
	a.admin(t, "GetExperimentSettings", &s, id)
	if last := s.Transitions[len(s.Transitions)-1]; last.To != "done" || last.By != "system" {
		t.Errorf("last transition %+v, want to done by system", last)
	}
	var files []fileRow
	a.admin(t, "GetExperimentResults", &files, id, map[string]any{"kind": "files"})
	if len(files) == 0 {
		t.Fatal("no files listed")
	}
	for _, f := range files {
		if code, body := download(t, f.URL, adminName, adminPass); code != 200 || int64(len(body)) != f.Size {
			t.Errorf("GET %s (from the device): HTTP %d, %d bytes, want %d", f.URL, code, len(body), f.Size)
		}
	}
	if st.ResultsPulled {
		t.Error("storage local, yet results_pulled")
	}
}

// TestRegistrationNeedsActivation is issue 20 finding 6: RegisterDevice
// needs an activation code an admin made (counted uses), and never
// replaces a device of that name, pending or approved, so nobody can put
// their own address under a name an admin is about to approve.
func TestRegistrationNeedsActivation(t *testing.T) {
	t.Parallel()
	c := startCapd(t, "tok-v")
	_, portStr, _ := strings.Cut(c.addr, ":")
	var port int
	fmt.Sscan(portStr, &port)
	a := startAM(t)
	a.admin(t, "AddUser", nil, map[string]any{"name": "bob", "password": "bob-password", "role": "experimenter"})
	type activation struct {
		ID       int64  `xmlrpc:"id"`
		Code     string `xmlrpc:"code"`
		UsesLeft int    `xmlrpc:"uses_left"`
	}
	var two activation
	a.admin(t, "CreateActivation", &two, map[string]any{"expires_s": 600, "uses": 2})
	if !strings.HasPrefix(two.Code, "gims-act-") || two.UsesLeft != 2 {
		t.Fatalf("CreateActivation = %+v", two)
	}
	reg := func(user, pass, name string, port int, token, code string) error {
		return a.call(user, pass, "RegisterDevice", nil, map[string]any{"name": name, "hostname": "127.0.0.1",
			"port": port, "token": token, "activation": code})
	}
	if err := reg("bob", "bob-password", "victim", port, "tok-v", ""); faultCode(err) != 4 {
		t.Errorf("RegisterDevice without a code = %v, want fault 4", err)
	}
	if err := reg("bob", "bob-password", "victim", port, "tok-v", "gims-act-guessed"); faultCode(err) != 4 {
		t.Errorf("RegisterDevice with a made-up code = %v, want fault 4", err)
	}
	if err := reg("bob", "bob-password", "victim", port, "tok-v", two.Code); err != nil {
		t.Fatalf("RegisterDevice with the code: %v", err)
	}
	// The same registration again (a restarted daemon) is accepted and
	// uses nothing; another address or token under that name is fault 6,
	// pending or approved, even with a valid code.
	if err := reg("bob", "bob-password", "victim", port, "tok-v", two.Code); err != nil {
		t.Errorf("the same registration again: %v", err)
	}
	if err := reg("bob", "bob-password", "victim", 4444, "tok-attacker", two.Code); faultCode(err) != 6 {
		t.Errorf("re-registering a pending name elsewhere = %v, want fault 6", err)
	}
	a.admin(t, "EditDevice", nil, "victim", map[string]any{"approved": true})
	if err := reg(adminName, adminPass, "victim", 4444, "tok-attacker", two.Code); faultCode(err) != 6 {
		t.Errorf("re-registering an approved name elsewhere = %v, want fault 6", err)
	}
	var devs []struct {
		Name string `xmlrpc:"name"`
		Port int    `xmlrpc:"port"`
	}
	a.admin(t, "ListDevices", &devs)
	if len(devs) != 1 || devs[0].Port != port {
		t.Errorf("devices after the refused registrations: %+v", devs)
	}
	// One use left: one more registration, then the code is spent.
	var list []map[string]any
	a.admin(t, "ListActivations", &list)
	if len(list) != 1 || fmt.Sprint(list[0]["uses_left"]) != "1" || list[0]["code"] != nil {
		t.Errorf("ListActivations = %v, want one activation with one use left and no code", list)
	}
	if err := reg("bob", "bob-password", "second", 10, "tok-2", two.Code); err != nil {
		t.Fatalf("second registration: %v", err)
	}
	if err := reg("bob", "bob-password", "third", 11, "tok-3", two.Code); faultCode(err) != 4 {
		t.Errorf("registration with a spent code = %v, want fault 4", err)
	}
	a.admin(t, "ListActivations", &list)
	if len(list) != 0 {
		t.Errorf("ListActivations after the code was spent = %v", list)
	}
	// Only admins make codes; bounds are checked.
	if err := a.call("bob", "bob-password", "CreateActivation", nil, map[string]any{}); faultCode(err) != 4 {
		t.Errorf("CreateActivation as an experimenter = %v, want fault 4", err)
	}
	for _, bad := range []map[string]any{{"expires_s": -1}, {"uses": 100000}, {"expires_s": 365 * 86400}} {
		if err := a.call(adminName, adminPass, "CreateActivation", nil, bad); faultCode(err) != 3 {
			t.Errorf("CreateActivation(%v) = %v, want fault 3", bad, err)
		}
	}
	// A revoked code no longer works.
	var rev activation
	a.admin(t, "CreateActivation", &rev, map[string]any{})
	a.admin(t, "DeleteActivation", nil, rev.ID)
	if err := reg("bob", "bob-password", "fourth", 12, "tok-4", rev.Code); faultCode(err) != 4 {
		t.Errorf("registration with a revoked code = %v, want fault 4", err)
	}
	if strings.Contains(a.logText(), two.Code) || strings.Contains(a.logText(), rev.Code) {
		t.Error("an activation code appears in the AM's log")
	}
}
