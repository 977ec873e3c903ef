// Package job is the capture daemon's durable job manager (SPEC §4): it
// validates and starts capture jobs on live interfaces or on files of the
// pcap directory, runs each through the shared meter (capture/meter) in its
// own goroutine, pauses, resumes and stops them, and reports their status
// and results. Several jobs may run at once, on the same or different
// interfaces.
//
// Each job lives in DataDir/jobs/<id>/: job.json (its spec, with its key
// sealed under DataDir/seal.key until the job is done, mode 0600; its
// state; its running time; rewritten atomically on every state change and
// every few seconds), and the result files counters.csv,
// flows.ipfix (RFC 5655) and packets.pcap, the latter two split into
// complete parts (flows-00001.ipfix…, packets-00001.pcap…) when the spec
// asks for rotation (Spec.RotateMB, Spec.RotateS). Buffered results reach
// the files at least every second.
//
// Durability: Start loads every job. A job that was running or paused when
// the daemon went away (crash, SIGKILL, or an orderly Stop) runs again: a
// live job resumes capturing and appends to its files, after cutting off a
// partial trailing record (with rotation: it cuts the last part so and
// begins a new one), and its status reports InterruptedS, the time
// from its last checkpoint to the restart. Flows that were open in the
// meter at a crash are lost (an orderly Stop exports them). A file job is
// replayed from the beginning with fresh outputs instead: replay is
// deterministic, so its results equal those of an uninterrupted run.
//
// Disk guard (SPEC §9): a running job stops itself, done with the reason
// in its errors, when its result files reach Spec.MaxStorageBytes or the
// free space of DataDir falls under Configuration.MinFree (guard.go).
package job

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/internal/seal"
	"github.com/gimsproject/gims/internal/secretfile"
	"github.com/gimsproject/gims/transform/ipfix"
	"github.com/google/gopacket/pcap"
)

// Manager owns the capture jobs of a daemon.
type Manager struct {
	cfg     Configuration
	jobsDir string
	// keys seals the keys of the jobs in their job.json.
	keys    *seal.Sealer
	filters *capture.FilterCompiler

	mu      sync.Mutex
	jobs    map[string]*job
	started bool
	stopped bool
	// wg counts the jobs' run goroutines, which Stop waits for.
	wg sync.WaitGroup
	// pending counts StartJob calls between their MaxJobs check and their
	// registration.
	pending int
	// starting holds the StartJob calls in progress by request id, so
	// that the same request again waits for the first and gets its
	// answer; cancelled holds the request ids StopJob was given before any
	// job had them (a start that may still arrive), refused by StartJob.
	starting  map[string]*startCall
	cancelled map[string]time.Time

	cpuMu   sync.Mutex
	cpuLast time.Duration
	cpuWall time.Time
	cpuPct  float64

	// synthetic are the interfaces of Dependencies.Synthetic.
	synthetic []Synthetic

	// leaseDone stops the lease watch (closed by Stop), leaseWG waits
	// for it.
	leaseDone chan struct{}
	leaseWG   sync.WaitGroup
}

// Dependencies are what a Manager uses besides its configuration.
type Dependencies struct {
	// Registry receives the daemon's capture metrics (packets, bytes,
	// drops, flows exported, collector losses, jobs by state), summed
	// over the jobs at scrape time. Nil leaves them unregistered.
	Registry prometheus.Registerer
	// Synthetic are interfaces whose packets a generator makes instead
	// of libpcap (gims-capd -simulate, SPEC §11). When there are any, they
	// are the device's only live interfaces: libpcap's are neither listed
	// nor opened.
	Synthetic []Synthetic
}

// Synthetic is an interface of generated packets.
type Synthetic struct {
	// Interface describes it (Capabilities); Name is what jobs name.
	Interface Interface
	// Open returns a new source of its packets for one job, cut to
	// snaplen.
	Open func(snaplen int) *capture.Source
}

