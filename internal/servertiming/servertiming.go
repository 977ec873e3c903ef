// Package servertiming measures, per API request of the aggregate
// manager, the wall time spent waiting on capture devices, and writes it
// with the request's total in a standard Server-Timing response header
// (https://www.w3.org/TR/server-timing/):
//
//	Server-Timing: device;dur=12.3, db;dur=1.2, am;dur=4.5, total;dur=16.8, pool;dur=0.4
//
// (durations in milliseconds; am = total − device; db, the time spent
// waiting for and in database writes, is part of am; pool, the time device
// calls waited for a connection to their device, is part of device). A
// request's Timer
// travels in its context; the device client opens a span around every
// call it makes (Begin). Spans that overlap (calls to several devices in
// parallel) count once, as the wall time during which at least one device
// call was in flight, not as the sum of the calls. Load tests read the
// header to tell the AM's own time from the devices' (issue 15: lifecycle
// calls p99 < 250 ms, device time excluded).
package servertiming

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Header is the response header's name.
const Header = "Server-Timing"

// Metric names in the header.
const (
	// Device is the wall time at least one device call was in flight.
	Device = "device"
	// AM is the rest of the request's time: total − device.
	AM = "am"
	// Total is the request's time in the handler, until its answer was
	// written.
	Total = "total"
	// DB is the wall time at least one database write of the request was
	// queued or running (part of AM).
	DB = "db"
	// Pool is the wall time at least one device call of the request
	// waited for a connection to its device (part of Device).
	Pool = "pool"
)

// Kind is what a span waits on.
type Kind int

// The kinds of spans.
const (
	// KindDevice is a call to a capture device.
	KindDevice Kind = iota
	// KindDB is a database write, its wait in the write queue included.
	KindDB
	// KindPool is the wait for a connection to a device (part of a device
	// call): the AM bounds its connections to each device.
	KindPool
	nKinds
)

// span accumulates the spans of one kind.
type span struct {
	inFlight int           // spans open
	since    time.Time     // when inFlight went from 0 to 1
	total    time.Duration // closed spans of inFlight > 0
}

// Timer accumulates one request's device time. It is safe for concurrent
// use: the device calls of a transition run in parallel.
type Timer struct {
	now   func() time.Time
	start time.Time

	mu    sync.Mutex
	spans [nKinds]span
}

// New returns a Timer whose request starts now (now() of the clock).
func New(now func() time.Time) *Timer {
	return &Timer{now: now, start: now()}
}

// key is the context key of a request's Timer.
type key struct{}

// With returns ctx carrying t.
func With(ctx context.Context, t *Timer) context.Context { return context.WithValue(ctx, key{}, t) }

// From returns the Timer ctx carries, or nil.
func From(ctx context.Context) *Timer {
	t, _ := ctx.Value(key{}).(*Timer)
	return t
}

// nothing is the end of a span that was not measured.
func nothing() {}

// Begin opens a device span on the Timer ctx carries and returns what
// closes it; without a Timer it does nothing.
func Begin(ctx context.Context) (end func()) { return BeginKind(ctx, KindDevice) }

// BeginKind opens a span of kind k on the Timer ctx carries and returns
// what closes it; without a Timer it does nothing.
func BeginKind(ctx context.Context, k Kind) (end func()) {
	t := From(ctx)
	if t == nil {
		return nothing
	}
	return t.BeginKind(k)
}

// Begin opens a device span and returns what closes it (once).
func (t *Timer) Begin() (end func()) { return t.BeginKind(KindDevice) }

// BeginKind opens a span of kind k and returns what closes it (once).
func (t *Timer) BeginKind(k Kind) (end func()) {
	t.mu.Lock()
	sp := &t.spans[k]
	if sp.inFlight == 0 {
		sp.since = t.now()
	}
	sp.inFlight++
	t.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			t.mu.Lock()
			sp.inFlight--
			if sp.inFlight == 0 {
				sp.total += t.now().Sub(sp.since)
			}
			t.mu.Unlock()
		})
	}
}

// Device returns the device time so far, a span still open counted up
// to now.
func (t *Timer) Device() time.Duration { return t.Spent(KindDevice) }

// Spent returns the time of the spans of kind k so far, a span still
// open counted up to now.
func (t *Timer) Spent(k Kind) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	sp := &t.spans[k]
	d := sp.total
	if sp.inFlight > 0 {
		d += t.now().Sub(sp.since)
	}
	return d
}

// Elapsed returns the time since the request started.
func (t *Timer) Elapsed() time.Duration { return t.now().Sub(t.start) }

// Value is the header's value now: device, pool, db, am and total
// durations.
func (t *Timer) Value() string {
	total := t.Elapsed()
	device := min(t.Device(), total)
	v := Format(device, min(t.Spent(KindDB), total-device), total)
	return v + ", " + string(appendMetric(nil, Pool, min(t.Spent(KindPool), device)))
}

// Format returns the header value of a request that took total, device of
// which waiting on devices and db waiting for and in database writes.
func Format(device, db, total time.Duration) string {
	b := make([]byte, 0, 80)
	b = appendMetric(b, Device, device)
	b = append(b, ", "...)
	b = appendMetric(b, DB, db)
	b = append(b, ", "...)
	b = appendMetric(b, AM, total-device)
	b = append(b, ", "...)
	b = appendMetric(b, Total, total)
	return string(b)
}

// appendMetric appends "name;dur=<ms>".
func appendMetric(b []byte, name string, d time.Duration) []byte {
	b = append(b, name...)
	b = append(b, ";dur="...)
	return strconv.AppendFloat(b, float64(d)/float64(time.Millisecond), 'f', 3, 64)
}

// Parse reads the durations of a Server-Timing header value by metric
// name; metrics without a valid dur are left out.
func Parse(value string) map[string]time.Duration {
	out := map[string]time.Duration{}
	for metric := range strings.SplitSeq(value, ",") {
		params := strings.Split(strings.TrimSpace(metric), ";")
		name := strings.TrimSpace(params[0])
		if name == "" {
			continue
		}
		for _, p := range params[1:] {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "dur") {
				continue
			}
			ms, err := strconv.ParseFloat(strings.Trim(strings.TrimSpace(v), `"`), 64)
			if err != nil || ms < 0 {
				continue
			}
			out[name] = time.Duration(ms * float64(time.Millisecond))
		}
	}
	return out
}
