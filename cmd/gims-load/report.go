package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// method is one row of the report: an XML-RPC method, with
// GetExperimentResults split by kind and the resume of a paused
// experiment apart from its first start.
type method int

// The methods the clients call, in the report's order.
const (
	mStatus method = iota
	mResultsCounters
	mResultsFlows
	mResultsFiles
	mList
	mSettings
	mCreate
	mConfigure
	mStart
	mPause
	mResume
	mStop
	nMethods
)

// methodNames are the report's labels of the methods.
var methodNames = [nMethods]string{
	mStatus:          "GetExperimentStatus",
	mResultsCounters: "GetExperimentResults counters",
	mResultsFlows:    "GetExperimentResults flows",
	mResultsFiles:    "GetExperimentResults files",
	mList:            "ListExperiments",
	mSettings:        "GetExperimentSettings",
	mCreate:          "CreateExperiment",
	mConfigure:       "ConfigureExperiment",
	mStart:           "StartExperiment",
	mPause:           "PauseExperiment",
	mResume:          "StartExperiment (resume)",
	mStop:            "StopExperiment",
}

// String returns the report label of m.
func (m method) String() string { return methodNames[m] }

// maxErrorSamples bounds the distinct error texts a report keeps.
const maxErrorSamples = 20

// recorder holds one client's measurements; clients own theirs, so that
// recording takes no lock, and the run merges them at the end.
type recorder struct {
	latencies [nMethods][]time.Duration
	// devices are the AM's device times of the calls whose answer said
	// it (Server-Timing), own their latencies without it and am the AM's
	// own time as it measured it (its handler, device time excluded).
	devices, own, am [nMethods][]time.Duration
	// writes are the AM's database write times (Server-Timing db, part
	// of am), when the answer said it.
	writes [nMethods][]time.Duration
	// pool are the AM's waits for a connection to the device
	// (Server-Timing pool, part of device), when the answer said it.
	pool    [nMethods][]time.Duration
	errors  [nMethods]int
	samples []string
	// deferred counts lifecycle picks made while every lifecycle slot
	// was taken (another call was made instead).
	deferred int
	// sequences counts the lifecycle sequences that ran to the end.
	sequences int
}

// record notes one call of m that took d, device of which the AM spent
// waiting on devices and am in its handler otherwise (both negative: the
// answer did not say), and failed with err (nil: it succeeded).
func (r *recorder) record(m method, d, device, am time.Duration, err error) {
	r.latencies[m] = append(r.latencies[m], d)
	if device >= 0 {
		device = min(device, d)
		r.devices[m] = append(r.devices[m], device)
		r.own[m] = append(r.own[m], d-device)
		r.am[m] = append(r.am[m], am)
	}
	if err != nil {
		r.errors[m]++
		r.sample(fmt.Sprintf("%s: %v", m, err))
	}
}

// sample keeps an error text unless it is known or enough are kept.
func (r *recorder) sample(s string) {
	if len(r.samples) < maxErrorSamples && !slices.Contains(r.samples, s) {
		r.samples = append(r.samples, s)
	}
}

// Row is the report of one method (or of all of them: Report.Total).
type Row struct {
	// Method is the method's label.
	Method string
	// Calls and Errors count the calls made and those that failed.
	Calls, Errors int
	// P50, P99 and Max are latency percentiles over every call.
	P50, P99, Max time.Duration
	// Timed counts the calls whose answer said the AM's device time
	// (its Server-Timing header); DeviceP50 and DeviceP99 are that time's
	// percentiles, OwnP50 and OwnP99 those of the latency without it
	// (client-observed minus device time: the AM's share, the network
	// and the client included).
	Timed                                int
	DeviceP50, DeviceP99, OwnP50, OwnP99 time.Duration
	// AMP50 and AMP99 are the percentiles of the AM's own time as it
	// measured it (Server-Timing am: from the request's authentication to
	// its answer, device time excluded); OwnP50 and OwnP99 add what
	// happens outside its handler (connection, scheduling, the client).
	AMP50, AMP99 time.Duration
}

