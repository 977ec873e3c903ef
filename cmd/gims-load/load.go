package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gimsproject/gims/internal/servertiming"
	"github.com/gimsproject/gims/xmlrpc"
)

// Config is one load run. DefaultConfig gives the run of `make load`.
type Config struct {
	// URL is the AM's XML-RPC URL with an admin's credentials
	// (http://admin:pw@127.0.0.1:8080/RPC2). Required.
	URL string
	// Device is the AM device the experiments capture on, as "name" or
	// "name:interface"; a bare name captures on Interface. Required.
	Device string
	// Interface is the capture interface of a bare Device (default
	// "lo": the traffic generator sends on loopback).
	Interface string
	// Clients is the number of concurrent XML-RPC clients (default 100).
	Clients int
	// Duration is how long the clients run (default 60 s).
	Duration time.Duration
	// Experiments is the number of long-lived running experiments the
	// clients read (default 5).
	Experiments int
	// Experimenters is the number of experimenter accounts made for the
	// run (default 4, at most Experiments-1): they own some of the live
	// experiments, and the clients take turns among them and the admin,
	// so that the experimenters' authorization paths are exercised.
	Experimenters int
	// LifecycleSlots bounds the short-lived experiments in flight at
	// once: a capture daemon runs at most 32 jobs. 0 means
	// 32 - Experiments - 2 (at least 1).
	LifecycleSlots int
	// PacketRate is how many UDP datagrams per second the traffic
	// generator sends to the live experiments' ports on 127.0.0.1
	// (default 500; 0 sends none).
	PacketRate int
	// CallTimeout bounds every call (default 30 s).
	CallTimeout time.Duration
	// CPUProfile, when set, is the file gims-load writes a CPU profile
	// of itself to (main's -cpuprofile).
	CPUProfile string
	// Progress, when set, receives a line per setup step and per
	// 10 s of the run.
	Progress io.Writer
}

// deviceJobLimit is the capture daemon's default bound on its running or
// paused jobs (capture/job.DefaultMaxJobs).
const deviceJobLimit = 32

// DefaultConfig returns the run: 100 clients for 60 s against 5
// live experiments, 4 experimenters, 500 datagrams/s.
func DefaultConfig() Config {
	return Config{
		Interface:     "lo",
		Clients:       100,
		Duration:      60 * time.Second,
		Experiments:   5,
		Experimenters: 4,
		PacketRate:    500,
		CallTimeout:   30 * time.Second,
	}
}

// check validates c and fills in the derived defaults.
func (c *Config) check() error {
	switch {
	case c.URL == "":
		return errors.New("the AM URL (with an admin's credentials) is required")
	case c.Device == "":
		return errors.New("the device name is required")
	case c.Clients < 1:
		return fmt.Errorf("clients must be at least 1, not %d", c.Clients)
	case c.Duration <= 0:
		return fmt.Errorf("duration must be positive, not %s", c.Duration)
	case c.Experiments < 1:
		return fmt.Errorf("experiments must be at least 1, not %d", c.Experiments)
	case c.Experiments > deviceJobLimit-2:
		return fmt.Errorf("at most %d live experiments fit on one capture daemon, not %d", deviceJobLimit-2, c.Experiments)
	case c.Experimenters < 0:
		return fmt.Errorf("experimenters must not be negative, not %d", c.Experimenters)
	case c.PacketRate < 0:
		return fmt.Errorf("packet rate must not be negative, not %d", c.PacketRate)
	}
	if !strings.Contains(c.Device, ":") {
		if c.Interface == "" {
			c.Interface = "lo"
		}
		c.Device += ":" + c.Interface
	}
	c.Experimenters = min(c.Experimenters, c.Experiments-1)
	if c.LifecycleSlots <= 0 {
		c.LifecycleSlots = max(1, deviceJobLimit-c.Experiments-2)
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 30 * time.Second
	}
	return nil
}

