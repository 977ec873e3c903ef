package device

import (
	"reflect"
	"testing"

	"github.com/gimsproject/gims/capture/job"
)

func TestJobSpecDefaults(t *testing.T) {
	no, yes := false, true
	key := make([]byte, 32)
	cases := []struct {
		name string
		in   JobSpec
		want job.Spec
	}{
		{"absent optionals take SPEC defaults",
			JobSpec{Interface: "eth0", Flows: &FlowsSpec{}},
			job.Spec{Interface: "eth0", Promiscuous: true, Flows: &job.FlowsSpec{Biflow: true}}},
		{"explicit false kept",
			JobSpec{Interface: "eth0", Promiscuous: &no, Flows: &FlowsSpec{Biflow: &no}},
			job.Spec{Interface: "eth0", Flows: &job.FlowsSpec{}}},
		{"every field",
			JobSpec{Interface: "file:x.pcap", Filter: "tcp", Snaplen: 96, Promiscuous: &yes,
				Counters: &CountersSpec{IntervalMS: 500},
				Flows:    &FlowsSpec{ActiveTimeoutS: 60, IdleTimeoutS: 10, Biflow: &yes, Collector: "udp://127.0.0.1:4739"},
				Pcap:     true, Key: key, ReplaySpeed: 2, Experiment: 7},
			job.Spec{Interface: "file:x.pcap", Filter: "tcp", Snaplen: 96, Promiscuous: true,
				Counters: &job.CountersSpec{IntervalMS: 500},
				Flows:    &job.FlowsSpec{ActiveTimeoutS: 60, IdleTimeoutS: 10, Biflow: true, Collector: "udp://127.0.0.1:4739"},
				Pcap:     true, Key: key, ReplaySpeed: 2, Experiment: 7}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.Spec(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Spec() = %+v, want %+v", got, tc.want)
			}
		})
	}
}
