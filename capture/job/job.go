package job

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/gopacket"

	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/capture/meter"
	"github.com/gimsproject/gims/capture/output"
	"github.com/gimsproject/gims/packet"
	"github.com/gimsproject/gims/transform/ipfix"
)

// maxErrors bounds the errors a job remembers for its status.
const maxErrors = 20

// job is one capture job. Its persisted fields and its current run are
// guarded by mu; the run's packet path belongs to the run's goroutine.
type job struct {
	m   *Manager
	id  string
	dir string
	top *ipfix.TopFlows

	mu sync.Mutex
	p  persisted
	// runSince is when the current running stretch began; zero unless the
	// job is running and capturing.
	runSince time.Time
	// seg is the current run of the job (nil when nothing captures).
	seg *segment
	// topLoaded tells whether top holds the job's flows (a done job
	// loaded from disk reads them from flows.ipfix on first use).
	topLoaded bool
	// called is when a device API call last named the job (or when it
	// was started or loaded): the lease (Configuration.Lease) runs from
	// there.
	called time.Time

	// saveMu orders the writes of job.json.
	saveMu sync.Mutex
}

// stopReason is why a run's context was cancelled.
type stopReason int

const (
	reasonNone     stopReason = iota
	reasonShutdown            // the daemon stops: the job resumes on restart
	reasonStop                // StopJob: the job is done
	reasonLimit               // the disk guard: the job is done, its errors say why
)

// segment is one run of a job: from StartJob or a daemon start to the
// job's end or the daemon's stop.
type segment struct {
	src   *capture.Source
	meter *meter.Meter
	out   *output.Writer
	file  bool
	speed float64
	// rotateTime tells that parts are closed by time: the reader tells
	// the outputs the time of every packet (and, live, of the clock).
	rotateTime bool
	// maxStorage is the spec's MaxStorageBytes (0: no bound).
	maxStorage int64
	cancel     context.CancelFunc
	done       chan struct{}
	reason     stopReason // guarded by job.mu

	tick       atomic.Bool // periodic work is due (set every flushInterval)
	filePaused atomic.Bool // a file source waits instead of reading
	dropped    atomic.Uint64
	ifDropped  atomic.Uint64
	progress   atomic.Uint64 // math.Float64bits of the percentage

	lastCheckpoint time.Time // run goroutine only
}

// totals returns what the segment counted so far.
func (s *segment) totals() totals {
	st := s.meter.Stats()
	return totals{
		Packets:        st.Packets,
		Bytes:          st.Bytes,
		Dropped:        s.dropped.Load(),
		IfDropped:      s.ifDropped.Load(),
		FlowsExported:  st.FlowsExported,
		NonIP:          st.NonIP,
		Malformed:      st.Malformed,
		Truncated:      st.Truncated,
		Fragments:      st.Fragments,
		SanitizedDrops: st.SanitizedDrops,
		CollectorLost:  s.out.CollectorStats().RecordsLost,
	}
}

func (s *segment) progressValue() float64 { return math.Float64frombits(s.progress.Load()) }

// path returns the path of one of the job's files.
func (j *job) path(name string) string { return filepath.Join(j.dir, name) }

// addError records an error for the job's status; identical messages are
// recorded once.
func (j *job) addError(err error) {
	msg := err.Error()
	j.mu.Lock()
	defer j.mu.Unlock()
	j.addErrorLocked(msg)
}

func (j *job) addErrorLocked(msg string) {
	for _, e := range j.p.Errors {
		if e == msg {
			return
		}
	}
	if len(j.p.Errors) < maxErrors {
		j.p.Errors = append(j.p.Errors, msg)
	}
	j.m.cfg.Logger.Warn("capture job error", "job", j.id, "error", msg)
}

// runningLocked is the job's running time until now.
func (j *job) runningLocked(now time.Time) time.Duration {
	d := j.p.Running
	if !j.runSince.IsZero() {
		d += now.Sub(j.runSince)
	}
	return d
}

// totalsLocked sums the job's earlier runs and the current one.
func (j *job) totalsLocked() totals {
	t := j.p.Totals
	if j.seg != nil {
		t.add(j.seg.totals())
	}
	return t
}

func (j *job) progressLocked() float64 {
	if j.seg != nil && j.seg.file {
		return j.seg.progressValue()
	}
	return j.p.Progress
}

