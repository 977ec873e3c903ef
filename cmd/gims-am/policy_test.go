package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// policyRule is one row of testdata/policy_rules.json: a device policy
// (over openPolicy) that refuses the configuration refused with message,
// and allows allowed (under allowed_policy when given).
type policyRule struct {
	Rule          string         `json:"rule"`
	Policy        map[string]any `json:"policy"`
	Refused       map[string]any `json:"refused"`
	Allowed       map[string]any `json:"allowed"`
	AllowedPolicy map[string]any `json:"allowed_policy"`
	Message       string         `json:"message"`
}

// policyRules reads testdata/policy_rules.json, the table the Go and the
// Python tests share.
func policyRules(t *testing.T) []policyRule {
	t.Helper()
	b, err := os.ReadFile("testdata/policy_rules.json")
	if err != nil {
		t.Fatal(err)
	}
	var rules []policyRule
	if err := json.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		for _, m := range []map[string]any{r.Policy, r.Refused, r.Allowed, r.AllowedPolicy} {
			ints(m)
		}
	}
	return rules
}

// ints turns the whole numbers JSON decoded as float64 into ints, which
// XML-RPC sends as <int> (the AM wants ints where it says int).
func ints(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case float64:
			if x == float64(int(x)) {
				m[k] = int(x)
			}
		case map[string]any:
			ints(x)
		}
	}
}

// over is openPolicy with the members of p.
func over(p map[string]any) map[string]any {
	out := openPolicy()
	maps.Copy(out, p)
	return out
}

// wantPolicyFault checks that err is fault 4 with want in its message.
func wantPolicyFault(t *testing.T, what string, err error, want string) {
	t.Helper()
	if faultCode(err) != 4 || !strings.Contains(err.Error(), want) {
		t.Errorf("%s = %v; want fault 4 saying %q", what, err, want)
	}
}

