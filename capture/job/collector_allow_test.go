package job

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// TestAllowCollector checks the device owner's limit on flows collectors:
// outside the allowed networks a job is refused before anything is
// dialed, inside them the collector is pinned to the address checked.
func TestAllowCollector(t *testing.T) {
	loopback := DefaultCollectors()
	cases := []struct {
		name      string
		allowed   []netip.Prefix
		collector string
		want      string // the pinned collector, or "" when refused
		err       error
	}{
		{"loopback address", loopback, "udp://127.0.0.1:4739", "udp://127.0.0.1:4739", nil},
		{"loopback v6", loopback, "tcp://[::1]:4739", "tcp://[::1]:4739", nil},
		{"loopback name", loopback, "udp://localhost:4739", "localhost", nil},
		{"elsewhere", loopback, "udp://192.0.2.1:4739", "", ErrNotAllowed},
		{"mapped v4 elsewhere", loopback, "udp://[::ffff:192.0.2.1]:4739", "", ErrNotAllowed},
		{"allowed network", []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, "udp://192.0.2.1:4739", "udp://192.0.2.1:4739", nil},
		{"nothing allowed", nil, "udp://127.0.0.1:4739", "", ErrNotAllowed},
		{"unknown name", loopback, "udp://nosuchhost.invalid:4739", "", ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfiguration()
			cfg.Collectors = tc.allowed
			m := &Manager{cfg: cfg}
			spec := Spec{Flows: &FlowsSpec{Collector: tc.collector}}
			err := m.allowCollector(&spec)
			if !errors.Is(err, tc.err) {
				t.Fatalf("allowCollector(%s): %v, want %v", tc.collector, err, tc.err)
			}
			if tc.err != nil {
				if spec.Flows.Collector != tc.collector {
					t.Errorf("a refused collector was changed to %s", spec.Flows.Collector)
				}
				return
			}
			switch got := spec.Flows.Collector; {
			case tc.want == "localhost":
				// Pinned to whichever loopback address the name resolved to.
				if got != "udp://127.0.0.1:4739" && got != "udp://[::1]:4739" {
					t.Errorf("localhost pinned to %s", got)
				}
			case got != tc.want:
				t.Errorf("pinned to %s, want %s", got, tc.want)
			}
		})
	}
}

// TestStartJobCollectorNotAllowed checks that StartJob refuses a job
// whose collector is outside the allowed networks and registers nothing.
func TestStartJobCollectorNotAllowed(t *testing.T) {
	m := newManager(t, "")
	spec := Spec{Interface: "file:tcpreplay__test.pcap",
		Flows: &FlowsSpec{Collector: "udp://192.0.2.1:4739"}}
	_, err := m.StartJob(spec)
	if !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "127.0.0.0/8") {
		t.Fatalf("StartJob: %v, want ErrNotAllowed naming the allowed networks", err)
	}
	if jobs := m.List(); len(jobs) != 0 {
		t.Errorf("a refused job was registered: %+v", jobs)
	}
}