// identity is a user the clients call as, with the live experiments it
// may see.
type identity struct {
	url  string
	name string
	live []int64
}

// op is what a client does on one turn.
type op int

// The turns of a client, weighted by mix.
const (
	opStatus op = iota
	opResultsCounters
	opResultsFlows
	opResultsFiles
	opList
	opSettings
	opLifecycle
	nOps
)

// mix is the weight (per mille) of each op: status 40 %, results 25 %
// (counters, flows, files), list 10 %, settings 10 %, lifecycle 15 %.
var mix = [nOps]int{
	opStatus:          400,
	opResultsCounters: 84,
	opResultsFlows:    83,
	opResultsFiles:    83,
	opList:            100,
	opSettings:        100,
	opLifecycle:       150,
}

// pick draws an op; without lifecycle, it draws among the others in
// their proportions.
func pick(r *rand.Rand, lifecycle bool) op {
	total := 1000
	if !lifecycle {
		total -= mix[opLifecycle]
	}
	n := r.IntN(total)
	for o := range nOps {
		if o == opLifecycle && !lifecycle {
			continue
		}
		if n < mix[o] {
			return o
		}
		n -= mix[o]
	}
	return opStatus
}

// runner is one load run in progress.
type runner struct {
	cfg   Config
	http  *http.Client
	admin identity
	users []identity // admin first, then the experimenters
	tag   string     // unique prefix of this run's names
	ports []int      // the live experiments' UDP ports
	live  []liveExp
	slots chan struct{}
	seq   atomic.Int64
	// rpc keeps type descriptions and buffers across the calls.
	rpc xmlrpc.Caller
}

// liveExp is a long-lived experiment and its owner.
type liveExp struct {
	id    int64
	owner *identity
}

// Run makes the live experiments and the experimenters, runs the clients
// for cfg.Duration, stops the experiments it made and returns the
// report. An error means the run itself could not be set up or torn
// down; failed calls during the run are counted in the report.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.check(); err != nil {
		return Report{}, err
	}
	base, err := url.Parse(cfg.URL)
	if err != nil {
		return Report{}, fmt.Errorf("AM URL: %w", err)
	}
	if base.User == nil {
		return Report{}, errors.New("AM URL: no credentials (http://admin:password@host:port/RPC2)")
	}
	if h := base.Hostname(); h != "127.0.0.1" && h != "::1" && h != "localhost" {
		return Report{}, fmt.Errorf("AM URL: %s is not a loopback address; the load test stays on this machine", h)
	}
	transport := &http.Transport{MaxIdleConns: cfg.Clients + 8, MaxIdleConnsPerHost: cfg.Clients + 8,
		IdleConnTimeout: time.Minute}
	defer transport.CloseIdleConnections()
	r := &runner{cfg: cfg, http: &http.Client{Transport: timingTransport{next: transport}}, tag: runTag(),
		slots: make(chan struct{}, cfg.LifecycleSlots)}
	r.admin = identity{url: cfg.URL, name: base.User.Username()}
	r.users = []identity{r.admin}

	traffic, err := newTraffic(cfg.Experiments)
	if err != nil {
		return Report{}, err
	}
	defer traffic.close()
	r.ports = traffic.ports()

	if err := r.setup(ctx); err != nil {
		r.teardown()
		return Report{}, err
	}
	tctx, stopTraffic := context.WithCancel(ctx)
	var twg sync.WaitGroup
	twg.Add(1)
	go func() {
		defer twg.Done()
		traffic.send(tctx, cfg.PacketRate)
	}()

	rep := r.clients(ctx)
	stopTraffic()
	twg.Wait()
	rep.Datagrams = traffic.sent.Load()
	rep.LiveExperiments = len(r.live)
	packets, err := r.teardown()
	rep.LivePackets = packets
	return rep, err
}

