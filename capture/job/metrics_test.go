package job

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestMetrics replays a file whose flows go to a collector nobody listens
// to, and keeps a slow replay paused: the daemon's counters are the sums
// of the jobs' statuses, the jobs are counted by state, and only the drop
// kinds that exist are exposed.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := DefaultConfiguration()
	cfg.DataDir = t.TempDir()
	cfg.PcapDir = "testdata/pcaps"
	m, err := New(cfg, Dependencies{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Error(err)
		}
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // now nothing listens there
	id, err := m.StartJob(Spec{Interface: "file:tcpreplay__test.pcap", Flows: &FlowsSpec{Collector: "tcp://" + addr}})
	if err != nil {
		t.Fatalf("StartJob() error:\n%+v", err)
	}
	done := waitDone(t, m, id, 10*time.Second)
	slow, err := m.StartJob(Spec{Interface: "file:zeek__http-get.pcap", ReplaySpeed: 0.001})
	if err != nil {
		t.Fatalf("StartJob() error:\n%+v", err)
	}
	if err := m.PauseJob(slow); err != nil {
		t.Fatal(err)
	}
	paused := status(t, m, slow)
	if done.Packets == 0 || done.CollectorLost == 0 {
		t.Fatalf("done job: %d packets, %d flows lost; want some of each", done.Packets, done.CollectorLost)
	}
	want := fmt.Sprintf(`# HELP gims_capd_bytes_total Bytes (wire length) captured by the daemon's jobs.
# TYPE gims_capd_bytes_total counter
gims_capd_bytes_total %d
# HELP gims_capd_collector_lost_total Flow records the IPFIX collectors did not get (unreachable; flows.ipfix has them all).
# TYPE gims_capd_collector_lost_total counter
gims_capd_collector_lost_total %d
# HELP gims_capd_drops_total Packets dropped by kind (kernel: libpcap's ps_drop, interface: ps_ifdrop, before the daemon's jobs saw them; sanitized: left out of packets.pcap, nothing safe was left of them).
# TYPE gims_capd_drops_total counter
gims_capd_drops_total{kind="interface"} 0
gims_capd_drops_total{kind="kernel"} 0
gims_capd_drops_total{kind="sanitized"} 0
# HELP gims_capd_flows_exported_total Flow records exported by the daemon's jobs.
# TYPE gims_capd_flows_exported_total counter
gims_capd_flows_exported_total %d
# HELP gims_capd_jobs Capture jobs by state.
# TYPE gims_capd_jobs gauge
gims_capd_jobs{state="done"} 1
gims_capd_jobs{state="paused"} 1
gims_capd_jobs{state="running"} 0
# HELP gims_capd_packets_total Packets captured by the daemon's jobs (passed the filter, not dropped while paused).
# TYPE gims_capd_packets_total counter
gims_capd_packets_total %d
`, done.Bytes+paused.Bytes, done.CollectorLost+paused.CollectorLost, done.FlowsExported+paused.FlowsExported,
		done.Packets+paused.Packets)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