// save writes the job's current state to job.json.
func (j *job) save(clean bool) error {
	j.saveMu.Lock()
	defer j.saveMu.Unlock()
	now := j.m.cfg.Now()
	j.mu.Lock()
	if j.p.State == StateDone && j.p.Spec.Key != nil {
		// A done job never runs again: it forgets its key, so that
		// job.json does not keep it even sealed (SPEC §10). The meter,
		// which may still be flushing, holds its own reference.
		j.p.Spec.Key = nil
	}
	p := j.p
	p.Running = j.runningLocked(now)
	p.Totals = j.totalsLocked()
	p.Progress = j.progressLocked()
	p.Checkpoint = now
	p.Clean = clean
	p.Errors = append([]string(nil), j.p.Errors...)
	j.mu.Unlock()
	// The key is written sealed, never in clear.
	p.SealedKey = nil
	if len(p.Spec.Key) > 0 {
		sealed, err := j.m.keys.Seal(p.Spec.Key)
		if err != nil {
			j.m.cfg.Logger.Error("unable to save job state", "job", j.id, "error", err)
			return err
		}
		p.Spec.Key, p.SealedKey = nil, sealed
	}
	if err := writeState(j.dir, &p, !j.m.cfg.NoSync); err != nil {
		j.m.cfg.Logger.Error("unable to save job state", "job", j.id, "error", err)
		return err
	}
	return nil
}