// runTag is a short unique prefix for this run's user and experiment
// names.
func runTag() string {
	var b [3]byte
	crand.Read(b[:])
	return "load-" + hex.EncodeToString(b[:])
}

// progress prints a line on cfg.Progress.
func (r *runner) progress(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "gims-load: "+format+"\n", args...)
	}
}

// call calls method as id with the run's HTTP client and call timeout.
func (r *runner) call(ctx context.Context, id *identity, method string, reply any, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
	defer cancel()
	return r.rpc.Call(ctx, r.http, id.url, nil, method, args, reply)
}

// setup makes the experimenters and the live experiments, and starts
// the latter.
func (r *runner) setup(ctx context.Context) error {
	for i := range r.cfg.Experimenters {
		var pw [12]byte
		crand.Read(pw[:])
		name, pass := fmt.Sprintf("%s-user%d", r.tag, i+1), hex.EncodeToString(pw[:])
		if err := r.call(ctx, &r.admin, "AddUser", nil,
			map[string]any{"name": name, "password": pass, "role": "experimenter"}); err != nil {
			return fmt.Errorf("setup: add experimenter %s: %w", name, err)
		}
		u, _ := url.Parse(r.cfg.URL)
		u.User = url.UserPassword(name, pass)
		r.users = append(r.users, identity{url: u.String(), name: name})
	}
	r.progress("%d experimenters added", r.cfg.Experimenters)
	for i := range r.cfg.Experiments {
		owner := &r.users[i%len(r.users)]
		name := fmt.Sprintf("%s-live%d", r.tag, i+1)
		var id int64
		if err := r.call(ctx, owner, "CreateExperiment", &id,
			map[string]any{"name": name, "description": "gims-load live experiment", "devices": []string{r.cfg.Device}}); err != nil {
			return fmt.Errorf("setup: create %s: %w", name, err)
		}
		r.live = append(r.live, liveExp{id: id, owner: owner})
		cfg := map[string]any{"filter": liveFilter(i, r.ports[i]),
			"counters": map[string]any{"interval_ms": 1000},
			"flows":    map[string]any{"idle_timeout_s": 5, "active_timeout_s": 20}}
		if err := r.call(ctx, owner, "ConfigureExperiment", nil, id, cfg); err != nil {
			return fmt.Errorf("setup: configure %s: %w", name, err)
		}
		var st struct {
			State string `xmlrpc:"state"`
		}
		if err := r.call(ctx, owner, "StartExperiment", &st, id); err != nil {
			return fmt.Errorf("setup: start %s: %w", name, err)
		}
		if st.State != "running" {
			return fmt.Errorf("setup: %s is %s after StartExperiment", name, st.State)
		}
		owner.live = append(owner.live, id)
		if owner != &r.users[0] {
			r.users[0].live = append(r.users[0].live, id)
		}
	}
	r.admin = r.users[0]
	r.progress("%d live experiments running on %s (UDP ports %v)", len(r.live), r.cfg.Device, r.ports)
	return nil
}

// liveFilter is the BPF filter of live experiment i, on UDP port port:
// the filters differ in form, each selects its own port's datagrams.
func liveFilter(i, port int) string {
	switch i % 4 {
	case 0:
		return fmt.Sprintf("udp and dst port %d", port)
	case 1:
		return fmt.Sprintf("udp port %d and host 127.0.0.1", port)
	case 2:
		return fmt.Sprintf("ip and udp dst port %d and greater 60", port)
	default:
		return fmt.Sprintf("ip proto 17 and dst port %d", port)
	}
}

// teardown stops the live experiments, as their owners, and returns the
// packets they counted.
func (r *runner) teardown() (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var packets uint64
	var errs []error
	for _, e := range r.live {
		var st struct {
			State   string `xmlrpc:"state"`
			Packets uint64 `xmlrpc:"packets"`
		}
		if err := r.call(ctx, e.owner, "StopExperiment", &st, e.id); err != nil {
			errs = append(errs, fmt.Errorf("teardown: stop experiment %d: %w", e.id, err))
			continue
		}
		packets += st.Packets
	}
	r.progress("live experiments stopped")
	return packets, errors.Join(errs...)
}

