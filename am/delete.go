package am

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/xmlrpc"
)

// DeleteExperiment deletes an experiment that is not running or paused
// (ErrState), with its results: each device removes its job's folder
// (DeleteJob), the AM removes its copies (DataDir/experiments/<id>), then
// the experiment's record goes, so ListExperiments no longer shows it.
// Only its owner or an admin may (another's is ErrNotFound).
//
// A device that cannot be reached or refuses keeps the record: the AM
// still removes its own copies and answers ErrDevice (fault 5) naming the
// device, and calling DeleteExperiment again, once the device answers,
// finishes the deletion. A job the device no longer has counts as
// deleted, and so does a device no longer in the AM's list.
func (m *Manager) DeleteExperiment(ctx context.Context, p Principal, id int64) (err error) {
	defer m.audit(ctx, p, "DeleteExperiment", auditID(id), &err)
	ctx = context.WithoutCancel(ctx)
	unlock := m.lockExperiment(id)
	defer unlock()
	e, err := m.experiment(ctx, p, id)
	if err != nil {
		return err
	}
	if e.State == StateRunning || e.State == StatePaused {
		return fmt.Errorf("%w: experiment %d is %s; stop it before DeleteExperiment", ErrState, id, e.State)
	}
	if err := m.deleteFiles(ctx, &e); err != nil {
		return forPrincipal(p, err)
	}
	if err := m.db.DeleteExperiment(ctx, id); err != nil {
		return err
	}
	m.pullMu.Lock()
	delete(m.lastPull, id)
	delete(m.pullLocks, id)
	m.pullMu.Unlock()
	m.forgetStatus(id)
	m.log.Info("experiment deleted", "experiment", id, "by", p.Name)
	return nil
}

// deleteFiles removes e's results on its devices and on the AM (e's lock
// held). The AM's copies go even when a device fails; the error then
// names every device that did not delete its job.
func (m *Manager) deleteFiles(ctx context.Context, e *db.Experiment) error {
	failures := make([]string, len(e.Devices))
	briefs := make([]string, len(e.Devices))
	var wg sync.WaitGroup
	for i := range e.Devices {
		pair := &e.Devices[i]
		if pair.Job == "" || deviceapi.ValidRequestID(pair.Job) {
			continue // never started
		}
		d, err := m.db.GetDevice(ctx, pair.Device)
		if errors.Is(err, db.ErrNotFound) {
			continue // the device went, and its files with it as far as the AM can tell
		}
		if err != nil {
			return err
		}
		c, err := m.client(&d)
		if err != nil {
			failures[i], briefs[i] = err.Error(), pair.Device
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.DeleteJob(ctx, pair.Job)
			var f *xmlrpc.Fault
			if err == nil || (errors.As(err, &f) && f.Code == deviceapi.FaultNotFound) {
				return
			}
			failures[i] = pairName(pair) + ": " + deviceProblem(pair.Device, err)
			briefs[i] = pairName(pair) + ": " + deviceBrief(pair.Device, err)
		}()
	}
	wg.Wait()
	m.ingests.forget(e.ID)
	dir := filepath.Join(m.cfg.DataDir, "experiments", strconv.FormatInt(e.ID, 10))
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("unable to remove the results of experiment %d: %w", e.ID, err)
	}
	if err := m.db.DeleteResultFiles(ctx, e.ID); err != nil {
		return err
	}
	if !e.ResultsPulled {
		// Nothing is to be pulled again from a device that kept its files.
		if _, err := m.db.UpdateExperiment(ctx, e.ID, "", func(x *db.Experiment) error {
			x.ResultsPulled = true
			return nil
		}); err != nil {
			return err
		}
	}
	failed, brief := compact(failures), compact(briefs)
	if len(failed) == 0 {
		return nil
	}
	return &deviceFailure{
		detail: fmt.Sprintf("experiment %d: the AM's copies are deleted, not the files on %s; call DeleteExperiment again once the device answers",
			e.ID, strings.Join(failed, "; ")),
		brief: fmt.Sprintf("experiment %d: the AM's copies are deleted, not the files on %s; call DeleteExperiment again once the device answers",
			e.ID, strings.Join(brief, "; ")),
	}
}

// compact returns the non-empty strings of list.
func compact(list []string) []string {
	var out []string
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
