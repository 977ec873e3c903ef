package amapi

import (
	"strings"
	"testing"
)

// TestPolicyViolation checks each rule of SPEC §9 refused and allowed.
func TestPolicyViolation(t *testing.T) {
	anon := func(payload string) *AnonymizeView {
		return &AnonymizeView{SecretFingerprint: "abcd1234", Payload: payload, MAC: "keyed"}
	}
	keyed := &AnonymizeView{SecretFingerprint: "abcd1234", Key: "campus", Payload: "strip", MAC: "keyed"}
	def := DefaultDevicePolicy()
	with := func(f func(p *DevicePolicy)) DevicePolicy {
		p := DefaultDevicePolicy()
		f(&p)
		if err := p.Check(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	open := with(func(p *DevicePolicy) { p.RequireAnonymization, p.Payload, p.KeyHolder = false, "keep", "experimenter" })
	for _, tc := range []struct {
		name   string
		pol    DevicePolicy
		owner  string
		v      ConfigView
		secret bool
		want   string // "" allowed, else a part of the violation
	}{
		{"default allows an operator key", def, "alice", ConfigView{Snaplen: 65535, Pcap: true, Anonymize: keyed}, false, ""},
		{"users refuses another", with(func(p *DevicePolicy) { p.Users = []string{"bob"} }), "alice",
			ConfigView{Anonymize: keyed}, false, "policy does not allow user alice"},
		{"users allows a listed one", with(func(p *DevicePolicy) { p.Users = []string{"bob", "alice"} }), "alice",
			ConfigView{Anonymize: keyed}, false, ""},
		{"anonymization required", def, "alice", ConfigView{Counters: &CountersView{IntervalMS: 1000}}, false,
			"policy requires anonymization"},
		{"anonymization optional", open, "alice", ConfigView{Counters: &CountersView{IntervalMS: 1000}}, false, ""},
		{"secret refused on operator keys", def, "alice", ConfigView{Anonymize: anon("strip")}, true,
			"policy key_holder operator: use an operator-held key (anonymize.key), not a secret"},
		{"secret allowed on experimenter keys", with(func(p *DevicePolicy) { p.KeyHolder = "experimenter" }), "alice",
			ConfigView{Anonymize: anon("strip")}, true, ""},
		{"payload keep over strip", with(func(p *DevicePolicy) { p.KeyHolder = "experimenter" }), "alice",
			ConfigView{Pcap: true, Anonymize: anon("keep")}, true, "payload keep exceeds the policy's strip"},
		{"payload zero over strip", def, "alice", ConfigView{Pcap: true, Anonymize: &AnonymizeView{Key: "k", Payload: "zero"}},
			false, "payload zero exceeds the policy's strip"},
		{"payload zero under zero", with(func(p *DevicePolicy) { p.Payload = "zero" }), "alice",
			ConfigView{Pcap: true, Anonymize: &AnonymizeView{Key: "k", Payload: "zero"}}, false, ""},
		{"raw pcap over zero", with(func(p *DevicePolicy) { p.Payload, p.RequireAnonymization = "zero", false }), "alice",
			ConfigView{Pcap: true}, false, "a pcap without anonymization keeps payloads, which exceeds the policy's zero"},
		{"payload keep without a pcap", def, "alice", ConfigView{Counters: &CountersView{}, Anonymize: &AnonymizeView{Key: "k", Payload: "keep"}},
			false, ""},
		{"output pcap refused", with(func(p *DevicePolicy) { p.Outputs = []string{"counters", "flows"} }), "alice",
			ConfigView{Pcap: true, Anonymize: keyed}, false, "output pcap not allowed: policy allows outputs counters, flows"},
		{"output flows refused", with(func(p *DevicePolicy) { p.Outputs = []string{"counters"} }), "alice",
			ConfigView{Flows: &FlowsView{}, Anonymize: keyed}, false, "output flows not allowed: policy allows outputs counters"},
		{"output counters allowed", with(func(p *DevicePolicy) { p.Outputs = []string{"counters"} }), "alice",
			ConfigView{Counters: &CountersView{}, Anonymize: keyed}, false, ""},
		{"snaplen over", with(func(p *DevicePolicy) { p.MaxSnaplen = 256 }), "alice",
			ConfigView{Snaplen: 65535, Anonymize: keyed}, false, "snaplen 65535 exceeds max_snaplen 256"},
		{"snaplen at", with(func(p *DevicePolicy) { p.MaxSnaplen = 256 }), "alice",
			ConfigView{Snaplen: 256, Anonymize: keyed}, false, ""},
		{"duration unset", with(func(p *DevicePolicy) { p.MaxDurationS = 3600 }), "alice",
			ConfigView{Anonymize: keyed}, false, "duration_s must be set and ≤ 3600 (max_duration_s)"},
		{"duration over", with(func(p *DevicePolicy) { p.MaxDurationS = 3600 }), "alice",
			ConfigView{DurationS: 3601, Anonymize: keyed}, false, "duration_s must be set and ≤ 3600 (max_duration_s)"},
		{"duration at", with(func(p *DevicePolicy) { p.MaxDurationS = 3600 }), "alice",
			ConfigView{DurationS: 3600, Anonymize: keyed}, false, ""},
		{"storage is a bound, not a rule", with(func(p *DevicePolicy) { p.MaxStorageBytes = 1 << 20 }), "alice",
			ConfigView{Pcap: true, Anonymize: keyed}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.pol.Violation(tc.owner, &tc.v, tc.secret)
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("Violation = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestPolicyApply checks the defaults, partial changes and the errors
// naming the member.
func TestPolicyApply(t *testing.T) {
	def := DefaultDevicePolicy()
	if !def.RequireAnonymization || def.Payload != "strip" || def.KeyHolder != "operator" ||
		strings.Join(def.Users, ",") != "*" || strings.Join(def.Outputs, ",") != "counters,flows,pcap" {
		t.Errorf("default policy %+v is not SPEC §9's", def)
	}
	no, keep, users := false, "keep", []string{"alice"}
	got, err := (&PolicyInput{RequireAnonymization: &no, Payload: &keep, Users: &users}).Apply(def)
	if err != nil || got.RequireAnonymization || got.Payload != "keep" || got.KeyHolder != "operator" ||
		!got.Allows("alice") || got.Allows("bob") {
		t.Errorf("Apply = %+v, %v", got, err)
	}
	if def.Payload != "strip" {
		t.Error("Apply changed its base")
	}
	bad := func(f func(in *PolicyInput)) *PolicyInput { in := &PolicyInput{}; f(in); return in }
	for _, tc := range []struct {
		in   *PolicyInput
		want string
	}{
		{bad(func(in *PolicyInput) { s := "all"; in.Payload = &s }), "payload"},
		{bad(func(in *PolicyInput) { l := []string{"pcapng"}; in.Outputs = &l }), "outputs"},
		{bad(func(in *PolicyInput) { l := []string{}; in.Users = &l }), "users"},
		{bad(func(in *PolicyInput) { l := []string{"a b"}; in.Users = &l }), "users"},
		{bad(func(in *PolicyInput) { n := -1; in.MaxSnaplen = &n }), "max_snaplen"},
		{bad(func(in *PolicyInput) { n := int64(-1); in.MaxDurationS = &n }), "max_duration_s"},
		{bad(func(in *PolicyInput) { n := int64(-1); in.MaxStorageBytes = &n }), "max_storage_bytes"},
		{bad(func(in *PolicyInput) { s := "nobody"; in.KeyHolder = &s }), "key_holder"},
	} {
		if _, err := tc.in.Apply(def); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Apply(%s) = %v, want an error naming %s", tc.want, err, tc.want)
		}
	}
	if p := (DevicePolicy{Users: []string{"alice", "bob"}}).ForUser("bob"); strings.Join(p.Users, ",") != "bob" {
		t.Errorf("ForUser shows users %v, want only bob", p.Users)
	}
}