// New returns a Manager, refusing an invalid configuration. It does no I/O;
// Start loads the jobs.
func New(cfg Configuration, deps Dependencies) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid job manager configuration: %w", err)
	}
	cfg.Policy.Outputs = slices.Clone(cfg.Policy.Outputs)
	if err := cfg.Policy.Normalize(); err != nil {
		return nil, fmt.Errorf("invalid job manager configuration: Policy: %w", err)
	}
	filters, err := capture.NewFilterCompiler(cfg.Filters)
	if err != nil {
		return nil, err
	}
	m := &Manager{
		cfg:       cfg,
		jobsDir:   filepath.Join(cfg.DataDir, "jobs"),
		filters:   filters,
		jobs:      map[string]*job{},
		synthetic: slices.Clone(deps.Synthetic),
		keys:      seal.New(filepath.Join(cfg.DataDir, seal.KeyFile)),

		leaseDone: make(chan struct{}),
	}
	if deps.Registry != nil {
		if err := deps.Registry.Register(newCollector(m)); err != nil {
			return nil, fmt.Errorf("unable to register the capture metrics: %w", err)
		}
	}
	return m, nil
}

// Start loads the jobs of DataDir and runs again those that were running
// or paused (see the package documentation). A job that cannot resume (its
// interface is gone) becomes done with the reason in its errors. ctx bounds
// the dialing of flow collectors.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	if m.started {
		m.mu.Unlock()
		return errors.New("job manager already started")
	}
	m.started = true
	m.mu.Unlock()
	m.cpuSample()
	if err := os.MkdirAll(m.jobsDir, 0o700); err != nil {
		return fmt.Errorf("unable to create job directory: %w", err)
	}
	// job.json may hold a Crypto-PAn key: one the group or others could
	// read (an older version, a restored backup) is made private.
	if err := m.tightenDir(m.jobsDir); err != nil {
		return err
	}
	if err := m.keys.Tighten(m.cfg.Logger); err != nil {
		return err
	}
	entries, err := os.ReadDir(m.jobsDir)
	if err != nil {
		return fmt.Errorf("unable to list jobs: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || !validID(e.Name()) {
			continue
		}
		dir := filepath.Join(m.jobsDir, e.Name())
		if old, err := secretfile.Tighten(filepath.Join(dir, stateFile)); err != nil {
			m.cfg.Logger.Error("unable to check the mode of a job's state, ignored", "dir", dir, "error", err)
			continue
		} else if old != 0 {
			m.cfg.Logger.Warn("job state was readable by others; made private (it may hold a key)",
				"file", filepath.Join(dir, stateFile), "old_mode", fmt.Sprintf("%04o", old), "mode", "0600")
		}
		p, err := readState(dir)
		if err != nil {
			m.cfg.Logger.Error("unable to load job, ignored", "dir", dir, "error", err)
			continue
		}
		legacyKey := len(p.Spec.Key) > 0 // written in clear by a former version
		var keyErr error
		if len(p.SealedKey) > 0 {
			p.Spec.Key, keyErr = m.keys.Open(p.SealedKey)
			p.SealedKey = nil
		}
		j := &job{m: m, id: e.Name(), dir: dir, top: ipfix.NewTopFlows(TopFlows), p: *p, called: m.cfg.Now()}
		m.mu.Lock()
		m.jobs[j.id] = j
		m.mu.Unlock()
		switch {
		case keyErr != nil && p.State != StateDone:
			// Never capture without the anonymization asked for.
			m.cfg.Logger.Error("unable to open the job's key, job ended", "job", j.id, "error", keyErr)
			j.mu.Lock()
			j.addErrorLocked(fmt.Sprintf("unable to resume after restart: %v", keyErr))
			j.p.State, j.p.Ended = StateDone, m.cfg.Now()
			j.mu.Unlock()
			_ = j.save(p.Clean)
		case p.State != StateDone:
			m.resume(ctx, j)
		case legacyKey:
			_ = j.save(p.Clean)
		}
	}
	if m.cfg.Lease > 0 {
		m.leaseWG.Add(1)
		go m.watchLeases()
	}
	return nil
}

