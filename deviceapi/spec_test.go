package deviceapi

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// TestCheckInvalid checks that every mistake a job specification can
// carry without a device is refused, matching ErrInvalid, with the reason
// alone as the text.
func TestCheckInvalid(t *testing.T) {
	key16, key32 := make([]byte, 16), make([]byte, 32)
	for _, tc := range []struct {
		name string
		spec JobSpec
		want string
	}{
		{"no interface", JobSpec{}, "interface is required"},
		{"file with a path", JobSpec{Interface: "file:../x.pcap"}, `interface "file:../x.pcap": a file source names a file of the pcap directory, without a path`},
		{"file dot-dot", JobSpec{Interface: "file:.."}, `interface "file:..": a file source names a file of the pcap directory, without a path`},
		{"empty file name", JobSpec{Interface: "file:"}, `interface "file:": a file source names a file of the pcap directory, without a path`},
		{"file backslash", JobSpec{Interface: `file:a\b`}, `interface "file:a\\b": a file source names a file of the pcap directory, without a path`},
		{"replay on live", JobSpec{Interface: "lo", ReplaySpeed: 2}, `replay_speed applies only to file: interfaces, not "lo"`},
		{"snaplen too big", JobSpec{Interface: "lo", Snaplen: 262145}, "snaplen must be between 1 and 262144, got 262145"},
		{"snaplen negative", JobSpec{Interface: "lo", Snaplen: -1}, "snaplen must be between 1 and 262144, got -1"},
		{"short key", JobSpec{Interface: "lo", Key: key16}, "key must be exactly 32 bytes (the Crypto-PAn key), got 16"},
		{"payload without key", JobSpec{Interface: "lo", Payload: "zero"}, "payload and mac apply only to an anonymized job (with a key)"},
		{"mac without key", JobSpec{Interface: "lo", MAC: "keyed"}, "payload and mac apply only to an anonymized job (with a key)"},
		{"bad payload", JobSpec{Interface: "lo", Key: key32, Payload: "cut"}, `payload must be strip, zero or keep, got "cut"`},
		{"bad mac", JobSpec{Interface: "lo", Key: key32, MAC: "KEYED"}, `mac must be keyed, zero or keep, got "KEYED"`},
		{"replay negative", JobSpec{Interface: "file:x.pcap", ReplaySpeed: -1}, "replay_speed must be 0 (as fast as possible) or a positive factor, got -1"},
		{"replay NaN", JobSpec{Interface: "file:x.pcap", ReplaySpeed: math.NaN()}, "replay_speed must be 0 (as fast as possible) or a positive factor, got NaN"},
		{"negative storage bound", JobSpec{Interface: "lo", MaxStorageBytes: -1}, "max_storage_bytes must be 0 (no bound) or a positive number of bytes, got -1"},
		{"negative rotate_mb", JobSpec{Interface: "lo", Pcap: true, RotateMB: -1}, "rotate_mb must be 0 (no size bound) or a number of megabytes up to 1000000, got -1"},
		{"huge rotate_mb", JobSpec{Interface: "lo", Pcap: true, RotateMB: 1000001}, "rotate_mb must be 0 (no size bound) or a number of megabytes up to 1000000, got 1000001"},
		{"negative rotate_s", JobSpec{Interface: "lo", Pcap: true, RotateS: -1}, "rotate_s must be 0 (no time bound) or a number of seconds up to 604800, got -1"},
		{"huge rotate_s", JobSpec{Interface: "lo", Flows: &FlowsSpec{}, RotateS: 604801}, "rotate_s must be 0 (no time bound) or a number of seconds up to 604800, got 604801"},
		{"rotation without files", JobSpec{Interface: "lo", Counters: &CountersSpec{}, RotateS: 60}, "rotate_mb and rotate_s split the pcap and flows files: they need pcap or flows"},
		{"counter interval", JobSpec{Interface: "lo", Counters: &CountersSpec{IntervalMS: -5}}, "counters interval_ms must be between 1 and 86400000, got -5"},
		{"active timeout", JobSpec{Interface: "lo", Flows: &FlowsSpec{ActiveTimeoutS: -1}}, "flows active_timeout_s must be between 1 and 604800, got -1"},
		{"idle timeout", JobSpec{Interface: "lo", Flows: &FlowsSpec{IdleTimeoutS: 1 << 30}}, "flows idle_timeout_s must be between 1 and 604800, got 1073741824"},
		{"collector scheme", JobSpec{Interface: "lo", Flows: &FlowsSpec{Collector: "http://127.0.0.1:4739"}}, `flows collector "http://127.0.0.1:4739": unsupported scheme "http" (want udp://host:port or tcp://host:port)`},
		{"collector no port", JobSpec{Interface: "lo", Flows: &FlowsSpec{Collector: "udp://127.0.0.1"}}, `flows collector "udp://127.0.0.1": no host:port (want udp://host:port or tcp://host:port)`},
		{"collector port zero", JobSpec{Interface: "lo", Flows: &FlowsSpec{Collector: "tcp://127.0.0.1:0"}}, `flows collector "tcp://127.0.0.1:0": bad port "0" (want udp://host:port or tcp://host:port)`},
		{"collector path", JobSpec{Interface: "lo", Flows: &FlowsSpec{Collector: "udp://127.0.0.1:4739/x"}}, `flows collector "udp://127.0.0.1:4739/x": only host and port are allowed (want udp://host:port or tcp://host:port)`},
		{"collector user", JobSpec{Interface: "lo", Flows: &FlowsSpec{Collector: "udp://u@127.0.0.1:4739"}}, `flows collector "udp://u@127.0.0.1:4739": only host and port are allowed (want udp://host:port or tcp://host:port)`},
		{"collector not a URL", JobSpec{Interface: "lo", Flows: &FlowsSpec{Collector: "udp://[::1"}}, `flows collector "udp://[::1": not a URL (want udp://host:port or tcp://host:port)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Check()
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Check() = %v, want ErrInvalid", err)
			}
			if err.Error() != tc.want {
				t.Errorf("Check() error (-got, +want):\n-%s\n+%s", err, tc.want)
			}
		})
	}
}

// TestCheckDefaults checks the defaults Check fills and the members it
// leaves alone.
func TestCheckDefaults(t *testing.T) {
	no := false
	for _, tc := range []struct {
		name string
		in   JobSpec
		want JobSpec
	}{
		{"absent members",
			JobSpec{Interface: "eth0"},
			JobSpec{Interface: "eth0", Snaplen: 65535}},
		{"empty transforms",
			JobSpec{Interface: "eth0", Counters: &CountersSpec{}, Flows: &FlowsSpec{}},
			JobSpec{Interface: "eth0", Snaplen: 65535, Counters: &CountersSpec{IntervalMS: 1000},
				Flows: &FlowsSpec{ActiveTimeoutS: 1800, IdleTimeoutS: 300}}},
		{"sanitization defaults with a key",
			JobSpec{Interface: "eth0", Key: make([]byte, 32)},
			JobSpec{Interface: "eth0", Snaplen: 65535, Key: make([]byte, 32), Payload: "strip", MAC: "keyed"}},
		{"sanitization modes kept",
			JobSpec{Interface: "eth0", Key: make([]byte, 32), Payload: "keep", MAC: "zero"},
			JobSpec{Interface: "eth0", Snaplen: 65535, Key: make([]byte, 32), Payload: "keep", MAC: "zero"}},
		{"given values kept",
			JobSpec{Interface: "file:x.pcap", Snaplen: 96, Promiscuous: &no, ReplaySpeed: 2,
				Counters: &CountersSpec{IntervalMS: 10},
				Flows:    &FlowsSpec{ActiveTimeoutS: 60, IdleTimeoutS: 5, Biflow: &no, Collector: "tcp://[::1]:4739"}},
			JobSpec{Interface: "file:x.pcap", Snaplen: 96, Promiscuous: &no, ReplaySpeed: 2,
				Counters: &CountersSpec{IntervalMS: 10},
				Flows:    &FlowsSpec{ActiveTimeoutS: 60, IdleTimeoutS: 5, Biflow: &no, Collector: "tcp://[::1]:4739"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.in.Check(); err != nil {
				t.Fatalf("Check() error: %v", err)
			}
			if !reflect.DeepEqual(tc.in, tc.want) {
				t.Errorf("Check() left %+v, want %+v", tc.in, tc.want)
			}
		})
	}
}

// TestCheckSettings checks that CheckSettings ignores the interface, and
// only it.
func TestCheckSettings(t *testing.T) {
	s := JobSpec{ReplaySpeed: 2, Flows: &FlowsSpec{}}
	if err := s.CheckSettings(); err != nil {
		t.Fatalf("CheckSettings() without an interface = %v, want nil", err)
	}
	if s.Snaplen != 65535 || s.Flows.ActiveTimeoutS != 1800 || s.Flows.IdleTimeoutS != 300 {
		t.Errorf("CheckSettings() left %+v (flows %+v), want the defaults", s, *s.Flows)
	}
	bad := JobSpec{Snaplen: -1}
	if err := bad.CheckSettings(); !errors.Is(err, ErrInvalid) {
		t.Errorf("CheckSettings() of a bad snaplen = %v, want ErrInvalid", err)
	}
}

func TestDefaultsOfPointers(t *testing.T) {
	no, yes := false, true
	for _, tc := range []struct {
		p    *bool
		want bool
	}{{nil, true}, {&no, false}, {&yes, true}} {
		s := JobSpec{Promiscuous: tc.p}
		f := FlowsSpec{Biflow: tc.p}
		if s.IsPromiscuous() != tc.want || f.IsBiflow() != tc.want {
			t.Errorf("IsPromiscuous(), IsBiflow() of %v = %t, %t; want %t", tc.p, s.IsPromiscuous(), f.IsBiflow(), tc.want)
		}
	}
}

func TestValidRequestID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"req:a1b2:e1:a1:p0", true},
		{"req:x", true},
		{"req:", false},
		{"0123456789abcdef", false}, // a job id
		{"req:a b", false},
		{"req:a/b", false},
		{"req:" + strings.Repeat("x", 124), true},
		{"req:" + strings.Repeat("x", 125), false},
	} {
		if got := ValidRequestID(tc.id); got != tc.ok {
			t.Errorf("ValidRequestID(%q) = %t, want %t", tc.id, got, tc.ok)
		}
	}
}
