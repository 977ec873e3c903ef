package deviceapi

import (
	"bytes"
	"strings"
	"testing"
)

// TestPolicyViolation checks each rule of a policy on checked specs.
func TestPolicyViolation(t *testing.T) {
	key := bytes.Repeat([]byte{1}, 32)
	strict := Policy{RequireAnonymization: true, Payload: PayloadZero, Outputs: []string{OutputCounters, OutputPcap}, MaxSnaplen: 1500}
	if err := strict.Normalize(); err != nil {
		t.Fatal(err)
	}
	var none Policy
	if err := none.Normalize(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		policy Policy
		spec   JobSpec
		want   string
	}{
		{"nothing imposed", none, JobSpec{Interface: "lo", Pcap: true, Flows: &FlowsSpec{}}, ""},
		{"compliant", strict, JobSpec{Interface: "lo", Key: key, Payload: PayloadZero, Pcap: true, Snaplen: 1500}, ""},
		{"default payload", strict, JobSpec{Interface: "lo", Key: key, Pcap: true, Snaplen: 100}, ""},
		{"no key", strict, JobSpec{Interface: "lo", Snaplen: 100}, "anonymization is required"},
		{"keep", strict, JobSpec{Interface: "lo", Key: key, Payload: PayloadKeep, Pcap: true, Snaplen: 100}, "payload keep exceeds this device's limit zero"},
		{"no key keeps payloads", Policy{Payload: PayloadStrip}, JobSpec{Interface: "lo", Pcap: true}, "payload keep exceeds this device's limit strip"},
		{"no pcap, no payload", Policy{Payload: PayloadStrip}, JobSpec{Interface: "lo", Counters: &CountersSpec{}}, ""},
		{"flows", strict, JobSpec{Interface: "lo", Key: key, Flows: &FlowsSpec{}, Snaplen: 100}, "output flows is not allowed"},
		{"snaplen", strict, JobSpec{Interface: "lo", Key: key}, "snaplen 65535 exceeds this device's limit 1500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			if err := spec.Check(); err != nil {
				t.Fatal(err)
			}
			got := tc.policy.Violation(&spec)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("Violation = %q, want %q", got, tc.want)
			}
		})
	}
}
