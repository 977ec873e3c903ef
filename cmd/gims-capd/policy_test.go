package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/xmlrpc"
)

// writePolicy writes a -policy file and returns its path.
func writePolicy(t *testing.T, dir, body string) string {
	t.Helper()
	path := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDaemonPolicy: under -policy, each rule refuses a job that breaks
// it with fault 4 naming the rule, a compliant job runs, gets the
// policy's storage bound and stops at its running time, and Capabilities
// reports the policy.
func TestDaemonPolicy(t *testing.T) {
	dir := t.TempDir()
	policy := writePolicy(t, dir, `{"require_anonymization": true, "payload": "zero", "outputs": ["counters", "pcap"],
		"max_snaplen": 1500, "max_duration_s": 1, "max_storage_bytes": 1000000, "key_holder": "operator"}`)
	d := startGuardDaemon(t, dir, "-policy", policy)

	var caps deviceapi.Capabilities
	if err := d.call(t, "Capabilities", nil, &caps); err != nil {
		t.Fatalf("Capabilities: %v", err)
	}
	want := deviceapi.Policy{RequireAnonymization: true, Payload: "zero", Outputs: []string{"counters", "pcap"},
		MaxSnaplen: 1500, MaxDurationS: 1, MaxStorageBytes: 1000000, KeyHolder: "operator"}
	if got := caps.Policy; got.RequireAnonymization != want.RequireAnonymization || got.Payload != want.Payload ||
		strings.Join(got.Outputs, ",") != "counters,pcap" || got.MaxSnaplen != want.MaxSnaplen ||
		got.MaxDurationS != want.MaxDurationS || got.MaxStorageBytes != want.MaxStorageBytes || got.KeyHolder != want.KeyHolder {
		t.Errorf("Capabilities policy %+v, want %+v", got, want)
	}

	key := bytes.Repeat([]byte{7}, 32)
	good := func() map[string]any {
		return map[string]any{"interface": "file:tcpreplay__test.pcap", "key": key, "payload": "zero", "pcap": true,
			"counters": map[string]any{}, "snaplen": 1500, "replay_speed": 0.1}
	}
	for _, tc := range []struct {
		name   string
		change func(map[string]any)
		want   string
	}{
		{"no key", func(s map[string]any) { delete(s, "key"); delete(s, "payload") },
			"device policy: anonymization is required on this device (the job has no key)"},
		{"payload keep", func(s map[string]any) { s["payload"] = "keep" },
			"device policy: payload keep exceeds this device's limit zero"},
		{"flows", func(s map[string]any) { s["flows"] = map[string]any{} },
			"device policy: output flows is not allowed on this device (allowed: [counters pcap])"},
		{"default snaplen", func(s map[string]any) { delete(s, "snaplen") },
			"device policy: snaplen 65535 exceeds this device's limit 1500"},
	} {
		spec := good()
		tc.change(spec)
		var id string
		var f *xmlrpc.Fault
		if err := d.call(t, "StartJob", []any{spec}, &id); !errors.As(err, &f) || f.Code != deviceapi.FaultAuth ||
			!strings.Contains(f.String, tc.want) {
			t.Errorf("%s: StartJob: %v, want fault 4 %q", tc.name, err, tc.want)
		}
	}

	var id string
	if err := d.call(t, "StartJob", []any{good()}, &id); err != nil {
		t.Fatalf("StartJob of a compliant job: %v", err)
	}
	st := d.waitDone(t, id)
	if want := "stopped: running time reached the device policy's max_duration_s 1"; len(st.Errors) != 1 || st.Errors[0] != want {
		t.Errorf("errors %q, want %q", st.Errors, want)
	}
	if st.Packets == 0 || st.Packets >= 179 || st.ElapsedS < 1 || st.ElapsedS > 5 {
		t.Errorf("job ran %.1fs and counted %d packets, want about 1s and some of the 179", st.ElapsedS, st.Packets)
	}

	// The storage bound: a job asking for none gets the policy's.
	spec := good()
	delete(spec, "replay_speed")
	small := writePolicy(t, t.TempDir(), `{"max_storage_bytes": 20000}`)
	d2 := startGuardDaemon(t, t.TempDir(), "-policy", small)
	if err := d2.call(t, "StartJob", []any{spec}, &id); err != nil {
		t.Fatalf("StartJob: %v", err)
	}
	st = d2.waitDone(t, id)
	if want := "stopped: result files reached max_storage_bytes 19.5 KiB (20000 bytes)"; len(st.Errors) != 1 || st.Errors[0] != want {
		t.Errorf("errors %q, want %q", st.Errors, want)
	}
}

// TestPolicyFileRefused: a -policy file that cannot be read, is not
// strict JSON or breaks a rule stops gims-capd with exit 2 and one line
// naming the problem.
func TestPolicyFileRefused(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ body, want string }{
		{`{"users": ["*"]}`, `json: unknown field "users"`},
		{`{"payload": "all"}`, `payload must be strip, zero or keep, got "all"`},
		{`{"outputs": ["pcap", "mail"]}`, `outputs: want counters, flows or pcap, got "mail"`},
		{`{"max_snaplen": -1}`, `max_snaplen must be between 0 (no bound) and 262144, got -1`},
		{`{"max_duration_s": "1h"}`, `cannot unmarshal string`},
		{`{"key_holder": "nobody"}`, `key_holder must be operator or experimenter, got "nobody"`},
		{`{} {}`, `unexpected data after the JSON object`},
		{`{`, `unexpected EOF`},
	} {
		path := writePolicy(t, dir, tc.body)
		code, stderr := runCapd(t, nil, "-listen", "127.0.0.1:0", "-data", filepath.Join(dir, "data"), "-policy", path)
		if code != exitUsage || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("policy %s: exit %d, stderr %q; want %d naming %q", tc.body, code, stderr, exitUsage, tc.want)
		}
	}
	code, stderr := runCapd(t, nil, "-listen", "127.0.0.1:0", "-data", filepath.Join(dir, "data"), "-policy", filepath.Join(dir, "none"))
	if code != exitUsage || !strings.Contains(stderr, "no such file") {
		t.Errorf("missing policy: exit %d, stderr %q", code, stderr)
	}
}