// watchLeases pauses the running jobs whose lease ran out, until Stop.
func (m *Manager) watchLeases() {
	defer m.leaseWG.Done()
	tick := time.NewTicker(min(m.cfg.Lease/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-m.leaseDone:
			return
		case <-tick.C:
		}
		m.mu.Lock()
		jobs := make([]*job, 0, len(m.jobs))
		for _, j := range m.jobs {
			jobs = append(jobs, j)
		}
		m.mu.Unlock()
		now := m.cfg.Now()
		for _, j := range jobs {
			j.mu.Lock()
			expired := j.p.State == StateRunning && now.Sub(j.called) >= m.cfg.Lease
			j.mu.Unlock()
			if !expired {
				continue
			}
			msg := fmt.Sprintf("paused: no call from the aggregate manager for %s (lease)", m.cfg.Lease)
			if err := m.transitionJob(j, StateRunning, StatePaused, msg); err != nil {
				if !errors.Is(err, ErrState) {
					m.cfg.Logger.Error("unable to pause a job whose lease ran out", "job", j.id, "error", err)
				}
				continue
			}
			m.cfg.Logger.Warn("capture job paused: its lease ran out", "job", j.id, "lease", m.cfg.Lease)
		}
	}
}

// tightenDir takes the group's and others' access away from dir (the
// jobs folder), with a warning.
func (m *Manager) tightenDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("unable to check the job directory: %w", err)
	}
	if perm := fi.Mode().Perm(); fi.IsDir() && perm&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("unable to make the job directory private: %w", err)
		}
		m.cfg.Logger.Warn("job directory was open to others; made private", "dir", dir,
			"old_mode", fmt.Sprintf("%04o", perm), "mode", "0700")
	}
	return nil
}

// resume runs a loaded job again after a daemon restart.
func (m *Manager) resume(ctx context.Context, j *job) {
	now := m.cfg.Now()
	j.mu.Lock()
	down := now.Sub(j.p.Checkpoint)
	if j.p.State == StateRunning && down > 0 {
		j.p.Interrupted += down
	}
	file := j.p.Spec.IsFile()
	if file {
		// Replayed from the start: the counts start again too.
		j.p.Totals, j.p.Running, j.p.Progress = totals{}, 0, 0
	}
	spec, clean := j.p.Spec, j.p.Clean
	j.mu.Unlock()
	m.cfg.Logger.Info("resuming capture job", "job", j.id, "spec", spec, "down", down, "clean", clean)

	err := func() error {
		if !file {
			// Flows exported before the restart are in flows.ipfix.
			if err := j.loadFlows(); err != nil {
				j.addError(fmt.Errorf("flows results before the restart: %w", err))
			}
		}
		j.mu.Lock()
		j.topLoaded = true
		j.mu.Unlock()
		src, err := m.openSource(&spec)
		if err != nil {
			return err
		}
		return j.start(ctx, src, !file)
	}()
	if err != nil {
		j.mu.Lock()
		j.addErrorLocked(fmt.Sprintf("unable to resume after restart: %v", err))
		j.p.State, j.p.Ended = StateDone, now
		j.mu.Unlock()
	}
	_ = j.save(false)
}