// Report is the outcome of a load run.
type Report struct {
	// Clients and Elapsed are how many clients ran and for how long
	// (the measured phase only, not the setup).
	Clients int
	Elapsed time.Duration
	// Rows has one row per method, in a fixed order; Total sums them.
	Rows  []Row
	Total Row
	// Sequences counts the lifecycle sequences (create → … → stop) run;
	// Deferred the lifecycle picks made while every slot was taken.
	Sequences, Deferred int
	// LiveExperiments is how many long-lived experiments ran, and
	// LivePackets how many packets they counted together.
	LiveExperiments int
	LivePackets     uint64
	// Datagrams is how many UDP datagrams the traffic generator sent.
	Datagrams uint64
	// ErrorSamples are distinct error texts (at most maxErrorSamples).
	ErrorSamples []string
	// LifecycleOwnP99 is the p99 of the lifecycle calls' latencies
	// (create, configure, start, pause, resume, stop) without their
	// device time, over LifecycleTimed calls: the figure of the target
	// (LifecycleTarget).
	LifecycleOwnP99 time.Duration
	LifecycleTimed  int
	// LifecycleAMP99 is the p99 of the AM's own time of the lifecycle
	// calls, as it measured it (Row.AMP99).
	LifecycleAMP99 time.Duration
	// LifecycleDBP50 and LifecycleDBP99 are the percentiles of the
	// lifecycle calls' database write time (Server-Timing db: waiting for
	// and in the write queue's transactions, part of the AM's own time).
	LifecycleDBP50, LifecycleDBP99 time.Duration
	// LifecyclePoolP50 and LifecyclePoolP99 are the percentiles of the
	// lifecycle calls' wait for a connection to the device (Server-Timing
	// pool: part of the device time, but a queue of the AM's connection
	// bound).
	LifecyclePoolP50, LifecyclePoolP99 time.Duration
}

// LifecycleTarget is issue 15's bound on LifecycleOwnP99 at 100 clients.
const LifecycleTarget = 250 * time.Millisecond

// lifecycle tells whether m is a lifecycle call.
func (m method) lifecycle() bool { return m >= mCreate && m <= mStop }

// Errors is the number of failed calls.
func (r *Report) Errors() int { return r.Total.Errors }

// Row returns the row of the method labelled name.
func (r *Report) Row(name string) (Row, bool) {
	for _, row := range r.Rows {
		if row.Method == name {
			return row, true
		}
	}
	return Row{}, false
}

// merge builds the report rows from the clients' recorders.
func merge(recs []*recorder, clients int, elapsed time.Duration) Report {
	rep := Report{Clients: clients, Elapsed: elapsed}
	var all, allDev, allOwn, allAM, lcOwn, lcAM, lcDB, lcPool []time.Duration
	for m := range nMethods {
		var lat, dev, own, am []time.Duration
		row := Row{Method: m.String()}
		for _, r := range recs {
			lat = append(lat, r.latencies[m]...)
			dev = append(dev, r.devices[m]...)
			own = append(own, r.own[m]...)
			am = append(am, r.am[m]...)
			row.Errors += r.errors[m]
		}
		row.Calls, row.Timed = len(lat), len(dev)
		row.P50, row.P99, row.Max = percentiles(lat)
		row.DeviceP50, row.DeviceP99, _ = percentiles(dev)
		row.OwnP50, row.OwnP99, _ = percentiles(own)
		row.AMP50, row.AMP99, _ = percentiles(am)
		allAM = append(allAM, am...)
		rep.Rows = append(rep.Rows, row)
		rep.Total.Calls += row.Calls
		rep.Total.Errors += row.Errors
		rep.Total.Timed += row.Timed
		all = append(all, lat...)
		allDev = append(allDev, dev...)
		allOwn = append(allOwn, own...)
		if m.lifecycle() {
			lcOwn = append(lcOwn, own...)
			lcAM = append(lcAM, am...)
			for _, r := range recs {
				lcDB = append(lcDB, r.writes[m]...)
				lcPool = append(lcPool, r.pool[m]...)
			}
		}
	}
	rep.Total.Method = "all"
	rep.Total.P50, rep.Total.P99, rep.Total.Max = percentiles(all)
	rep.Total.DeviceP50, rep.Total.DeviceP99, _ = percentiles(allDev)
	rep.Total.OwnP50, rep.Total.OwnP99, _ = percentiles(allOwn)
	rep.Total.AMP50, rep.Total.AMP99, _ = percentiles(allAM)
	rep.LifecycleTimed = len(lcOwn)
	_, rep.LifecycleOwnP99, _ = percentiles(lcOwn)
	_, rep.LifecycleAMP99, _ = percentiles(lcAM)
	rep.LifecycleDBP50, rep.LifecycleDBP99, _ = percentiles(lcDB)
	rep.LifecyclePoolP50, rep.LifecyclePoolP99, _ = percentiles(lcPool)
	for _, r := range recs {
		rep.Sequences += r.sequences
		rep.Deferred += r.deferred
		for _, s := range r.samples {
			if len(rep.ErrorSamples) < maxErrorSamples && !slices.Contains(rep.ErrorSamples, s) {
				rep.ErrorSamples = append(rep.ErrorSamples, s)
			}
		}
	}
	return rep
}

