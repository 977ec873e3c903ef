package job

import (
	"errors"
	"fmt"
	"syscall"
)

// The disk guard (SPEC §9): a job never fills its disk. It stops itself,
// cleanly and saying why, when its result files reach the spec's
// MaxStorageBytes or when the free space of DataDir falls under
// Configuration.MinFree; StartJob refuses a job under the floor.

// ErrNoSpace: the free space of the data folder is under
// Configuration.MinFree, so StartJob refuses the job. It is a refusal:
// errors.Is matches ErrBusy too (fault 5), not ErrInvalid, since nothing
// in the spec is wrong.
var ErrNoSpace = errors.New("not enough free space")

// noSpaceError is a refusal for lack of space; it matches ErrNoSpace and
// ErrBusy.
type noSpaceError struct{ msg string }

func (e *noSpaceError) Error() string        { return e.msg }
func (e *noSpaceError) Is(target error) bool { return target == ErrNoSpace || target == ErrBusy }

// freeSpace is the space left in the file system of the data directory,
// in bytes (what an unprivileged writer may use).
func (m *Manager) freeSpace() (uint64, error) {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(m.cfg.DataDir, &fs); err != nil {
		return 0, fmt.Errorf("unable to learn the free space of %s: %w", m.cfg.DataDir, err)
	}
	return fs.Bavail * uint64(fs.Bsize), nil
}

// underFloor returns how much space is free and whether it is under
// MinFree. A file system that cannot be asked is not under the floor:
// the writes themselves then report a full disk.
func (m *Manager) underFloor() (uint64, bool) {
	if m.cfg.MinFree <= 0 {
		return 0, false
	}
	free, err := m.freeSpace()
	if err != nil {
		m.cfg.Logger.Warn("disk guard: free space unknown", "error", err)
		return 0, false
	}
	return free, free < uint64(m.cfg.MinFree)
}

// checkFloor refuses a new job while the free space is under MinFree.
func (m *Manager) checkFloor() error {
	if free, under := m.underFloor(); under {
		return &noSpaceError{msg: fmt.Sprintf("free space of %s is %s, under -min-free %s: no new job",
			m.cfg.DataDir, formatBytes(int64(free)), formatBytes(m.cfg.MinFree))}
	}
	return nil
}

// guard is the periodic check of a running job: it stops the job (see
// stopSelf) when the free space fell under MinFree or its result files
// reached their bound. A paused job writes nothing and is left alone.
func (j *job) guard(seg *segment) {
	j.mu.Lock()
	running := j.p.State == StateRunning
	j.mu.Unlock()
	if !running {
		return
	}
	if free, under := j.m.underFloor(); under {
		j.stopSelf(seg, fmt.Sprintf("stopped: free space of %s fell under -min-free %s (%s left)",
			j.m.cfg.DataDir, formatBytes(j.m.cfg.MinFree), formatBytes(int64(free))))
		return
	}
	if j.checkDuration(seg) {
		return
	}
	j.checkStorage(seg)
}

// checkStorage stops the job when its result files reached the spec's
// MaxStorageBytes. The reader calls it before each packet, so a file
// grows past the bound by at most one packet record (16 + snaplen bytes)
// plus what the stop itself writes: the last counter row, the flows
// still open and the IPFIX message in progress.
func (j *job) checkStorage(seg *segment) bool {
	if seg.maxStorage <= 0 {
		return false
	}
	if seg.out.Size() < seg.maxStorage {
		return false
	}
	j.stopSelf(seg, fmt.Sprintf("stopped: result files reached max_storage_bytes %s (%d bytes)",
		formatBytes(seg.maxStorage), seg.maxStorage))
	return true
}

// stopSelf ends a run from its own goroutine as StopJob would: the run's
// context is cancelled, the reader returns, and run flushes and closes
// every output and makes the job done. why goes into the job's errors.
// A stop already asked for (StopJob, the daemon's shutdown) wins.
func (j *job) stopSelf(seg *segment, why string) {
	j.mu.Lock()
	if seg.reason == reasonNone {
		seg.reason = reasonLimit
		j.addErrorLocked(why)
	}
	j.mu.Unlock()
	seg.cancel()
}

// formatBytes writes a size for a person: "512 B", "1.0 GiB".
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit && exp < 4; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