// Stop is the daemon's orderly shutdown: every job that captures is
// flushed (last counter interval, open flows exported, pcap file closed)
// and its state saved, so that it resumes at the next Start. Stop waits
// for all of them. The Manager takes no new job afterwards.
func (m *Manager) Stop() error {
	m.mu.Lock()
	if !m.stopped {
		close(m.leaseDone)
	}
	m.stopped = true
	jobs := make([]*job, 0, len(m.jobs))
	for _, j := range m.jobs {
		jobs = append(jobs, j)
	}
	m.mu.Unlock()
	var segs []*segment
	for _, j := range jobs {
		j.mu.Lock()
		if seg := j.seg; seg != nil {
			if seg.reason == reasonNone {
				seg.reason = reasonShutdown
			}
			seg.cancel()
			segs = append(segs, seg)
		}
		j.mu.Unlock()
	}
	for _, seg := range segs {
		<-seg.done
	}
	m.wg.Wait() // runs that ended by themselves may still be saving
	m.leaseWG.Wait()
	return nil
}

// StartJob validates spec and starts the job, returning its id. Everything
// is checked before anything starts: the interface exists (a libpcap device,
// or a file of the pcap directory), libpcap compiles the filter for the
// interface's link type, snaplen, key, counter interval, flow timeouts and
// collector URL are sound, and the meter decodes the link type. Errors in
// the spec are ErrInvalid with what to change; ErrBusy when MaxJobs jobs
// are active, or when the data folder's free space is under MinFree (then
// ErrNoSpace as well).
//
// A spec with a RequestID is started at most once: the same request
// again (the caller did not get the answer) returns the job it made, or
// waits for the call still making it; a request StopJob cancelled first
// is ErrState.
func (m *Manager) StartJob(spec Spec) (string, error) {
	spec = spec.clone()
	if err := spec.check(); err != nil {
		return "", err
	}
	if err := m.applyPolicy(&spec); err != nil {
		return "", err
	}
	if err := m.allowCollector(&spec); err != nil {
		return "", err
	}
	if spec.RequestID == "" {
		return m.startJob(spec)
	}
	m.mu.Lock()
	if m.starting == nil {
		m.starting = make(map[string]*startCall)
	}
	if _, ok := m.cancelled[spec.RequestID]; ok {
		m.mu.Unlock()
		return "", fmt.Errorf("%w: start request %s was cancelled (StopJob) before it arrived", ErrState, spec.RequestID)
	}
	if c, ok := m.starting[spec.RequestID]; ok {
		m.mu.Unlock()
		<-c.done
		return c.id, c.err
	}
	if j := m.byRequestLocked(spec.RequestID); j != nil {
		m.mu.Unlock()
		m.cfg.Logger.Info("StartJob repeated: the job of that request exists", "job", j.id, "request", spec.RequestID)
		return j.id, nil
	}
	c := &startCall{done: make(chan struct{})}
	m.starting[spec.RequestID] = c
	m.mu.Unlock()
	c.id, c.err = m.startJob(spec)
	m.mu.Lock()
	delete(m.starting, spec.RequestID)
	m.mu.Unlock()
	close(c.done)
	return c.id, c.err
}

// startCall is a StartJob in progress, for the same request again.
type startCall struct {
	done chan struct{}
	id   string
	err  error
}

// byRequestLocked returns the job a request made, or nil (m.mu held).
func (m *Manager) byRequestLocked(request string) *job {
	for _, j := range m.jobs {
		// The spec never changes once the job is registered.
		if j.p.Spec.RequestID == request {
			return j
		}
	}
	return nil
}

// Bounds of the cancelled start requests remembered.
const (
	maxCancelled    = 10000
	cancelledMaxAge = time.Hour
)

// stopRequest is StopJob given a StartJob request id: the request's job
// is stopped (success when it is already done); without one, the request
// is remembered as cancelled, so that the start, should it still arrive
// (it was delayed on its way), is refused.
func (m *Manager) stopRequest(request string) error {
	m.mu.Lock()
	if c, ok := m.starting[request]; ok {
		m.mu.Unlock()
		<-c.done
		m.mu.Lock()
	}
	j := m.byRequestLocked(request)
	if j == nil {
		now := m.cfg.Now()
		if m.cancelled == nil {
			m.cancelled = make(map[string]time.Time)
		}
		for r, at := range m.cancelled {
			if now.Sub(at) > cancelledMaxAge || len(m.cancelled) >= maxCancelled {
				delete(m.cancelled, r)
			}
		}
		m.cancelled[request] = now
		m.mu.Unlock()
		m.cfg.Logger.Info("start request cancelled before any job had it", "request", request)
		return nil
	}
	m.mu.Unlock()
	if err := m.StopJob(j.id); err != nil && !errors.Is(err, ErrState) {
		return err
	}
	return nil
}