// percentiles sorts lat and returns its 50th and 99th percentiles
// (nearest rank) and its maximum; all zero when lat is empty.
func percentiles(lat []time.Duration) (p50, p99, maxLat time.Duration) {
	if len(lat) == 0 {
		return 0, 0, 0
	}
	slices.Sort(lat)
	return rank(lat, 0.50), rank(lat, 0.99), lat[len(lat)-1]
}

// rank is the nearest-rank q-quantile of the sorted slice lat.
func rank(lat []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(lat))+0.999999999) - 1
	return lat[max(0, min(i, len(lat)-1))]
}

// rate is n per second of d.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// ms formats a duration in milliseconds with a precision that suits it.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// WriteTable writes the report as a markdown table and a summary line.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| method | calls | calls/s | p50 (ms) | p99 (ms) | max (ms) | device p50 | device p99 | " +
		"excl. device p50 | excl. device p99 | AM p50 | AM p99 | errors |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	line := func(row Row, bold bool) {
		name := row.Method
		if bold {
			name = "**" + name + "**"
		}
		dev := "| – | – | – | – | – | –"
		if row.Timed > 0 {
			dev = fmt.Sprintf("| %s | %s | %s | %s | %s | %s", ms(row.DeviceP50), ms(row.DeviceP99), ms(row.OwnP50),
				ms(row.OwnP99), ms(row.AMP50), ms(row.AMP99))
		}
		fmt.Fprintf(&b, "| %s | %d | %.1f | %s | %s | %s %s | %d |\n", name, row.Calls, rate(row.Calls, r.Elapsed),
			ms(row.P50), ms(row.P99), ms(row.Max), dev, row.Errors)
	}
	for _, row := range r.Rows {
		line(row, false)
	}
	line(r.Total, true)
	b.WriteString("\n")
	b.WriteString(r.Summary())
	b.WriteString("\n\n")
	b.WriteString(r.Target())
	b.WriteString("\n")
	for _, s := range r.ErrorSamples {
		fmt.Fprintf(&b, "- error: %s\n", s)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Summary is the report in one line.
func (r *Report) Summary() string {
	return fmt.Sprintf("%d clients for %.1f s: %d calls, %.1f calls/s, p50 %s ms, p99 %s ms, max %s ms, %d errors; "+
		"%d lifecycle sequences (%d picks deferred, every slot taken); %d live experiments counted %d packets "+
		"(%d datagrams sent)",
		r.Clients, r.Elapsed.Seconds(), r.Total.Calls, rate(r.Total.Calls, r.Elapsed), ms(r.Total.P50),
		ms(r.Total.P99), ms(r.Total.Max), r.Total.Errors, r.Sequences, r.Deferred, r.LiveExperiments,
		r.LivePackets, r.Datagrams)
}

// Target says whether the lifecycle calls met issue 15's target, device
// time excluded.
func (r *Report) Target() string {
	if r.LifecycleTimed == 0 {
		return "Lifecycle calls, device time excluded: not measured (no answer had a Server-Timing header)."
	}
	verdict := "met"
	if r.LifecycleOwnP99 >= LifecycleTarget {
		verdict = "**not met**"
	}
	return fmt.Sprintf("Lifecycle calls (create, configure, start, pause, resume, stop), device time excluded "+
		"(client-observed latency minus the AM's Server-Timing device time): p99 %s ms over %d calls; "+
		"target p99 < %s ms at 100 clients: %s. The AM's own time (Server-Timing am, its handler alone): p99 %s ms, "+
		"of which database writes (queue included) p50 %s ms, p99 %s ms. The device time includes the wait for "+
		"one of the AM's connections to the device: p50 %s ms, p99 %s ms.",
		ms(r.LifecycleOwnP99), r.LifecycleTimed, ms(LifecycleTarget), verdict, ms(r.LifecycleAMP99),
		ms(r.LifecycleDBP50), ms(r.LifecycleDBP99), ms(r.LifecyclePoolP50), ms(r.LifecyclePoolP99))
}