// TestDevicePolicyRules checks every rule of the device policy (SPEC §9)
// at CreateExperiment, ConfigureExperiment and StartExperiment, refused
// (fault 4 naming the device and the rule) and allowed, with real
// processes; admins are held to the rules too, and see every device.
func TestDevicePolicyRules(t *testing.T) {
	t.Parallel()
	c := startCapd(t, "tok-policy")
	a := startAM(t)
	host, port, _ := strings.Cut(c.addr, ":")
	var p int
	for _, ch := range port {
		p = p*10 + int(ch-'0')
	}
	// No policy given: the safe defaults.
	var info struct {
		Policy struct {
			Users                []string `xmlrpc:"users"`
			RequireAnonymization bool     `xmlrpc:"require_anonymization"`
			Payload              string   `xmlrpc:"payload"`
			Outputs              []string `xmlrpc:"outputs"`
			KeyHolder            string   `xmlrpc:"key_holder"`
		} `xmlrpc:"policy"`
	}
	a.admin(t, "AddDevice", &info, map[string]any{"name": "tap1", "hostname": host, "port": p, "token": c.token})
	if d := info.Policy; strings.Join(d.Users, ",") != "*" || !d.RequireAnonymization || d.Payload != "strip" ||
		strings.Join(d.Outputs, ",") != "counters,flows,pcap" || d.KeyHolder != "operator" {
		t.Errorf("default policy %+v, want SPEC §9's", d)
	}
	for _, u := range []string{"alice", "bob"} {
		a.admin(t, "AddUser", nil, map[string]any{"name": u, "password": u + "-password", "role": "experimenter"})
	}
	// The operator-held key the rules' allowed configurations use.
	a.admin(t, "CreateKey", nil, map[string]any{"name": "policy-key", "users": []string{"*"}})
	setPolicyOf := func(t *testing.T, pol map[string]any) {
		t.Helper()
		a.admin(t, "EditDevice", nil, "tap1", map[string]any{"policy": pol})
	}
	setPolicy := func(pol map[string]any) { t.Helper(); setPolicyOf(t, pol) }
	as := func(user string) (string, string) { return user, user + "-password" }
	create := func(user, name string) (int64, error) {
		var id int64
		u, pw := as(user)
		err := a.call(u, pw, "CreateExperiment", &id, map[string]any{"name": name, "devices": []string{"tap1:" + traceIface}})
		return id, err
	}
	state := func(id int64) string {
		var s struct {
			State string `xmlrpc:"state"`
		}
		a.admin(t, "GetExperimentSettings", &s, id)
		return s.State
	}

	// CreateExperiment: users.
	setPolicy(over(map[string]any{"users": []string{"bob"}}))
	if _, err := create("alice", "refused"); true {
		wantPolicyFault(t, "alice's CreateExperiment on bob's device", err, "device tap1: policy does not allow user alice")
	}
	if _, err := create("bob", "bobs"); err != nil {
		t.Errorf("bob's CreateExperiment: %v", err)
	}
	// The caller's view: alice is refused the capabilities; bob sees the
	// policy as it applies to him; the admin sees every user.
	if err := a.call("alice", "alice-password", "GetDeviceCapabilities", nil, "tap1"); true {
		wantPolicyFault(t, "alice's GetDeviceCapabilities", err, "policy does not allow user alice")
	}
	var caps struct {
		Policy *struct {
			Users []string `xmlrpc:"users"`
		} `xmlrpc:"policy"`
		DevicePolicy *struct {
			Payload string `xmlrpc:"payload"`
		} `xmlrpc:"device_policy"`
	}
	if err := a.call("bob", "bob-password", "GetDeviceCapabilities", &caps, "tap1"); err != nil || caps.Policy == nil ||
		strings.Join(caps.Policy.Users, ",") != "bob" || caps.DevicePolicy == nil || caps.DevicePolicy.Payload != "keep" {
		t.Errorf("bob's GetDeviceCapabilities: %v, policy %+v, device_policy %+v; want users [bob] and the daemon's own (payload keep)",
			err, caps.Policy, caps.DevicePolicy)
	}
	setPolicy(over(map[string]any{"users": []string{"bob", "carol"}}))
	a.admin(t, "GetDeviceCapabilities", &caps, "tap1")
	if caps.Policy == nil || strings.Join(caps.Policy.Users, ",") != "bob,carol" {
		t.Errorf("the admin's GetDeviceCapabilities policy %+v, want users bob, carol", caps.Policy)
	}

	for i, r := range policyRules(t) {
		t.Run(r.Rule, func(t *testing.T) {
			// ConfigureExperiment: refused, then allowed.
			setPolicyOf(t, openPolicy())
			id, err := create("alice", "configure-"+string(rune('a'+i)))
			if err != nil {
				t.Fatal(err)
			}
			setPolicyOf(t, over(r.Policy))
			if err := a.call("alice", "alice-password", "ConfigureExperiment", nil, id, r.Refused); true {
				wantPolicyFault(t, "ConfigureExperiment", err, r.Message)
			}
			if s := state(id); s != "instantiated" {
				t.Errorf("refused configuration left the experiment %s", s)
			}
			if r.AllowedPolicy != nil {
				setPolicyOf(t, over(r.AllowedPolicy))
			}
			if err := a.call("alice", "alice-password", "ConfigureExperiment", nil, id, r.Allowed); err != nil {
				t.Errorf("allowed ConfigureExperiment: %v", err)
			}
			// StartExperiment: configured under an open policy, refused
			// after the policy changed.
			setPolicyOf(t, openPolicy())
			if err := a.call("alice", "alice-password", "ConfigureExperiment", nil, id, r.Refused); err != nil {
				t.Fatalf("ConfigureExperiment under the open policy: %v", err)
			}
			setPolicyOf(t, over(r.Policy))
			if err := a.call("alice", "alice-password", "StartExperiment", nil, id); true {
				wantPolicyFault(t, "StartExperiment after the policy changed", err, r.Message)
			}
			if s := state(id); s != "configured" {
				t.Errorf("refused start left the experiment %s", s)
			}
		})
	}

	// The default policy with an operator-held key: configured and
	// started (the start checks the stored configuration's key, not a
	// secret).
	setPolicy(map[string]any{"users": []string{"*"}, "require_anonymization": true, "payload": "strip",
		"outputs": []string{"counters", "flows", "pcap"}, "max_snaplen": 0, "max_duration_s": 0, "max_storage_bytes": 0,
		"key_holder": "operator"})
	keyed, err := create("alice", "keyed")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.call("alice", "alice-password", "ConfigureExperiment", nil, keyed, map[string]any{"pcap": true, "counters": map[string]any{},
		"anonymize": map[string]any{"key": "policy-key"}}); err != nil {
		t.Fatalf("ConfigureExperiment with an operator-held key under the default policy: %v", err)
	}
	if err := a.call("alice", "alice-password", "StartExperiment", nil, keyed); err != nil {
		t.Errorf("StartExperiment with an operator-held key under the default policy: %v", err)
	}
	a.waitStatus(t, "alice", "alice-password", keyed, "done", func(s status) bool { return s.State == "done" })

	// Admins are held to the rules of the link too.
	setPolicy(over(map[string]any{"require_anonymization": true}))
	var id int64
	a.admin(t, "CreateExperiment", &id, map[string]any{"name": "admins", "devices": []string{"tap1:" + traceIface}})
	if err := a.call(adminName, adminPass, "ConfigureExperiment", nil, id, map[string]any{"counters": map[string]any{}}); true {
		wantPolicyFault(t, "the admin's ConfigureExperiment", err, "device tap1: policy requires anonymization")
	}

	// The policy's max_storage_bytes reaches the device: the job stops
	// itself there.
	setPolicy(over(map[string]any{"max_storage_bytes": 4096}))
	a.admin(t, "ConfigureExperiment", nil, id, map[string]any{"pcap": true})
	a.admin(t, "StartExperiment", nil, id)
	st := a.waitStatus(t, adminName, adminPass, id, "done", func(s status) bool { return s.State == "done" })
	if !strings.Contains(strings.Join(st.Errors, "\n"), "max_storage_bytes") {
		t.Errorf("status errors %q; want the device's stop at max_storage_bytes", st.Errors)
	}

	// Bad policies are fault 3 naming the member.
	for member, v := range map[string]any{"payload": "all", "key_holder": "nobody", "outputs": []string{"pcapng"},
		"max_snaplen": -1, "users": []string{}} {
		err := a.call(adminName, adminPass, "EditDevice", nil, "tap1", map[string]any{"policy": map[string]any{member: v}})
		if faultCode(err) != 3 || !strings.Contains(err.Error(), member) {
			t.Errorf("EditDevice policy %s %v = %v; want fault 3 naming it", member, v, err)
		}
	}
	if err := a.call(adminName, adminPass, "EditDevice", nil, "tap1", map[string]any{"policy": map[string]any{"payloads": "keep"}}); faultCode(err) != 3 {
		t.Errorf("EditDevice with an unknown policy member = %v, want fault 3", err)
	}
}