// startJob starts a checked spec.
func (m *Manager) startJob(spec Spec) (string, error) {
	if err := m.checkFloor(); err != nil {
		return "", err
	}
	if err := m.reserve(); err != nil {
		return "", err
	}
	registered := false // in m.jobs, which then counts it instead of m.pending
	defer func() {
		if !registered {
			m.mu.Lock()
			m.pending--
			m.mu.Unlock()
		}
	}()

	src, err := m.openSource(&spec)
	if err != nil {
		return "", err
	}
	engine := src.Engine() // empty for a file
	id, err := newID()
	if err != nil {
		src.Close()
		return "", err
	}
	dir := filepath.Join(m.jobsDir, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		src.Close()
		return "", fmt.Errorf("unable to create job directory: %w", err)
	}
	defer func() {
		if !registered {
			_ = os.RemoveAll(dir)
		}
	}()
	now := m.cfg.Now()
	j := &job{m: m, id: id, dir: dir, top: ipfix.NewTopFlows(TopFlows), topLoaded: true, called: m.cfg.Now(), p: persisted{
		Version: stateVersion, ID: id, Spec: spec, State: StateRunning, Created: now, Checkpoint: now,
	}}
	if err := j.save(false); err != nil {
		src.Close()
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := j.start(ctx, src, false); err != nil {
		return "", err
	}
	m.mu.Lock()
	m.jobs[id] = j
	m.pending-- // counted once: in m.jobs from now on
	stopped := m.stopped
	m.mu.Unlock()
	registered = true
	if stopped {
		// Stop ran meanwhile and did not see this job: stop it the same way.
		j.mu.Lock()
		seg := j.seg
		if seg != nil && seg.reason == reasonNone {
			seg.reason = reasonShutdown
		}
		j.mu.Unlock()
		if seg != nil {
			seg.cancel()
			<-seg.done
		}
		return "", errStopped
	}
	_ = j.save(false)
	m.cfg.Logger.Info("capture job started", "job", id, "spec", spec, "engine", engine)
	return id, nil
}

// reserve checks that the manager runs and that one more job fits.
func (m *Manager) reserve() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.started || m.stopped {
		return errStopped
	}
	active := m.pending
	for _, j := range m.jobs {
		j.mu.Lock()
		if j.p.State != StateDone {
			active++
		}
		j.mu.Unlock()
	}
	if active >= m.cfg.MaxJobs {
		return fmt.Errorf("%w: %d jobs are running or paused, the most this device takes", ErrBusy, active)
	}
	m.pending++
	return nil
}

// clone copies the spec's pointers and key, so that the caller may reuse
// its values.
func (s Spec) clone() Spec {
	if s.Counters != nil {
		c := *s.Counters
		s.Counters = &c
	}
	if s.Flows != nil {
		f := *s.Flows
		s.Flows = &f
	}
	s.Key = slices.Clone(s.Key)
	return s
}

