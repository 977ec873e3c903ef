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
	errors    [nMethods]int
	samples   []string
	// deferred counts lifecycle picks made while every lifecycle slot
	// was taken (another call was made instead).
	deferred int
	// sequences counts the lifecycle sequences that ran to the end.
	sequences int
}

// record notes one call of m that took d and failed with err (nil: it
// succeeded).
func (r *recorder) record(m method, d time.Duration, err error) {
	r.latencies[m] = append(r.latencies[m], d)
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
}

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
	var all []time.Duration
	for m := range nMethods {
		var lat []time.Duration
		row := Row{Method: m.String()}
		for _, r := range recs {
			lat = append(lat, r.latencies[m]...)
			row.Errors += r.errors[m]
		}
		row.Calls = len(lat)
		row.P50, row.P99, row.Max = percentiles(lat)
		rep.Rows = append(rep.Rows, row)
		rep.Total.Calls += row.Calls
		rep.Total.Errors += row.Errors
		all = append(all, lat...)
	}
	rep.Total.Method = "all"
	rep.Total.P50, rep.Total.P99, rep.Total.Max = percentiles(all)
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
	b.WriteString("| method | calls | calls/s | p50 (ms) | p99 (ms) | max (ms) | errors |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
	line := func(row Row, bold bool) {
		name := row.Method
		if bold {
			name = "**" + name + "**"
		}
		fmt.Fprintf(&b, "| %s | %d | %.1f | %s | %s | %s | %d |\n", name, row.Calls, rate(row.Calls, r.Elapsed),
			ms(row.P50), ms(row.P99), ms(row.Max), row.Errors)
	}
	for _, row := range r.Rows {
		line(row, false)
	}
	line(r.Total, true)
	b.WriteString("\n")
	b.WriteString(r.Summary())
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