// start begins a run of the job on an opened source: the outputs are
// opened (appended to when appendTo), and the meter runs in its own
// goroutine. On error the source is closed.
func (j *job) start(ctx context.Context, src *capture.Source, appendTo bool) error {
	spec := &j.p.Spec
	out, err := j.outputs(src, appendTo)
	if err != nil {
		src.Close()
		return err
	}
	cfg := meter.Configuration{Counters: spec.countersConfig(), Flows: spec.flowConfig()}
	if len(spec.Key) == 32 {
		cfg.Key = (*[32]byte)(spec.Key)
		// A job.json from before the modes existed has none: the
		// defaults (Sanitization). check accepted the values.
		payload, mac := spec.Sanitization()
		if cfg.Payload, err = packet.ParsePayloadMode(payload); err == nil {
			cfg.MAC, err = packet.ParseMACMode(mac)
		}
		if err != nil {
			src.Close()
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	mt, err := meter.New(cfg, src.LinkType(), out.Sinks())
	if err != nil {
		src.Close()
		return fmt.Errorf("%w: interface %q: %w", ErrInvalid, spec.Interface, err)
	}
	if err := out.Open(ctx); err != nil {
		src.Close()
		var ce *output.CollectorError
		if errors.As(err, &ce) {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	seg := &segment{
		src: src, meter: mt, out: out, file: spec.IsFile(), speed: spec.ReplaySpeed, rotateTime: spec.RotateS > 0,
		maxStorage: spec.MaxStorageBytes, cancel: cancel, done: make(chan struct{}), lastCheckpoint: time.Now(),
	}
	j.mu.Lock()
	j.seg = seg
	if j.p.State == StatePaused {
		seg.pause(true)
	} else {
		j.runSince = j.m.cfg.Now()
	}
	j.mu.Unlock()
	j.m.wg.Add(1)
	go seg.ticker()
	go j.run(runCtx, seg)
	return nil
}

// pause makes the segment stop taking packets or take them again. A live
// source keeps being read and the meter drops the packets stamped while
// it was paused (keeping its open flows); a file source simply waits, so
// no packet of it is lost.
func (s *segment) pause(p bool) {
	if s.file {
		s.filePaused.Store(p)
	} else {
		s.meter.SetPaused(p, time.Now())
	}
}

func (s *segment) ticker() {
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.tick.Store(true)
		case <-s.done:
			return
		}
	}
}

// run feeds the meter until the source ends, the context is cancelled or
// reading fails, then flushes every output and records the outcome.
func (j *job) run(ctx context.Context, seg *segment) {
	defer j.m.wg.Done()
	defer close(seg.done)
	r := &reader{j: j, seg: seg, ctx: ctx}
	runErr := seg.meter.Run(ctx, r)
	cancelled := ctx.Err() != nil
	if err := seg.meter.Flush(); err != nil {
		j.addError(err)
	}
	if err := seg.out.Close(); err != nil {
		j.addError(err)
	}
	if seg.out.Failed() != nil {
		if err := seg.out.Repair(); err != nil {
			j.addError(err)
		}
	}
	if lost := seg.out.CollectorStats().RecordsLost; lost > 0 {
		j.addError(fmt.Errorf("flows collector %s did not get %d flow records (unreachable); flows.ipfix has them all",
			j.p.Spec.Flows.Collector, lost))
	}
	j.collectStats(seg)
	if seg.file {
		progress := seg.src.Progress()
		if runErr == nil {
			progress = 100
		}
		seg.progress.Store(math.Float64bits(progress))
	}
	seg.src.Close()

	now := j.m.cfg.Now()
	j.mu.Lock()
	j.p.Running = j.runningLocked(now)
	j.runSince = time.Time{}
	j.p.Totals = j.totalsLocked()
	j.p.Progress = j.progressLocked()
	j.seg = nil
	clean := false
	switch {
	case runErr == nil:
		// The file is exhausted (or a live source vanished).
		j.p.State, j.p.Ended = StateDone, now
	case cancelled && seg.reason == reasonShutdown:
		clean = true
	case cancelled:
		j.p.State, j.p.Ended = StateDone, now
	default:
		j.addErrorLocked(fmt.Sprintf("capture ended: %v", runErr))
		j.p.State, j.p.Ended = StateDone, now
	}
	state := j.p.State
	j.mu.Unlock()
	_ = j.save(clean)
	j.m.cfg.Logger.Info("capture job run ended", "job", j.id, "state", state, "shutdown", clean)
}

// collectStats copies libpcap's drop counters into the segment.
func (j *job) collectStats(seg *segment) {
	if st, err := seg.src.Stats(); err == nil {
		seg.dropped.Store(st.Dropped)
		seg.ifDropped.Store(st.IfDropped)
	}
}

// periodic is the run goroutine's housekeeping, every flushInterval:
// buffered results reach the files, counters are refreshed, the disk
// guard looks at the free space and the job's size (it may cancel the
// run), and job.json is rewritten every CheckpointInterval.
func (j *job) periodic(seg *segment) {
	seg.tick.Store(false)
	seg.out.Flush()
	j.collectStats(seg)
	j.guard(seg)
	if seg.file {
		seg.progress.Store(math.Float64bits(seg.src.Progress()))
	} else if seg.rotateTime {
		// A live capture's time goes on without packets: a part whose
		// time is up is closed even if the link fell silent.
		seg.out.Advance(time.Now())
	}
	if now := time.Now(); now.Sub(seg.lastCheckpoint) >= j.m.cfg.CheckpointInterval {
		seg.lastCheckpoint = now
		_ = j.save(false)
	}
}

// reader is the meter's packet source for a run: it does the periodic work
// between packets, and holds file packets back for pauses and pacing.
type reader struct {
	j   *job
	seg *segment
	ctx context.Context

	started bool
	t0      time.Time // timestamp of the first packet (pacing)
	w0      time.Time // wall time the first packet was handed on
}

// pollInterval is how often a waiting file source checks for a resume, a
// stop or periodic work.
const pollInterval = 20 * time.Millisecond

// MappedFault implements meter.MappedReader: a file source may be read
// through a mapping (Configuration.MapFiles), and a file truncated under
// it ends the run with an error instead of crashing the daemon.
func (r *reader) MappedFault(addr uintptr) error { return r.seg.src.MappedFault(addr) }

// ZeroCopyReadPacketData implements meter.Reader.
func (r *reader) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	seg := r.seg
	if seg.tick.Load() {
		r.j.periodic(seg)
	}
	if r.ctx.Err() != nil || r.j.checkStorage(seg) {
		// Stopped (by the disk guard, StopJob or a shutdown): Run sees
		// the context's error.
		return nil, gopacket.CaptureInfo{}, capture.ErrTimeout
	}
	if seg.file {
		paused, ok := r.waitPaused()
		if !ok {
			return nil, gopacket.CaptureInfo{}, capture.ErrTimeout
		}
		r.w0 = r.w0.Add(paused) // a pause does not count as replay time
	}
	if err := seg.out.Failed(); err != nil {
		// A result file cannot be written (the disk is full): the job
		// ends with that error rather than count packets it drops.
		return nil, gopacket.CaptureInfo{}, err
	}
	data, ci, err := seg.src.ZeroCopyReadPacketData()
	if err == nil && seg.rotateTime {
		seg.out.Advance(ci.Timestamp) // the packet goes into the next part if this one's time is up
	}
	if err != nil || !seg.file || seg.speed <= 0 {
		return data, ci, err
	}
	if !r.started {
		r.started, r.t0, r.w0 = true, ci.Timestamp, time.Now()
		return data, ci, nil
	}
	// Replay pacing: packet i is handed on at w0 + (ts_i - ts_0) / speed.
	// The data stays valid while waiting: nothing else reads the source.
	for {
		d := time.Until(r.w0.Add(time.Duration(float64(ci.Timestamp.Sub(r.t0)) / seg.speed)))
		if d <= 0 {
			return data, ci, nil
		}
		if !r.sleep(min(d, pollInterval)) {
			return nil, ci, capture.ErrTimeout
		}
		if seg.tick.Load() {
			r.j.periodic(seg)
		}
		paused, ok := r.waitPaused()
		if !ok {
			return nil, ci, capture.ErrTimeout
		}
		r.w0 = r.w0.Add(paused) // a pause does not count as replay time
	}
}

// waitPaused blocks while a file source is paused. It returns how long it
// waited, and false when the run is cancelled; Run then sees ctx's error
// (meter.Run checks the context on capture.ErrTimeout before anything
// else, so no wall-clock Advance reaches a file's meter).
func (r *reader) waitPaused() (time.Duration, bool) {
	if !r.seg.filePaused.Load() {
		return 0, r.ctx.Err() == nil
	}
	start := time.Now()
	for r.seg.filePaused.Load() {
		if !r.sleep(pollInterval) {
			return 0, false
		}
		if r.seg.tick.Load() {
			r.j.periodic(r.seg)
		}
	}
	return time.Since(start), true
}

// sleep waits d or until the run is cancelled (false).
func (r *reader) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.ctx.Done():
		return false
	}
}

// errStopped is returned when the manager is not running.
var errStopped = errors.New("job manager is not running")