// openSource opens the spec's packet source with its filter, mapping what
// the user can fix to ErrInvalid.
func (m *Manager) openSource(spec *Spec) (*capture.Source, error) {
	var (
		src *capture.Source
		err error
	)
	if spec.IsFile() {
		if m.cfg.PcapDir == "" {
			return nil, invalidf("interface %q: file sources are disabled (the daemon has no pcap directory)", spec.Interface)
		}
		// Only a regular file of the pcap directory itself: the name has no
		// path (deviceapi checks it), the cleaned path stays in the folder,
		// and a symbolic link, which the listing hides, is refused when it
		// is opened (O_NOFOLLOW), not only when it is looked at.
		name := strings.TrimPrefix(spec.Interface, deviceapi.FilePrefix)
		path := filepath.Join(m.cfg.PcapDir, name)
		if filepath.Dir(path) != filepath.Clean(m.cfg.PcapDir) || filepath.Base(path) != name {
			return nil, invalidf("interface %q: a file source names a file of the pcap directory, without a path", spec.Interface)
		}
		src, err = capture.OpenRegularFile(path, spec.Filter != "")
		if err == nil && m.cfg.MapFiles {
			src.MapFile() // read without the kernel's copy, when the fast reader reads it
		}
		switch {
		case errors.Is(err, capture.ErrNotRegular):
			return nil, invalidf("interface %q: %q in the pcap directory is not a regular file (symbolic links are refused)",
				spec.Interface, name)
		case errors.Is(err, os.ErrNotExist):
			return nil, invalidf("unknown interface %q: no file %q in the pcap directory", spec.Interface, name)
		}
	} else if syn, ok := m.syntheticNamed(spec.Interface); ok {
		src = syn.Open(spec.Snaplen)
	} else if len(m.synthetic) > 0 {
		names := make([]string, len(m.synthetic))
		for i, s := range m.synthetic {
			names[i] = s.Interface.Name
		}
		return nil, invalidf("unknown interface %q (this device has %s)", spec.Interface, strings.Join(names, ", "))
	} else {
		devs, derr := liveNames()
		if derr != nil {
			return nil, derr
		}
		if !slices.Contains(devs, spec.Interface) {
			return nil, invalidf("unknown interface %q (this device has %s)", spec.Interface, strings.Join(devs, ", "))
		}
		lc := capture.DefaultLiveConfiguration()
		lc.Interface, lc.Snaplen, lc.Promiscuous, lc.Engine = spec.Interface, spec.Snaplen, spec.Promiscuous, m.cfg.Capture
		src, err = capture.OpenLive(lc)
		if err == nil && src.Fallback() != nil {
			m.cfg.Logger.Info("live capture through libpcap", "interface", spec.Interface, "reason", src.Fallback())
		}
	}
	var insns []pcap.BPFInstruction
	if err == nil && spec.Filter != "" {
		// Compiled within the limits of Configuration.Filters (in a
		// child process for gims-capd), off gopacket's shared lock.
		ctx, cancel := context.WithTimeout(context.Background(), m.cfg.Filters.Timeout+time.Second)
		var cerr error
		insns, cerr = m.filters.Compile(ctx, src.LinkType(), src.Snaplen(), spec.Filter)
		cancel()
		if cerr == nil {
			cerr = src.SetFilter(spec.Filter, insns)
		}
		if cerr != nil {
			src.Close()
			src, err = nil, cerr
		}
	}
	if _, syn := m.syntheticNamed(spec.Interface); err == nil && !spec.IsFile() && !syn {
		if oerr := m.checkOwnAPI(spec.Interface, src.LinkType(), insns); oerr != nil {
			src.Close()
			return nil, oerr
		}
	}
	var fe *capture.FilterError
	switch {
	case errors.As(err, &fe):
		return nil, fmt.Errorf("%w: interface %q: %w", ErrInvalid, spec.Interface, err)
	case err != nil && spec.IsFile():
		return nil, fmt.Errorf("%w: interface %q: %w", ErrInvalid, spec.Interface, err)
	case err != nil:
		return nil, err
	}
	return src, nil
}

// syntheticNamed returns the synthetic interface of that name.
func (m *Manager) syntheticNamed(name string) (Synthetic, bool) {
	for _, s := range m.synthetic {
		if s.Interface.Name == name {
			return s, true
		}
	}
	return Synthetic{}, false
}