// clients runs cfg.Clients clients for cfg.Duration and merges their
// measurements.
func (r *runner) clients(ctx context.Context) Report {
	end, cancel := context.WithTimeout(ctx, r.cfg.Duration)
	defer cancel()
	recs := make([]*recorder, r.cfg.Clients)
	var wg sync.WaitGroup
	start := time.Now()
	r.progress("%d clients for %s", r.cfg.Clients, r.cfg.Duration)
	for i := range recs {
		recs[i] = &recorder{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.client(ctx, end, i, recs[i])
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for running := true; running; {
		select {
		case <-tick.C:
			r.progress("%.0f s", time.Since(start).Seconds())
		case <-done:
			running = false
		}
	}
	return merge(recs, r.cfg.Clients, time.Since(start))
}

// client is one client's loop: weighted-random calls until end is done.
// The calls run under ctx, so that the end of the run does not cut them
// short: the last one finishes and is counted.
func (r *runner) client(ctx, end context.Context, n int, rec *recorder) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(n)))
	id := &r.users[n%len(r.users)]
	for end.Err() == nil && ctx.Err() == nil {
		o := pick(rng, true)
		if o == opLifecycle {
			select {
			case r.slots <- struct{}{}:
				r.lifecycle(ctx, end, id, rec)
				<-r.slots
				continue
			default:
				rec.deferred++
				o = pick(rng, false)
			}
		}
		exp := id.live[rng.IntN(len(id.live))]
		switch o {
		case opStatus:
			r.status(ctx, id, exp, rec)
		case opResultsCounters:
			r.results(ctx, id, exp, "counters", mResultsCounters, rec)
		case opResultsFlows:
			r.results(ctx, id, exp, "flows", mResultsFlows, rec)
		case opResultsFiles:
			r.results(ctx, id, exp, "files", mResultsFiles, rec)
		case opList:
			r.list(ctx, id, rec)
		case opSettings:
			r.settings(ctx, id, exp, rec)
		}
	}
}

// timed makes one call and records it, unless the run was interrupted
// during it. check, when set, looks at the reply of a successful call.
func (r *runner) timed(ctx context.Context, id *identity, m method, rec *recorder, reply any, check func() error,
	method string, args ...any) error {
	var header string
	t0 := time.Now()
	err := r.call(context.WithValue(ctx, timingKey{}, &header), id, method, reply, args...)
	d := time.Since(t0)
	if ctx.Err() != nil && err != nil {
		return err // interrupted
	}
	if err == nil && check != nil {
		err = check()
	}
	t := servertiming.Parse(header)
	device, okD := t[servertiming.Device]
	own, okA := t[servertiming.AM]
	if !okD || !okA {
		device, own = -1, -1
	}
	rec.record(m, d, device, own, err)
	if w, ok := t[servertiming.DB]; ok && okD && okA {
		rec.writes[m] = append(rec.writes[m], w)
	}
	if p, ok := t[servertiming.Pool]; ok && okD && okA {
		rec.pool[m] = append(rec.pool[m], p)
	}
	return err
}

// timingKey is the context key of where timingTransport puts the
// Server-Timing header of a call's answer (a *string).
type timingKey struct{}

