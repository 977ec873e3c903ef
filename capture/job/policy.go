package job

import (
	"fmt"
	"time"

	"github.com/gimsproject/gims/deviceapi"
)

// The device owner's own limit (SPEC §9, gims-capd -policy): whatever the
// aggregate manager allows, a job that breaks a rule of
// Configuration.Policy is refused, gets the policy's storage bound, and
// stops itself after the policy's running time.

// Policy returns the device owner's policy, its absent members filled
// (what Capabilities reports).
func (m *Manager) Policy() deviceapi.Policy {
	p := m.cfg.Policy
	p.Outputs = append([]string(nil), p.Outputs...)
	return p
}

// applyPolicy refuses a checked spec that breaks a rule of the policy
// (ErrNotAllowed naming the rule) and lowers its MaxStorageBytes to the
// policy's bound: a job asking for none or a larger one gets the bound.
func (m *Manager) applyPolicy(s *Spec) error {
	p := &m.cfg.Policy
	w := s.wire()
	if why := p.Violation(&w); why != "" {
		return fmt.Errorf("%w: device policy: %s", ErrNotAllowed, why)
	}
	if p.MaxStorageBytes > 0 && (s.MaxStorageBytes == 0 || s.MaxStorageBytes > p.MaxStorageBytes) {
		s.MaxStorageBytes = p.MaxStorageBytes
	}
	return nil
}

// checkDuration stops a running job whose running time (pauses excluded)
// reached the policy's MaxDurationS. The guard calls it every
// flushInterval, so a job runs at most about a second longer.
func (j *job) checkDuration(seg *segment) bool {
	limit := time.Duration(j.m.cfg.Policy.MaxDurationS) * time.Second
	if limit <= 0 {
		return false
	}
	j.mu.Lock()
	ran := j.runningLocked(j.m.cfg.Now())
	j.mu.Unlock()
	if ran < limit {
		return false
	}
	j.stopSelf(seg, fmt.Sprintf("stopped: running time reached the device policy's max_duration_s %d", j.m.cfg.Policy.MaxDurationS))
	return true
}
