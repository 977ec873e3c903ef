package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Outcomes of a schedule run (ScheduleRun.Outcome).
const (
	// RunStarting: the scheduler claimed the run and is starting it; a
	// row left so by a stopped AM is settled at its next start.
	RunStarting = "starting"
	// RunRunning: the run is under way.
	RunRunning = "running"
	// RunDone: the run ended.
	RunDone = "done"
	// RunSkipped: the run never started (its window passed while the AM
	// was not running, or the experiment had ended).
	RunSkipped = "skipped"
	// RunFailed: the run's start did not happen (refused, or the AM
	// stopped during it); it is never tried again.
	RunFailed = "failed"
)

// ScheduleRun is one run of an experiment's schedule as the scheduler
// recorded it.
type ScheduleRun struct {
	// Experiment and Run (its index in the schedule, from 0) identify it.
	Experiment int64
	Run        int
	// PlannedStart and PlannedEnd are its window (PlannedEnd zero:
	// open-ended).
	PlannedStart, PlannedEnd time.Time
	// Started and Ended are when it really did (zero: not).
	Started, Ended time.Time
	// Outcome is one of the Run* constants; Note says more.
	Outcome, Note string
}

// Open tells whether the run is under way or being started.
func (r *ScheduleRun) Open() bool { return r.Outcome == RunStarting || r.Outcome == RunRunning }

// ClaimRun records run r (usually RunStarting or RunSkipped). A run is
// claimed once: ErrConflict when the row exists, so that no run is ever
// taken twice.
func (d *DB) ClaimRun(ctx context.Context, r ScheduleRun) error {
	defer d.changedExperiments(r.Experiment) // the runs are part of the experiment's status (next_start)
	_, err := d.exec(ctx, `INSERT INTO schedule_runs (experiment, run, planned_start, planned_end, started,
		ended, outcome, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.Experiment, r.Run, r.PlannedStart.UnixMilli(),
		unixMilli(r.PlannedEnd), unixMilli(r.Started), unixMilli(r.Ended), r.Outcome, r.Note)
	if isUnique(err) {
		return fmt.Errorf("run %d of experiment %d: %w", r.Run, r.Experiment, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("unable to record run %d of experiment %d: %w", r.Run, r.Experiment, err)
	}
	return nil
}

// UpdateRun stores a claimed run's started and ended times, outcome and
// note.
func (d *DB) UpdateRun(ctx context.Context, r ScheduleRun) error {
	defer d.changedExperiments(r.Experiment) // the runs are part of the experiment's status (next_start)
	res, err := d.exec(ctx, `UPDATE schedule_runs SET started = ?, ended = ?, outcome = ?, note = ?
		WHERE experiment = ? AND run = ?`, unixMilli(r.Started), unixMilli(r.Ended), r.Outcome, r.Note, r.Experiment, r.Run)
	if err != nil {
		return fmt.Errorf("unable to update run %d of experiment %d: %w", r.Run, r.Experiment, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("run %d of experiment %d: %w", r.Run, r.Experiment, ErrNotFound)
	}
	return nil
}

// DeleteRun forgets a claimed run whose start was refused before
// anything happened, so that it may be tried again within its window.
func (d *DB) DeleteRun(ctx context.Context, experiment int64, run int) error {
	defer d.changedExperiments(experiment) // the runs are part of the experiment's status (next_start)
	if _, err := d.exec(ctx, `DELETE FROM schedule_runs WHERE experiment = ? AND run = ?`,
		experiment, run); err != nil {
		return fmt.Errorf("unable to forget run %d of experiment %d: %w", run, experiment, err)
	}
	return nil
}

// DeleteRuns forgets every run of an experiment (its schedule was
// replaced before it ever ran).
func (d *DB) DeleteRuns(ctx context.Context, experiment int64) error {
	defer d.changedExperiments(experiment) // the runs are part of the experiment's status (next_start)
	if _, err := d.exec(ctx, `DELETE FROM schedule_runs WHERE experiment = ?`, experiment); err != nil {
		return fmt.Errorf("unable to forget the runs of experiment %d: %w", experiment, err)
	}
	return nil
}

// Runs returns the recorded runs of an experiment, in order.
func (d *DB) Runs(ctx context.Context, experiment int64) ([]ScheduleRun, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT experiment, run, planned_start, planned_end, started, ended, outcome,
		note FROM schedule_runs WHERE experiment = ? ORDER BY run`, experiment)
	if err != nil {
		return nil, fmt.Errorf("unable to read the runs of experiment %d: %w", experiment, err)
	}
	defer rows.Close()
	out := []ScheduleRun{}
	for rows.Next() {
		var (
			r                     ScheduleRun
			start                 int64
			end, started, endedAt sql.NullInt64
		)
		if err := rows.Scan(&r.Experiment, &r.Run, &start, &end, &started, &endedAt, &r.Outcome, &r.Note); err != nil {
			return nil, fmt.Errorf("unable to read the runs of experiment %d: %w", experiment, err)
		}
		r.PlannedStart = time.UnixMilli(start).UTC()
		r.PlannedEnd, r.Started, r.Ended = fromMilli(end), fromMilli(started), fromMilli(endedAt)
		out = append(out, r)
	}
	return out, rows.Err()
}

// OpenRunExperiments lists the experiments with a run under way or being
// started, so that the scheduler closes those of ended experiments.
func (d *DB) OpenRunExperiments(ctx context.Context) ([]int64, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT DISTINCT experiment FROM schedule_runs
		WHERE outcome IN ('starting', 'running') ORDER BY experiment`)
	if err != nil {
		return nil, fmt.Errorf("unable to list the runs under way: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("unable to list the runs under way: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