// TestDevicePolicyPython drives the policy from Python's xmlrpc.client:
// every rule of testdata/policy_rules.json refused and allowed, and a
// gims-capd -policy stricter than the AM's: the AM allows, the daemon
// refuses, and the AM reports the device's refusal.
func TestDevicePolicyPython(t *testing.T) {
	t.Parallel()
	c := startCapd(t, "tok-policy-py")
	strictFile := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(strictFile, []byte(`{"require_anonymization": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	strict := startCapdIn(t, t.TempDir(), "", "tok-strict", "-policy", strictFile)
	a := startAM(t)
	a.admin(t, "AddUser", nil, map[string]any{"name": "alice", "password": "alice-password", "role": "experimenter"})
	a.admin(t, "CreateKey", nil, map[string]any{"name": "policy-key", "users": []string{"*"}})
	cmd := exec.Command("python3", "testdata/policy.py", a.url(adminName, adminPass), a.url("alice", "alice-password"),
		c.addr, c.token, strict.addr, strict.token, traceIface)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("policy.py: %v\n%s\nAM log:\n%s", err, stderr.String(), a.logText())
	}
	var got struct {
		Refused       int    `json:"refused"`
		Allowed       int    `json:"allowed"`
		DeviceRefusal string `json:"device_refusal"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("policy.py output %q: %v", stdout.String(), err)
	}
	if n := len(policyRules(t)); got.Refused != n || got.Allowed != n {
		t.Errorf("policy.py checked %d refused and %d allowed, want %d each", got.Refused, got.Allowed, n)
	}
	if !strings.Contains(got.DeviceRefusal, "device tap2 refused") || !strings.Contains(got.DeviceRefusal, "anonymization is required") {
		t.Errorf("the daemon's refusal as the AM reports it: %q", got.DeviceRefusal)
	}
}

// TestDevicePolicyGimsctl checks every rule of testdata/policy_rules.json
// through gimsctl, refused (exit 1 with the fault's message) and
// allowed: the admin sets the policy with edit-device -policy-json and
// a flag, alice configures with gimsctl call.
func TestDevicePolicyGimsctl(t *testing.T) {
	t.Parallel()
	c := startCapd(t, "tok-policy-ctl")
	a := startAM(t)
	host, port, _ := strings.Cut(c.addr, ":")
	a.admin(t, "AddUser", nil, map[string]any{"name": "alice", "password": "alice-password", "role": "experimenter"})
	a.admin(t, "CreateKey", nil, map[string]any{"name": "policy-key", "users": []string{"*"}})
	ctl := func(user, pass string, args ...string) (string, error) {
		cmd := exec.Command(bins["gimsctl"], append([]string{"-url", a.url("", "")}, args...)...)
		cmd.Env = append(os.Environ(), "GIMS_USER="+user, "GIMS_PASSWORD="+pass, "GIMS_DEVICE_TOKEN="+c.token)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	admin := func(args ...string) string {
		t.Helper()
		out, err := ctl(adminName, adminPass, args...)
		if err != nil {
			t.Fatalf("gimsctl %v: %v\n%s", args, err, out)
		}
		return out
	}
	out := admin("add-device", "-name", "tap1", "-hostname", host, "-port", port, "-max-snaplen", "512")
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{"policy require anonymization: yes", "policy max payload: strip", "policy max snaplen: 512",
		"policy key holder: operator"} {
		if !strings.Contains(flat, want) {
			t.Errorf("add-device output lacks %q:\n%s", want, out)
		}
	}
	policyJSON := func(p map[string]any) string {
		b, err := json.Marshal(over(p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cfgJSON := func(m map[string]any) string {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for i, r := range policyRules(t) {
		admin("edit-device", "tap1", "-policy-json", policyJSON(nil))
		out, err := ctl("alice", "alice-password", "create-experiment", "-name", fmt.Sprintf("ctl-%d", i), "-devices", "tap1:"+traceIface)
		if err != nil {
			t.Fatalf("create-experiment: %v\n%s", err, out)
		}
		id := strings.TrimSpace(out)
		// -require-anonymization given as a flag overrides the JSON.
		anon := "-require-anonymization=false"
		if v, ok := r.Policy["require_anonymization"].(bool); ok && v {
			anon = "-require-anonymization=true"
		}
		admin("edit-device", "tap1", "-policy-json", policyJSON(r.Policy), anon)
		out, err = ctl("alice", "alice-password", "call", "ConfigureExperiment", id, cfgJSON(r.Refused))
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(out, "ConfigureExperiment: fault 4: ") || !strings.Contains(out, r.Message) {
			t.Errorf("%s: gimsctl call ConfigureExperiment (refused) = %v:\n%s\nwant exit 1 with fault 4 %q", r.Rule, err, out, r.Message)
		}
		if r.AllowedPolicy != nil {
			admin("edit-device", "tap1", "-policy-json", policyJSON(r.AllowedPolicy))
		}
		if out, err := ctl("alice", "alice-password", "call", "ConfigureExperiment", id, cfgJSON(r.Allowed)); err != nil {
			t.Errorf("%s: gimsctl call ConfigureExperiment (allowed): %v\n%s", r.Rule, err, out)
		}
	}
	if out := admin("list-devices"); !strings.Contains(out, "POLICY") || !strings.Contains(out, "users *") {
		t.Errorf("list-devices shows no policy:\n%s", out)
	}
}
