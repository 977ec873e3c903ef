package job

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Values of the kind label of gims_capd_drops_total: libpcap's kernel and
// interface counters, and the packets sanitization left out of
// packets.pcap (nothing safe was left of them, SPEC §8).
const (
	dropKernel    = "kernel"
	dropInterface = "interface"
	dropSanitized = "sanitized"
)

// collector exports the jobs' counters to Prometheus, summed over every
// job of the daemon at scrape time, and the jobs by state. The labels are
// fixed sets (drop kinds, job states); no job id or interface name
// becomes a label, so the series do not grow with the jobs.
//
// The counters add up what every job counted over its lifetime, restarts
// of the daemon included (the job state keeps them); they go down only
// when a file job is replayed from the start after a restart, which
// Prometheus treats as a counter reset.
type collector struct {
	m *Manager

	packets, bytes, drops, flows, lost, jobs *prometheus.Desc
}

// newCollector describes the job manager's metrics.
func newCollector(m *Manager) *collector {
	return &collector{
		m: m,
		packets: prometheus.NewDesc("gims_capd_packets_total",
			"Packets captured by the daemon's jobs (passed the filter, not dropped while paused).", nil, nil),
		bytes: prometheus.NewDesc("gims_capd_bytes_total",
			"Bytes (wire length) captured by the daemon's jobs.", nil, nil),
		drops: prometheus.NewDesc("gims_capd_drops_total",
			"Packets dropped by kind (kernel: libpcap's ps_drop, interface: ps_ifdrop, before the daemon's "+
				"jobs saw them; sanitized: left out of packets.pcap, nothing safe was left of them).", []string{"kind"}, nil),
		flows: prometheus.NewDesc("gims_capd_flows_exported_total",
			"Flow records exported by the daemon's jobs.", nil, nil),
		lost: prometheus.NewDesc("gims_capd_collector_lost_total",
			"Flow records the IPFIX collectors did not get (unreachable; flows.ipfix has them all).", nil, nil),
		jobs: prometheus.NewDesc("gims_capd_jobs", "Capture jobs by state.", []string{"state"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.packets, c.bytes, c.drops, c.flows, c.lost, c.jobs} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	jobs := make([]*job, 0, len(c.m.jobs))
	for _, j := range c.m.jobs {
		jobs = append(jobs, j)
	}
	c.m.mu.Unlock()
	var sum totals
	states := map[State]int{StateRunning: 0, StatePaused: 0, StateDone: 0}
	for _, j := range jobs {
		j.mu.Lock()
		sum.add(j.totalsLocked())
		if _, ok := states[j.p.State]; ok {
			states[j.p.State]++
		}
		j.mu.Unlock()
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.packets, sum.Packets)
	counter(c.bytes, sum.Bytes)
	counter(c.drops, sum.Dropped, dropKernel)
	counter(c.drops, sum.IfDropped, dropInterface)
	counter(c.drops, sum.SanitizedDrops, dropSanitized)
	counter(c.flows, sum.FlowsExported)
	counter(c.lost, sum.CollectorLost)
	for st, n := range states {
		ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(n), string(st))
	}
}