// timingTransport hands each answer's Server-Timing header (the AM's
// device time, SPEC §11) to the call that asked for it.
type timingTransport struct{ next http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (t timingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if slot, ok := req.Context().Value(timingKey{}).(*string); ok && err == nil {
		*slot = resp.Header.Get(servertiming.Header)
	}
	return resp, err
}

// deviceStatus is the part of a device's status the clients check.
type deviceStatus struct {
	Device    string `xmlrpc:"device"`
	Reachable bool   `xmlrpc:"reachable"`
}

// statusReply is the part of GetExperimentStatus the clients check.
type statusReply struct {
	ID      int64          `xmlrpc:"id"`
	State   string         `xmlrpc:"state"`
	Packets uint64         `xmlrpc:"packets"`
	Devices []deviceStatus `xmlrpc:"devices"`
}

// checkStatus wants state, and every device reachable.
func checkStatus(st *statusReply, id int64, state string) error {
	if st.State != state {
		return fmt.Errorf("experiment %d is %s, want %s", id, st.State, state)
	}
	for _, d := range st.Devices {
		if !d.Reachable {
			return fmt.Errorf("experiment %d: device %s unreachable", id, d.Device)
		}
	}
	return nil
}

// status reads a live experiment's status: it must be running with its
// device reachable.
func (r *runner) status(ctx context.Context, id *identity, exp int64, rec *recorder) {
	var st statusReply
	r.timed(ctx, id, mStatus, rec, &st, func() error { return checkStatus(&st, exp, "running") },
		"GetExperimentStatus", exp)
}

// results reads a page of a live experiment's results of one kind.
func (r *runner) results(ctx context.Context, id *identity, exp int64, kind string, m method, rec *recorder) {
	var rows []struct {
		Packets uint64 `xmlrpc:"packets"`
		Name    string `xmlrpc:"name"`
	}
	r.timed(ctx, id, m, rec, &rows, nil, "GetExperimentResults", exp, map[string]any{"kind": kind, "limit": 100})
}

// list lists the experiments: the caller's live ones must be there.
func (r *runner) list(ctx context.Context, id *identity, rec *recorder) {
	var rows []struct {
		ID    int64  `xmlrpc:"id"`
		Owner string `xmlrpc:"owner"`
	}
	r.timed(ctx, id, mList, rec, &rows, func() error {
		seen := map[int64]bool{}
		for _, e := range rows {
			if id.name != r.admin.name && e.Owner != id.name {
				return fmt.Errorf("%s sees experiment %d of %s", id.name, e.ID, e.Owner)
			}
			seen[e.ID] = true
		}
		for _, e := range id.live {
			if !seen[e] {
				return fmt.Errorf("experiment %d of %s is not listed", e, id.name)
			}
		}
		return nil
	}, "ListExperiments")
}

// settings reads a live experiment's settings.
func (r *runner) settings(ctx context.Context, id *identity, exp int64, rec *recorder) {
	var s struct {
		ID    int64  `xmlrpc:"id"`
		State string `xmlrpc:"state"`
	}
	r.timed(ctx, id, mSettings, rec, &s, func() error {
		if s.ID != exp || s.State != "running" {
			return fmt.Errorf("settings of experiment %d: id %d, state %s", exp, s.ID, s.State)
		}
		return nil
	}, "GetExperimentSettings", exp)
}

// lifecycle runs a short-lived experiment through create → configure →
// start → pause → start → stop, checking each reply's state. When a step
// fails, or the run ends (end is done), a started experiment is stopped
// (not counted).
func (r *runner) lifecycle(ctx, end context.Context, id *identity, rec *recorder) {
	name := fmt.Sprintf("%s-%s-%d", r.tag, strings.TrimPrefix(id.name, r.tag+"-"), r.seq.Add(1))
	var exp int64
	err := r.timed(ctx, id, mCreate, rec, &exp, func() error {
		if exp <= 0 {
			return fmt.Errorf("CreateExperiment %s returned id %d", name, exp)
		}
		return nil
	}, "CreateExperiment", map[string]any{"name": name, "devices": []string{r.cfg.Device}})
	if err != nil || end.Err() != nil {
		return
	}
	var s struct {
		State string `xmlrpc:"state"`
	}
	cfg := map[string]any{"filter": fmt.Sprintf("udp and dst port %d", r.ports[0]),
		"counters": map[string]any{"interval_ms": 500}, "flows": map[string]any{}}
	err = r.timed(ctx, id, mConfigure, rec, &s, func() error {
		if s.State != "configured" {
			return fmt.Errorf("experiment %d is %s after ConfigureExperiment", exp, s.State)
		}
		return nil
	}, "ConfigureExperiment", exp, cfg)
	if err != nil || end.Err() != nil {
		return
	}
	steps := []struct {
		m      method
		method string
		want   string
	}{
		{mStart, "StartExperiment", "running"},
		{mPause, "PauseExperiment", "paused"},
		{mResume, "StartExperiment", "running"},
		{mStop, "StopExperiment", "done"},
	}
	for _, step := range steps {
		var st statusReply
		err := r.timed(ctx, id, step.m, rec, &st, func() error { return checkStatus(&st, exp, step.want) },
			step.method, exp)
		if err != nil || end.Err() != nil {
			if step.m != mStop || err != nil {
				r.abandon(id, exp)
			}
			return
		}
	}
	rec.sequences++
}

// abandon stops a short-lived experiment cut short, so that its job
// does not hold a device slot; a failure here is already counted.
func (r *runner) abandon(id *identity, exp int64) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.CallTimeout)
	defer cancel()
	r.call(ctx, id, "StopExperiment", nil, exp)
}

