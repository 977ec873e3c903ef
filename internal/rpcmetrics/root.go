// Package rpcmetrics counts the calls of an XML-RPC server for
// Prometheus, by method and by fault code. Both daemons use it for their
// API (gims_api_calls_total on the AM, gims_capd_api_calls_total on the
// capture daemon). Label values come only from bounded sets, never from
// what a caller sends: the server's own method names (any other name is
// counted as "unknown") and the fault codes the API defines (any other
// code is counted as "other"). A caller inventing method names therefore
// cannot make /metrics grow.
package rpcmetrics

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gimsproject/gims/xmlrpc"
)

// Label values for what is outside the known sets.
const (
	// UnknownMethod labels calls to a method the server does not have.
	UnknownMethod = "unknown"
	// OtherCode labels faults whose code the API does not define.
	OtherCode = "other"
)

// Calls counts the calls of one XML-RPC server.
type Calls struct {
	srv    *xmlrpc.Server
	codes  map[int]string
	calls  *prometheus.CounterVec
	faults *prometheus.CounterVec
}

// New registers on reg the counters <prefix>_api_calls_total{method} and
// <prefix>_api_faults_total{method,code} of srv, whose services must be
// registered already: every known method starts at zero. codes are the
// API's own fault codes; the standard ones of package xmlrpc are always
// known.
func New(reg prometheus.Registerer, prefix string, srv *xmlrpc.Server, codes ...int) (*Calls, error) {
	c := &Calls{
		srv:   srv,
		codes: map[int]string{},
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: prefix + "_api_calls_total",
			Help: `API calls by method ("unknown": a method the API does not have, or a call refused before its body was read).`,
		}, []string{"method"}),
		faults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: prefix + "_api_faults_total",
			Help: `API calls answered with a fault, by method and fault code ("other": a code the API does not define).`,
		}, []string{"method", "code"}),
	}
	for _, code := range append(codes, xmlrpc.CodeParseError, xmlrpc.CodeUnknownMethod, xmlrpc.CodeInvalidParams,
		xmlrpc.CodeInternal, xmlrpc.CodeApplication) {
		c.codes[code] = strconv.Itoa(code)
	}
	for _, m := range append(srv.Methods(), UnknownMethod) {
		c.calls.WithLabelValues(m)
	}
	for _, col := range []prometheus.Collector{c.calls, c.faults} {
		if err := reg.Register(col); err != nil {
			return nil, fmt.Errorf("unable to register the API call metrics: %w", err)
		}
	}
	return c, nil
}

// Count counts one call of method, as the caller named it; a non-zero
// faultCode counts a fault too.
func (c *Calls) Count(method string, faultCode int) {
	name, ok := c.srv.KnownMethod(method)
	if !ok {
		name = UnknownMethod
	}
	c.calls.WithLabelValues(name).Inc()
	if faultCode == 0 {
		return
	}
	code, ok := c.codes[faultCode]
	if !ok {
		code = OtherCode
	}
	c.faults.WithLabelValues(name, code).Inc()
}

// Durations measures the time of an XML-RPC server's calls for
// Prometheus, by method: the server's own time (device time excluded)
// and the time its calls waited on capture devices. The AM uses it
// (gims_api_am_seconds, gims_api_device_seconds) so that its own share of
// a call is seen apart from the devices' (issue 15). Methods are labelled
// as Calls labels them.
type Durations struct {
	srv    *xmlrpc.Server
	own    *prometheus.HistogramVec
	device *prometheus.HistogramVec
}

// durationBuckets are the histograms' buckets in seconds: 1 ms to 10 s.
var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// NewDurations registers on reg the histograms <prefix>_api_am_seconds{method}
// and <prefix>_api_device_seconds{method} of srv, whose services must be
// registered already.
func NewDurations(reg prometheus.Registerer, prefix string, srv *xmlrpc.Server) (*Durations, error) {
	d := &Durations{
		srv: srv,
		own: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    prefix + "_api_am_seconds",
			Help:    "Time of an API call in the aggregate manager, the time it waited on capture devices excluded, by method.",
			Buckets: durationBuckets,
		}, []string{"method"}),
		device: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    prefix + "_api_device_seconds",
			Help:    "Wall time an API call waited on capture devices (calls in parallel counted once), by method.",
			Buckets: durationBuckets,
		}, []string{"method"}),
	}
	for _, col := range []prometheus.Collector{d.own, d.device} {
		if err := reg.Register(col); err != nil {
			return nil, fmt.Errorf("unable to register the API duration metrics: %w", err)
		}
	}
	return d, nil
}

// Observe records one call of method that took total, device of which
// waiting on devices.
func (d *Durations) Observe(method string, total, device time.Duration) {
	name, ok := d.srv.KnownMethod(method)
	if !ok {
		name = UnknownMethod
	}
	device = min(device, total)
	d.own.WithLabelValues(name).Observe((total - device).Seconds())
	d.device.WithLabelValues(name).Observe(device.Seconds())
}