func (m *Manager) get(id string) (*job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	if !ok {
		return nil, fmt.Errorf("%w: no job %q", ErrNotFound, id)
	}
	// Every device API call naming a job comes through here: it renews
	// the job's lease.
	now := m.cfg.Now()
	j.mu.Lock()
	j.called = now
	j.mu.Unlock()
	return j, nil
}

// PauseJob makes a running job stop taking packets while keeping its
// state: open flows stay open, counters stop, running time stops. A live
// source's packets are dropped meanwhile; a file source waits.
func (m *Manager) PauseJob(id string) error {
	return m.transition(id, StateRunning, StatePaused)
}

// ResumeJob makes a paused job take packets again.
func (m *Manager) ResumeJob(id string) error {
	return m.transition(id, StatePaused, StateRunning)
}

func (m *Manager) transition(id string, from, to State) error {
	j, err := m.get(id)
	if err != nil {
		return err
	}
	return m.transitionJob(j, from, to, "")
}

// transitionJob moves j from one state to the other, adding why to its
// errors when not empty.
func (m *Manager) transitionJob(j *job, from, to State, why string) error {
	id := j.id
	j.mu.Lock()
	if j.p.State != from {
		state := j.p.State
		j.mu.Unlock()
		return fmt.Errorf("%w: job %s is %s, not %s", ErrState, id, state, from)
	}
	if why != "" {
		j.addErrorLocked(why)
	}
	now := m.cfg.Now()
	j.p.Running = j.runningLocked(now)
	j.runSince = time.Time{}
	j.p.State = to
	if j.seg != nil {
		j.seg.pause(to == StatePaused)
		if to == StateRunning {
			j.runSince = now
		}
	}
	j.mu.Unlock()
	m.cfg.Logger.Info("capture job "+string(to), "job", id)
	return j.save(false)
}

// StopJob ends a running or paused job: the last counter interval is
// written, every open flow exported, the pcap file closed, and the job is
// done. It returns once all of that is on disk. Given a StartJob request
// id (deviceapi.ValidRequestID) instead of a job id, it stops that
// request's job, or cancels the request if no job has it yet.
func (m *Manager) StopJob(id string) error {
	if deviceapi.ValidRequestID(id) {
		return m.stopRequest(id)
	}
	j, err := m.get(id)
	if err != nil {
		return err
	}
	j.mu.Lock()
	if j.p.State == StateDone {
		j.mu.Unlock()
		return fmt.Errorf("%w: job %s is already done", ErrState, id)
	}
	seg := j.seg
	if seg == nil {
		j.p.State, j.p.Ended = StateDone, m.cfg.Now()
		j.mu.Unlock()
		return j.save(false)
	}
	seg.reason = reasonStop
	j.mu.Unlock()
	seg.cancel()
	<-seg.done
	return nil
}

// newID returns a random job id: 16 hex digits.
func newID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("unable to make a job id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// validID tells whether s has the form of a job id, so that ids from
// requests never reach the file system unchecked.
func validID(s string) bool {
	if len(s) != 16 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// domainOf is the IPFIX observation domain of a job: the first 32 bits
// of its id, so that jobs exporting to the same collector are told apart.
func domainOf(id string) uint32 {
	v, _ := strconv.ParseUint(id[:8], 16, 32)
	return uint32(v)
}

// cpuSample returns the process's CPU use in percent of one CPU, averaged
// since the previous sample at least half a second ago.
func (m *Manager) cpuSample() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	now := time.Now()
	m.cpuMu.Lock()
	defer m.cpuMu.Unlock()
	if wall := now.Sub(m.cpuWall); !m.cpuWall.IsZero() && wall >= 500*time.Millisecond {
		m.cpuPct = 100 * float64(cpu-m.cpuLast) / float64(wall)
	} else if !m.cpuWall.IsZero() {
		return m.cpuPct
	}
	m.cpuLast, m.cpuWall = cpu, now
	return m.cpuPct
}
