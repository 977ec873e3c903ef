package am

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metricsTimeout bounds the database reads of one scrape.
const metricsTimeout = 10 * time.Second

// collector exports the manager's state to Prometheus, read from the
// database at scrape time: experiments by state, devices by
// reachability, and the last counters the monitor stored for every
// running or paused experiment. Its series are bounded by what the
// database holds now (the per-experiment ones by the live experiments),
// never by what callers send.
type collector struct {
	m *Manager

	experiments, devices, deviceUp        *prometheus.Desc
	packets, bytes, dropped, flowsExports *prometheus.Desc
	sanitizedDrops                        *prometheus.Desc
	pollCycle                             *prometheus.Desc
}

// newCollector describes the manager's metrics.
func newCollector(m *Manager) *collector {
	exp := []string{"id", "name", "owner", "state"}
	return &collector{
		m: m,
		experiments: prometheus.NewDesc("gims_experiments", "Experiments by lifecycle state.",
			[]string{"state"}, nil),
		devices: prometheus.NewDesc("gims_devices", "Capture devices by reachability (pending: awaiting approval).",
			[]string{"state"}, nil),
		deviceUp: prometheus.NewDesc("gims_device_up",
			"Whether the capture device answered its last contact (1) or not (0).", []string{"device"}, nil),
		packets: prometheus.NewDesc("gims_experiment_packets",
			"Packets captured by a running or paused experiment, all devices.", exp, nil),
		bytes: prometheus.NewDesc("gims_experiment_bytes",
			"Bytes (wire length) captured by a running or paused experiment.", exp, nil),
		dropped: prometheus.NewDesc("gims_experiment_dropped",
			"Packets dropped by the kernel or interface for an experiment.", exp, nil),
		sanitizedDrops: prometheus.NewDesc("gims_experiment_sanitized_drops",
			"Packets left out of an experiment's pcaps because sanitization left nothing safe of them.", exp, nil),
		pollCycle: prometheus.NewDesc("gims_am_poll_cycle_seconds",
			"How long the last round of the monitor took: polling the devices of every running experiment, storing their status, pulls.",
			nil, nil),
		flowsExports: prometheus.NewDesc("gims_experiment_flows_exported",
			"Flow records exported by an experiment.", exp, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.experiments, c.devices, c.deviceUp, c.packets, c.bytes, c.dropped,
		c.sanitizedDrops, c.flowsExports, c.pollCycle} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A database failure is
// reported as an invalid metric (the scrape shows the error) and the
// other families are still collected.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), metricsTimeout)
	defer cancel()
	ch <- prometheus.MustNewConstMetric(c.pollCycle, prometheus.GaugeValue, time.Duration(c.m.pollCycle.Load()).Seconds())
	if err := c.collectExperiments(ctx, ch); err != nil {
		ch <- prometheus.NewInvalidMetric(c.experiments, err)
	}
	if err := c.collectDevices(ctx, ch); err != nil {
		ch <- prometheus.NewInvalidMetric(c.devices, err)
	}
}

// collectExperiments sends the experiments by state and the counters of
// the running and paused ones, as the monitor last stored them.
func (c *collector) collectExperiments(ctx context.Context, ch chan<- prometheus.Metric) error {
	counts, err := c.m.db.CountExperiments(ctx)
	if err != nil {
		return fmt.Errorf("unable to count experiments: %w", err)
	}
	for _, st := range []string{StateInstantiated, StateConfigured, StateRunning, StatePaused, StateDone} {
		ch <- prometheus.MustNewConstMetric(c.experiments, prometheus.GaugeValue, float64(counts[st]), st)
	}
	live, err := c.m.db.ListExperiments(ctx, "", StateRunning, StatePaused)
	if err != nil {
		return fmt.Errorf("unable to list running experiments: %w", err)
	}
	for i := range live {
		e := &live[i]
		var packets, bytes, dropped, sanitized, flows uint64
		for j := range e.Devices {
			s := storedStatus(&e.Devices[j])
			packets += s.Packets
			bytes += s.Bytes
			dropped += s.Dropped
			sanitized += s.SanitizedDrops
			flows += s.FlowsExported
		}
		labels := []string{strconv.FormatInt(e.ID, 10), e.Name, e.Owner, e.State}
		for _, v := range []struct {
			desc  *prometheus.Desc
			value uint64
		}{{c.packets, packets}, {c.bytes, bytes}, {c.dropped, dropped},
			{c.sanitizedDrops, sanitized}, {c.flowsExports, flows}} {
			ch <- prometheus.MustNewConstMetric(v.desc, prometheus.GaugeValue, float64(v.value), labels...)
		}
	}
	return nil
}

// collectDevices sends the devices by reachability and whether each
// approved one is up.
func (c *collector) collectDevices(ctx context.Context, ch chan<- prometheus.Metric) error {
	devs, err := c.m.db.ListDevices(ctx)
	if err != nil {
		return fmt.Errorf("unable to list devices: %w", err)
	}
	var reach, unreach, pending int
	for _, d := range devs {
		switch {
		case d.Pending:
			pending++
			continue
		case d.Reachable:
			reach++
		default:
			unreach++
		}
		ch <- prometheus.MustNewConstMetric(c.deviceUp, prometheus.GaugeValue, b2f(d.Reachable), d.Name)
	}
	for _, v := range []struct {
		state string
		n     int
	}{{"reachable", reach}, {"unreachable", unreach}, {"pending", pending}} {
		ch <- prometheus.MustNewConstMetric(c.devices, prometheus.GaugeValue, float64(v.n), v.state)
	}
	return nil
}

// b2f is 1 for true.
func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