// traffic sends UDP datagrams to the live experiments' ports on
// 127.0.0.1, where its own sockets receive and drop them (so the kernel
// answers no ICMP port unreachable).
type traffic struct {
	sinks   []*net.UDPConn
	senders []*net.UDPConn
	sent    atomic.Uint64
}

// trafficSenders is the number of sending sockets: each is a distinct
// source port, so every live experiment sees that many flows.
const trafficSenders = 8

// newTraffic opens n receiving sockets (one port per live experiment)
// and the senders.
func newTraffic(n int) (*traffic, error) {
	t := &traffic{}
	loop := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	for range n {
		c, err := net.ListenUDP("udp4", loop)
		if err != nil {
			t.close()
			return nil, fmt.Errorf("traffic: unable to open a UDP port: %w", err)
		}
		t.sinks = append(t.sinks, c)
		go drain(c)
	}
	for range trafficSenders {
		c, err := net.ListenUDP("udp4", loop)
		if err != nil {
			t.close()
			return nil, fmt.Errorf("traffic: unable to open a UDP socket: %w", err)
		}
		t.senders = append(t.senders, c)
	}
	return t, nil
}

// drain reads and drops datagrams until c is closed.
func drain(c *net.UDPConn) {
	buf := make([]byte, 2048)
	for {
		if _, _, err := c.ReadFromUDP(buf); err != nil {
			return
		}
	}
}

// ports returns the receiving ports, one per live experiment.
func (t *traffic) ports() []int {
	out := make([]int, len(t.sinks))
	for i, c := range t.sinks {
		out[i] = c.LocalAddr().(*net.UDPAddr).Port
	}
	return out
}

// send sends rate datagrams per second (in 10 ms batches), spread over
// the ports and the senders, with sizes from 32 to 543 bytes, until ctx
// ends.
func (t *traffic) send(ctx context.Context, rate int) {
	if rate <= 0 {
		return
	}
	payload := make([]byte, 544)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	var n uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		due := uint64(time.Since(start).Seconds() * float64(rate))
		for ; n < due; n++ {
			dst := t.sinks[n%uint64(len(t.sinks))].LocalAddr().(*net.UDPAddr)
			src := t.senders[(n/uint64(len(t.sinks)))%uint64(len(t.senders))]
			if _, err := src.WriteToUDP(payload[:32+n%512], dst); err == nil {
				t.sent.Add(1)
			}
		}
	}
}

// close closes every socket.
func (t *traffic) close() {
	for _, c := range append(t.sinks, t.senders...) {
		c.Close()
	}
}
