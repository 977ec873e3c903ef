package am

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// Metrics counts API calls and keeps the last status of the experiments
// that are running or paused, for /metrics.
type Metrics struct {
	mu     sync.Mutex
	calls  map[string]uint64    // by method
	faults map[callFault]uint64 // by method and code
	exps   map[int64]expGauges  // running or paused experiments
}

// callFault keys the fault counter.
type callFault struct {
	method string
	code   int
}

// expGauges are one experiment's last counters.
type expGauges struct {
	name, owner, state             string
	packets, bytes, dropped, flows uint64
}

func newMetrics() *Metrics {
	return &Metrics{calls: map[string]uint64{}, faults: map[callFault]uint64{}, exps: map[int64]expGauges{}}
}

// CountCall counts one API call of method; a non-zero faultCode counts
// a fault too.
func (x *Metrics) CountCall(method string, faultCode int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.calls[method]++
	if faultCode != 0 {
		x.faults[callFault{method, faultCode}]++
	}
}

// setExperiment records an experiment's latest status; experiments that
// are neither running nor paused are dropped.
func (x *Metrics) setExperiment(e *db.Experiment, s *amapi.Status) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if e.State != StateRunning && e.State != StatePaused {
		delete(x.exps, e.ID)
		return
	}
	x.exps[e.ID] = expGauges{name: e.Name, owner: e.Owner, state: e.State, packets: s.Packets, bytes: s.Bytes,
		dropped: s.Dropped, flows: s.FlowsExported}
}

// WriteMetrics writes the Prometheus text exposition (format 0.0.4):
// experiments by state, devices by reachability, API calls and faults by
// method, and the counters of running and paused experiments.
func (m *Manager) WriteMetrics(ctx context.Context, w io.Writer) error {
	counts, err := m.db.CountExperiments(ctx)
	if err != nil {
		return err
	}
	devs, err := m.db.ListDevices(ctx)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	header(bw, "gims_experiments", "gauge", "Experiments by lifecycle state.")
	for _, st := range []string{StateInstantiated, StateConfigured, StateRunning, StatePaused, StateDone} {
		fmt.Fprintf(bw, "gims_experiments{state=%s} %d\n", quote(st), counts[st])
	}
	header(bw, "gims_devices", "gauge", "Capture devices by reachability (pending: awaiting approval).")
	var reach, unreach, pending int
	for _, d := range devs {
		switch {
		case d.Pending:
			pending++
		case d.Reachable:
			reach++
		default:
			unreach++
		}
	}
	fmt.Fprintf(bw, "gims_devices{state=\"reachable\"} %d\ngims_devices{state=\"unreachable\"} %d\ngims_devices{state=\"pending\"} %d\n",
		reach, unreach, pending)
	header(bw, "gims_device_up", "gauge", "Whether the capture device answered its last contact (1) or not (0).")
	for _, d := range devs {
		if !d.Pending {
			fmt.Fprintf(bw, "gims_device_up{device=%s} %d\n", quote(d.Name), b2i(d.Reachable))
		}
	}
	m.metrics.write(bw)
	return bw.Flush()
}

// write writes the call counters and experiment gauges.
func (x *Metrics) write(w io.Writer) {
	x.mu.Lock()
	defer x.mu.Unlock()
	header(w, "gims_api_calls_total", "counter", "API calls by method.")
	for _, k := range sortedKeys(x.calls, strings.Compare) {
		fmt.Fprintf(w, "gims_api_calls_total{method=%s} %d\n", quote(k), x.calls[k])
	}
	header(w, "gims_api_faults_total", "counter", "API calls answered with a fault, by method and fault code.")
	for _, k := range sortedKeys(x.faults, func(a, b callFault) int {
		if c := strings.Compare(a.method, b.method); c != 0 {
			return c
		}
		return a.code - b.code
	}) {
		fmt.Fprintf(w, "gims_api_faults_total{method=%s,code=\"%d\"} %d\n", quote(k.method), k.code, x.faults[k])
	}
	ids := sortedKeys(x.exps, cmp.Compare[int64])
	for _, g := range []struct {
		name, help string
		value      func(expGauges) uint64
	}{
		{"gims_experiment_packets", "Packets captured by a running or paused experiment, all devices.", func(e expGauges) uint64 { return e.packets }},
		{"gims_experiment_bytes", "Bytes (wire length) captured by a running or paused experiment.", func(e expGauges) uint64 { return e.bytes }},
		{"gims_experiment_dropped", "Packets dropped by the kernel or interface for an experiment.", func(e expGauges) uint64 { return e.dropped }},
		{"gims_experiment_flows_exported", "Flow records exported by an experiment.", func(e expGauges) uint64 { return e.flows }},
	} {
		header(w, g.name, "gauge", g.help)
		for _, id := range ids {
			e := x.exps[id]
			fmt.Fprintf(w, "%s{id=\"%d\",name=%s,owner=%s,state=%s} %d\n", g.name, id, quote(e.name), quote(e.owner),
				quote(e.state), g.value(e))
		}
	}
}

// header writes the HELP and TYPE lines of a metric family.
func header(w io.Writer, name, typ, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// quote quotes a label value as the exposition format wants.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// b2i is 1 for true.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sortedKeys returns m's keys in order.
func sortedKeys[K comparable, V any](m map[K]V, cmp func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp)
	return keys
}
