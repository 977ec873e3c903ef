package am

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// TestMetrics checks the manager's metrics against a database: experiments
// by state, devices, and the stored counters of running and paused
// experiments only, label values quoted as the exposition format wants.
func TestMetrics(t *testing.T) {
	ctx := context.Background()
	store, cfg := newTestStore(t)
	reg := prometheus.NewRegistry()
	if _, err := New(cfg, Dependencies{DB: store, Registry: reg}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, d := range []db.Device{
		{Name: "tap1", Hostname: "127.0.0.1", Port: 1, Reachable: true, Created: now},
		{Name: `odd"dev\`, Hostname: "127.0.0.1", Port: 2, Created: now},
		{Name: "reg", Hostname: "127.0.0.1", Port: 3, Pending: true, Created: now},
	} {
		if err := store.CreateDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []struct {
		name, state string
		status      []amapi.DeviceStatus
	}{
		{`e"1`, StateRunning, []amapi.DeviceStatus{{Packets: 10, Bytes: 1500, Dropped: 1, FlowsExported: 2},
			{Packets: 5, Bytes: 500, SanitizedDrops: 4}}},
		{"paused", StatePaused, []amapi.DeviceStatus{{Packets: 3, Bytes: 300, Dropped: 2, FlowsExported: 1}}},
		{"gone", StateDone, []amapi.DeviceStatus{{Packets: 99}}},
		{"new", StateConfigured, nil},
	} {
		x := db.Experiment{Name: e.name, Owner: "bob", State: e.state, Created: now}
		for range e.status {
			x.Devices = append(x.Devices, db.Pairing{Device: "tap1", Interface: "lo"})
		}
		id, err := store.CreateExperiment(ctx, x)
		if err != nil {
			t.Fatal(err)
		}
		for i, st := range e.status {
			raw, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			if err := store.SetPairingStatus(ctx, id, i, string(raw), now); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := `# HELP gims_device_up Whether the capture device answered its last contact (1) or not (0).
# TYPE gims_device_up gauge
gims_device_up{device="odd\"dev\\"} 0
gims_device_up{device="tap1"} 1
# HELP gims_devices Capture devices by reachability (pending: awaiting approval).
# TYPE gims_devices gauge
gims_devices{state="pending"} 1
gims_devices{state="reachable"} 1
gims_devices{state="unreachable"} 1
# HELP gims_experiment_bytes Bytes (wire length) captured by a running or paused experiment.
# TYPE gims_experiment_bytes gauge
gims_experiment_bytes{id="1",name="e\"1",owner="bob",state="running"} 2000
gims_experiment_bytes{id="2",name="paused",owner="bob",state="paused"} 300
# HELP gims_experiment_dropped Packets dropped by the kernel or interface for an experiment.
# TYPE gims_experiment_dropped gauge
gims_experiment_dropped{id="1",name="e\"1",owner="bob",state="running"} 1
gims_experiment_dropped{id="2",name="paused",owner="bob",state="paused"} 2
# HELP gims_experiment_flows_exported Flow records exported by an experiment.
# TYPE gims_experiment_flows_exported gauge
gims_experiment_flows_exported{id="1",name="e\"1",owner="bob",state="running"} 2
gims_experiment_flows_exported{id="2",name="paused",owner="bob",state="paused"} 1
# HELP gims_experiment_packets Packets captured by a running or paused experiment, all devices.
# TYPE gims_experiment_packets gauge
gims_experiment_packets{id="1",name="e\"1",owner="bob",state="running"} 15
gims_experiment_packets{id="2",name="paused",owner="bob",state="paused"} 3
# HELP gims_experiment_sanitized_drops Packets left out of an experiment's pcaps because sanitization left nothing safe of them.
# TYPE gims_experiment_sanitized_drops gauge
gims_experiment_sanitized_drops{id="1",name="e\"1",owner="bob",state="running"} 4
gims_experiment_sanitized_drops{id="2",name="paused",owner="bob",state="paused"} 0
# HELP gims_experiments Experiments by lifecycle state.
# TYPE gims_experiments gauge
gims_experiments{state="configured"} 1
gims_experiments{state="done"} 1
gims_experiments{state="instantiated"} 0
gims_experiments{state="paused"} 1
gims_experiments{state="running"} 1
`
	// Every metric but the poll cycle's duration, which is the time the
	// monitor took.
	names := []string{"gims_device_up", "gims_devices", "gims_experiment_bytes", "gims_experiment_dropped",
		"gims_experiment_flows_exported", "gims_experiment_packets", "gims_experiment_sanitized_drops", "gims_experiments"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "gims_am_poll_cycle_seconds"); err != nil || n != 1 {
		t.Errorf("gims_am_poll_cycle_seconds: %d series, %v", n, err)
	}
}
