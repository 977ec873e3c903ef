package job

import (
	"fmt"
	"os"
)

// DeleteJob removes a done job and its folder: its files, its job.json
// and its key are gone, and the job is no longer listed. A job that is not
// done is ErrState (stop it first); an unknown one ErrNotFound. The AM
// calls it when an experiment is deleted or its retention ends (SPEC §9).
func (m *Manager) DeleteJob(id string) error {
	j, err := m.get(id)
	if err != nil {
		return err
	}
	// saveMu first, as save takes it: no job.json written into the
	// folder being removed.
	j.saveMu.Lock()
	defer j.saveMu.Unlock()
	j.mu.Lock()
	state, running := j.p.State, j.seg != nil
	j.mu.Unlock()
	if state != StateDone || running {
		return fmt.Errorf("%w: job %s is %s, not done: stop it first", ErrState, id, state)
	}
	m.mu.Lock()
	if m.jobs[id] != j {
		m.mu.Unlock()
		return fmt.Errorf("%w: no job %q", ErrNotFound, id)
	}
	delete(m.jobs, id)
	m.mu.Unlock()
	if err := os.RemoveAll(j.dir); err != nil {
		return fmt.Errorf("unable to remove the folder of job %s: %w", id, err)
	}
	m.cfg.Logger.Info("capture job deleted", "job", id)
	return nil
}
