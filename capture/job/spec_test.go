package job

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/transform/flow"
)

func TestSpecOf(t *testing.T) {
	no, yes := false, true
	key := make([]byte, 32)
	cases := []struct {
		name string
		in   deviceapi.JobSpec
		want Spec
	}{
		{"absent optionals take SPEC defaults",
			deviceapi.JobSpec{Interface: "eth0", Flows: &deviceapi.FlowsSpec{}},
			Spec{Interface: "eth0", Promiscuous: true, Flows: &FlowsSpec{Biflow: true}}},
		{"explicit false kept",
			deviceapi.JobSpec{Interface: "eth0", Promiscuous: &no, Flows: &deviceapi.FlowsSpec{Biflow: &no}},
			Spec{Interface: "eth0", Flows: &FlowsSpec{}}},
		{"every field",
			deviceapi.JobSpec{Interface: "file:x.pcap", Filter: "tcp", Snaplen: 96, Promiscuous: &yes,
				Counters: &deviceapi.CountersSpec{IntervalMS: 500},
				Flows:    &deviceapi.FlowsSpec{ActiveTimeoutS: 60, IdleTimeoutS: 10, Biflow: &yes, Collector: "udp://127.0.0.1:4739"},
				Pcap:     true, Key: key, Payload: "zero", MAC: "keep", ReplaySpeed: 2, Experiment: 7, MaxStorageBytes: 1 << 20},
			Spec{Interface: "file:x.pcap", Filter: "tcp", Snaplen: 96, Promiscuous: true,
				Counters: &CountersSpec{IntervalMS: 500},
				Flows:    &FlowsSpec{ActiveTimeoutS: 60, IdleTimeoutS: 10, Biflow: true, Collector: "udp://127.0.0.1:4739"},
				Pcap:     true, Key: key, Payload: "zero", MAC: "keep", ReplaySpeed: 2, Experiment: 7, MaxStorageBytes: 1 << 20}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := SpecOf(&tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("SpecOf() = %+v, want %+v", got, tc.want)
			}
			if back := got.wire(); !reflect.DeepEqual(SpecOf(&back), got) {
				t.Errorf("SpecOf(wire()) = %+v, want %+v", SpecOf(&back), got)
			}
		})
	}
}

// TestCheckDefaults checks that check fills the SPEC defaults, and that
// the device API's defaults are the flow table's own.
func TestCheckDefaults(t *testing.T) {
	s := Spec{Interface: "file:x.pcap", Counters: &CountersSpec{}, Flows: &FlowsSpec{}}
	if err := s.check(); err != nil {
		t.Fatalf("check() error: %v", err)
	}
	want := Spec{Interface: "file:x.pcap", Snaplen: 65535, Counters: &CountersSpec{IntervalMS: 1000},
		Flows: &FlowsSpec{ActiveTimeoutS: 1800, IdleTimeoutS: 300}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("check() left %+v, want %+v", s, want)
	}
	def := flow.DefaultConfiguration()
	if def.ActiveTimeout != deviceapi.DefaultActiveTimeoutS*time.Second || def.IdleTimeout != deviceapi.DefaultIdleTimeoutS*time.Second {
		t.Errorf("flow.DefaultConfiguration() timeouts %v, %v; the device API's defaults are %d s, %d s",
			def.ActiveTimeout, def.IdleTimeout, deviceapi.DefaultActiveTimeoutS, deviceapi.DefaultIdleTimeoutS)
	}
}

// TestSanitizationDefaults: a job with a key gets the default modes from
// check, and a job.json written before the modes existed (a key, no
// modes) resumes with the same defaults.
func TestSanitizationDefaults(t *testing.T) {
	s := Spec{Interface: "file:x.pcap", Key: make([]byte, 32)}
	if err := s.check(); err != nil {
		t.Fatalf("check() error: %v", err)
	}
	if s.Payload != "strip" || s.MAC != "keyed" {
		t.Errorf("check() left payload %q, mac %q; want strip, keyed", s.Payload, s.MAC)
	}
	var old persisted
	if err := json.Unmarshal([]byte(`{"version":1,"id":"x","state":"running","spec":{"interface":"eth0","key":"`+
		base64.StdEncoding.EncodeToString(make([]byte, 32))+`"}}`), &old); err != nil {
		t.Fatal(err)
	}
	if p, m := old.Spec.Sanitization(); p != "strip" || m != "keyed" {
		t.Errorf("an old job.json's Sanitization() = %q, %q; want strip, keyed", p, m)
	}
	if p, m := (&Spec{Interface: "eth0"}).Sanitization(); p != "" || m != "" {
		t.Errorf("Sanitization() without a key = %q, %q; want none", p, m)
	}
	bad := Spec{Interface: "eth0", Payload: "keep"}
	if err := bad.check(); err == nil {
		t.Error("check() took a payload mode without a key")
	}
}
