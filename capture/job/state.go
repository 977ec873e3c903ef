package job

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// State is where a job is in its lifecycle.
type State string

// Job states (SPEC §4).
const (
	StateRunning State = "running"
	StatePaused  State = "paused"
	StateDone    State = "done"
)

// stateFile is the name of a job's state file in its directory. It holds
// the sealed key, so it is never served as a result file.
const stateFile = "job.json"

// Result files of a job; FilePath serves only these names.
const (
	countersFile = "counters.csv"
	flowsFile    = "flows.ipfix"
	pcapFile     = "packets.pcap"
)

var resultFiles = [...]string{countersFile, flowsFile, pcapFile}

// totals are a job's counters summed over every run of it (a job runs
// again after a daemon restart).
type totals struct {
	Packets       uint64 `json:"packets"`
	Bytes         uint64 `json:"bytes"`
	Dropped       uint64 `json:"dropped"`
	IfDropped     uint64 `json:"if_dropped"`
	FlowsExported uint64 `json:"flows_exported"`
	NonIP         uint64 `json:"non_ip"`
	Malformed     uint64 `json:"malformed"`
	Truncated     uint64 `json:"truncated"`
	Fragments     uint64 `json:"fragments"`
	CollectorLost uint64 `json:"collector_lost"`
	// SanitizedDrops is absent from a job.json written before it existed.
	SanitizedDrops uint64 `json:"sanitized_drops,omitempty"`
}

func (t *totals) add(o totals) {
	t.Packets += o.Packets
	t.Bytes += o.Bytes
	t.Dropped += o.Dropped
	t.IfDropped += o.IfDropped
	t.FlowsExported += o.FlowsExported
	t.NonIP += o.NonIP
	t.Malformed += o.Malformed
	t.Truncated += o.Truncated
	t.Fragments += o.Fragments
	t.CollectorLost += o.CollectorLost
	t.SanitizedDrops += o.SanitizedDrops
}

// persisted is the content of job.json.
type persisted struct {
	Version int    `json:"version"`
	ID      string `json:"id"`
	Spec    Spec   `json:"spec"`
	State   State  `json:"state"`
	// Created is when StartJob made the job; Ended when it became done.
	Created time.Time `json:"created"`
	Ended   time.Time `json:"ended,omitzero"`
	// Running is the running time (pauses excluded) up to Checkpoint.
	Running time.Duration `json:"running_ns"`
	// Checkpoint is when this state was written.
	Checkpoint time.Time `json:"checkpoint"`
	// Clean is true when the daemon stopped the job's capture in order
	// (SIGTERM) rather than crashing.
	Clean bool `json:"clean"`
	// Interrupted sums the downtime of every daemon restart the job went
	// through while running.
	Interrupted time.Duration `json:"interrupted_ns"`
	// Progress is how far a file source was read, in percent.
	Progress float64  `json:"progress"`
	Totals   totals   `json:"totals"`
	Errors   []string `json:"errors,omitempty"`
	// SealedKey is the spec's key sealed under DataDir/seal.key (SPEC
	// §10): job.json never holds the key itself (Spec.Key stays empty in
	// the file, except in a job.json written before sealing). A done job
	// has none: it forgot its key.
	SealedKey []byte `json:"sealed_key,omitempty"`
}

const stateVersion = 1

// writeState replaces dir/job.json atomically: a crash leaves either the
// old or the new content, never a mix. On a full disk, where the new copy
// finds no room, job.json is rewritten in place instead (its own blocks
// are reused): a job that ended because the disk filled up must not be
// resumed as running at the next start. Without sync (Configuration.NoSync)
// nothing is flushed to the disk before the rename.
func writeState(dir string, p *persisted, sync bool) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("unable to encode job state: %w", err)
	}
	err = writeStateAtomic(dir, data, sync)
	if errors.Is(err, syscall.ENOSPC) {
		switch ierr := writeStateInPlace(dir, data, sync); {
		case errors.Is(ierr, os.ErrNotExist):
			return err // a new job: nothing to rewrite
		case ierr != nil:
			return errors.Join(err, ierr)
		}
		return nil
	}
	return err
}

// writeStateInPlace overwrites dir/job.json with data.
func writeStateInPlace(dir string, data []byte, sync bool) error {
	f, err := os.OpenFile(filepath.Join(dir, stateFile), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("unable to rewrite job state in place: %w", err)
	}
	data = append(data, '\n')
	_, err = f.WriteAt(data, 0)
	if err == nil {
		err = f.Truncate(int64(len(data)))
	}
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("unable to rewrite job state in place: %w", err)
	}
	return nil
}

func writeStateAtomic(dir string, data []byte, sync bool) error {
	tmp, err := os.CreateTemp(dir, stateFile+".tmp*")
	if err != nil {
		return fmt.Errorf("unable to write job state: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("unable to write job state: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("unable to write job state: %w", err)
	}
	if sync {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return fmt.Errorf("unable to write job state: %w", err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("unable to write job state: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, stateFile)); err != nil {
		return fmt.Errorf("unable to write job state: %w", err)
	}
	return nil
}

// readState loads dir/job.json.
func readState(dir string) (*persisted, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, fmt.Errorf("unable to read job state: %w", err)
	}
	var p persisted
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("unable to decode %s: %w", filepath.Join(dir, stateFile), err)
	}
	if p.Version != stateVersion {
		return nil, fmt.Errorf("%s: unsupported state version %d", filepath.Join(dir, stateFile), p.Version)
	}
	switch p.State {
	case StateRunning, StatePaused, StateDone:
	default:
		return nil, fmt.Errorf("%s: unknown state %q", filepath.Join(dir, stateFile), p.State)
	}
	return &p, nil
}
