package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Experiment is one experiment with its device pairings.
type Experiment struct {
	// ID is assigned by CreateExperiment.
	ID int64
	// Name is unique per owner.
	Name, Description string
	// Owner is the name of the user who created it.
	Owner string
	// State is the lifecycle state (SPEC §2).
	State string
	// Config is the configuration as JSON, the secret left out.
	Config string
	// Key is the 32-byte Crypto-PAn key, nil without anonymization.
	Key []byte
	// Created is when it was created.
	Created time.Time
	// RunningSince is when the current running period began (zero when
	// not running); RunTime is the running time of the ended periods.
	RunningSince time.Time
	RunTime      time.Duration
	// ResultsPulled tells that the final copies of the result files are
	// in the AM's data folder (storage "remote", after the end).
	ResultsPulled bool
	// Devices are the (device, interface) pairs the experiment captures on.
	Devices []Pairing
}

// Pairing is one (device, interface) of an experiment and its capture job.
type Pairing struct {
	// Position orders the pairs as given at creation.
	Position int
	// Device and Interface name the capture source.
	Device, Interface string
	// Job is the device's job id while the experiment has one.
	Job string
	// Status is the last job status seen (JSON), StatusAt when.
	Status   string
	StatusAt time.Time
	// StopPending tells that the experiment ended while the device did
	// not answer StopJob: the AM stops the job when it answers again.
	StopPending bool
}

// Transition is one recorded state change.
type Transition struct {
	From, To, By string
	At           time.Time
}

// CreateExperiment stores a new experiment in e.State and records the
// transition from no state, made by e.Owner; it returns the id.
// ErrConflict when the owner already has an experiment of that name.
func (d *DB) CreateExperiment(ctx context.Context, e Experiment) (int64, error) {
	var id int64
	// The count by state changes once committed, before the version.
	committed := func() []int64 { d.moved("", e.State); return []int64{id} }
	err := d.txExperiments(ctx, committed, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO experiments (name, description, owner, state, config, key, created)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, e.Name, e.Description, e.Owner, e.State, e.Config, e.Key, e.Created.UnixMilli())
		if isUnique(err) {
			return fmt.Errorf("experiment %q of %s: %w", e.Name, e.Owner, ErrConflict)
		}
		if err != nil {
			return err
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		for i, p := range e.Devices {
			if _, err := tx.ExecContext(ctx, `INSERT INTO experiment_devices (experiment, position, device, interface)
				VALUES (?, ?, ?, ?)`, id, i, p.Device, p.Interface); err != nil {
				return err
			}
		}
		return recordTransition(ctx, tx, id, Transition{From: "", To: e.State, By: e.Owner, At: e.Created})
	})
	if err != nil {
		return 0, fmt.Errorf("create experiment: %w", err)
	}
	return id, nil
}

// recordTransition appends a transition to an experiment's history.
func recordTransition(ctx context.Context, tx *sql.Tx, id int64, t Transition) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO transitions (experiment, from_state, to_state, by, at)
		VALUES (?, ?, ?, ?, ?)`, id, t.From, t.To, t.By, t.At.UnixMilli())
	return err
}

// queryer is what reads need: *sql.DB or *sql.Tx.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// getExperiment reads an experiment and its pairings.
func getExperiment(ctx context.Context, q queryer, id int64) (Experiment, error) {
	list, err := scanExperiments(ctx, q, `SELECT id, name, description, owner, state, config, key, created,
		running_since, run_ms, results_pulled FROM experiments WHERE id = ?`, id)
	if err != nil {
		return Experiment{}, fmt.Errorf("unable to read experiment %d: %w", id, err)
	}
	if len(list) == 0 {
		return Experiment{}, fmt.Errorf("experiment %d: %w", id, ErrNotFound)
	}
	e := list[0]
	rows, err := q.QueryContext(ctx, `SELECT position, device, interface, job, status, status_at, stop_pending
		FROM experiment_devices WHERE experiment = ? ORDER BY position`, id)
	if err != nil {
		return e, fmt.Errorf("unable to read experiment %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			p  Pairing
			at sql.NullInt64
		)
		if err := rows.Scan(&p.Position, &p.Device, &p.Interface, &p.Job, &p.Status, &at, &p.StopPending); err != nil {
			return e, fmt.Errorf("unable to read experiment %d: %w", id, err)
		}
		p.StatusAt = fromMilli(at)
		e.Devices = append(e.Devices, p)
	}
	return e, rows.Err()
}

// GetExperiment returns the experiment with its pairings, or ErrNotFound.
// Both reads use one connection (not a transaction, see ListExperiments).
func (d *DB) GetExperiment(ctx context.Context, id int64) (Experiment, error) {
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		return Experiment{}, fmt.Errorf("unable to read experiment %d: %w", id, err)
	}
	defer conn.Close()
	return getExperiment(ctx, conn, id)
}

// ListExperiments returns the experiments of owner (every one when owner
// is empty), oldest first, with their pairings. states, when given,
// keeps only experiments in one of them. It makes two queries, whatever
// the number of experiments.
func (d *DB) ListExperiments(ctx context.Context, owner string, states ...string) ([]Experiment, error) {
	return d.listExperiments(ctx, owner, false, nil, states...)
}

// ExperimentsByID is ListExperiments of the experiments ids (every
// owner's), those that exist: the AM's kept list reads again only the
// experiments written since it last read (ExperimentsChangedSince).
func (d *DB) ExperimentsByID(ctx context.Context, ids []int64) ([]Experiment, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return d.listExperiments(ctx, "", false, ids)
}

// ScheduledExperiments is ListExperiments of every owner's experiments
// whose configuration may have a schedule: at least those that have one
// (the caller checks). The conflict check of a start by hand reads them
// alone: the others cannot conflict with it (issue 15: every start read
// every experiment under the schedule lock).
func (d *DB) ScheduledExperiments(ctx context.Context, states ...string) ([]Experiment, error) {
	return d.listExperiments(ctx, "", true, nil, states...)
}

// listExperiments is ListExperiments, of the configurations that mention
// a schedule only when scheduled.
// ids, when not nil, lists those experiments only.
func (d *DB) listExperiments(ctx context.Context, owner string, scheduled bool, ids []int64, states ...string) ([]Experiment, error) {
	where := `WHERE (? = '' OR e.owner = ?)`
	args := []any{owner, owner}
	if scheduled {
		where += ` AND e.config LIKE '%"schedule":%'`
	}
	if ids != nil {
		where += ` AND e.id IN (?` + strings.Repeat(", ?", len(ids)-1) + `)`
		for _, id := range ids {
			args = append(args, id)
		}
	}
	if len(states) > 0 {
		where += ` AND e.state IN (?` + strings.Repeat(", ?", len(states)-1) + `)`
		for _, s := range states {
			args = append(args, s)
		}
	}
	// One connection for both reads, outside a transaction: write
	// transactions are IMMEDIATE (_txlock), which would serialize reads.
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("unable to list experiments: %w", err)
	}
	defer conn.Close()
	out, err := scanExperiments(ctx, conn, `SELECT e.id, e.name, e.description, e.owner, e.state, e.config, e.key,
		e.created, e.running_since, e.run_ms, e.results_pulled FROM experiments e `+where+` ORDER BY e.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("unable to list experiments: %w", err)
	}
	byID := make(map[int64]*Experiment, len(out))
	for i := range out {
		byID[out[i].ID] = &out[i]
	}
	rows, err := conn.QueryContext(ctx, `SELECT p.experiment, p.position, p.device, p.interface, p.job, p.status,
		p.status_at, p.stop_pending FROM experiment_devices p JOIN experiments e ON e.id = p.experiment `+where+
		` ORDER BY p.experiment, p.position`, args...)
	if err != nil {
		return nil, fmt.Errorf("unable to list experiments: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id int64
			p  Pairing
			at sql.NullInt64
		)
		if err := rows.Scan(&id, &p.Position, &p.Device, &p.Interface, &p.Job, &p.Status, &at, &p.StopPending); err != nil {
			return nil, fmt.Errorf("unable to list experiments: %w", err)
		}
		p.StatusAt = fromMilli(at)
		if e := byID[id]; e != nil {
			e.Devices = append(e.Devices, p)
		}
	}
	return out, rows.Err()
}

// scanExperiments reads experiment rows (without pairings).
func scanExperiments(ctx context.Context, q queryer, query string, args ...any) ([]Experiment, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Experiment{}
	for rows.Next() {
		var (
			e        Experiment
			created  int64
			since    sql.NullInt64
			runMilli int64
		)
		if err := rows.Scan(&e.ID, &e.Name, &e.Description, &e.Owner, &e.State, &e.Config, &e.Key, &created, &since,
			&runMilli, &e.ResultsPulled); err != nil {
			return nil, err
		}
		e.Created = time.UnixMilli(created).UTC()
		e.RunningSince = fromMilli(since)
		e.RunTime = time.Duration(runMilli) * time.Millisecond
		out = append(out, e)
	}
	return out, rows.Err()
}

// UpdateExperiment reads experiment id, lets fn change it and writes back
// its state, configuration, key, running time and pairings' jobs and stop_pending marks, in one
// transaction (with ResultsPulled); fn's error aborts and nothing changes. A non-empty by
// makes the update a transition: it is recorded (from the old state to
// the new one, even when they are equal, as a re-configuration is).
func (d *DB) UpdateExperiment(ctx context.Context, id int64, by string, fn func(*Experiment) error) (Experiment, error) {
	var (
		e    Experiment
		from string
	)
	// The count by state changes once committed, before the version.
	committed := func() []int64 { d.moved(from, e.State); return []int64{id} }
	err := d.txExperiments(ctx, committed, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		if e, err = getExperiment(ctx, tx, id); err != nil {
			return err
		}
		from = e.State
		if err := fn(&e); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE experiments SET state = ?, config = ?, key = ?, running_since = ?,
			run_ms = ?, results_pulled = ? WHERE id = ?`, e.State, e.Config, e.Key, unixMilli(e.RunningSince),
			e.RunTime.Milliseconds(), e.ResultsPulled, id); err != nil {
			return err
		}
		for _, p := range e.Devices {
			if _, err := tx.ExecContext(ctx, `UPDATE experiment_devices SET job = ?, stop_pending = ? WHERE experiment = ? AND position = ?`,
				p.Job, p.StopPending, id, p.Position); err != nil {
				return err
			}
		}
		if by == "" {
			return nil
		}
		return recordTransition(ctx, tx, id, Transition{From: from, To: e.State, By: by, At: time.Now()})
	})
	if err != nil {
		return Experiment{}, fmt.Errorf("update experiment %d: %w", id, err)
	}
	return e, nil
}

// SetPairingStatus stores the last job status seen for one pairing.
func (d *DB) SetPairingStatus(ctx context.Context, id int64, position int, status string, at time.Time) error {
	defer d.changedExperiments(id)
	_, err := d.exec(ctx, `UPDATE experiment_devices SET status = ?, status_at = ?
		WHERE experiment = ? AND position = ?`, status, at.UnixMilli(), id, position)
	if err != nil {
		return fmt.Errorf("unable to store the status of experiment %d: %w", id, err)
	}
	return nil
}

// PairingStatus is one pairing's last job status, for SetPairingStatuses.
type PairingStatus struct {
	Experiment int64
	Position   int
	Status     string
	At         time.Time
}

// SetPairingStatuses stores many pairings' statuses in one transaction:
// the AM's monitor writes a whole poll cycle at once, rather than one
// write (and one wait for the write lock) per device.
func (d *DB) SetPairingStatuses(ctx context.Context, list []PairingStatus) error {
	if len(list) == 0 {
		return nil
	}
	ids := func() []int64 {
		out := make([]int64, 0, 1)
		for _, p := range list {
			if len(out) == 0 || out[len(out)-1] != p.Experiment {
				out = append(out, p.Experiment)
			}
		}
		return out
	}
	err := d.txExperiments(ctx, ids, func(ctx context.Context, tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE experiment_devices SET status = ?, status_at = ?
			WHERE experiment = ? AND position = ?`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, p := range list {
			if _, err := st.ExecContext(ctx, p.Status, p.At.UnixMilli(), p.Experiment, p.Position); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("unable to store %d device statuses: %w", len(list), err)
	}
	return nil
}

// ClearStopPending clears the stop_pending mark of one pairing, once its
// device has stopped the job.
func (d *DB) ClearStopPending(ctx context.Context, id int64, position int) error {
	defer d.changedExperiments(id)
	_, err := d.exec(ctx, `UPDATE experiment_devices SET stop_pending = 0
		WHERE experiment = ? AND position = ?`, id, position)
	if err != nil {
		return fmt.Errorf("unable to clear the pending stop of experiment %d: %w", id, err)
	}
	return nil
}

// Transitions returns an experiment's recorded transitions, oldest first.
func (d *DB) Transitions(ctx context.Context, id int64) ([]Transition, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT from_state, to_state, by, at FROM transitions
		WHERE experiment = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("unable to read the transitions of experiment %d: %w", id, err)
	}
	defer rows.Close()
	out := []Transition{}
	for rows.Next() {
		var (
			t  Transition
			at int64
		)
		if err := rows.Scan(&t.From, &t.To, &t.By, &at); err != nil {
			return nil, fmt.Errorf("unable to read the transitions of experiment %d: %w", id, err)
		}
		t.At = time.UnixMilli(at).UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}

// CountExperiments returns the number of experiments in each state.
func (d *DB) CountExperiments(ctx context.Context) (map[string]int, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT state, count(*) FROM experiments GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("unable to count experiments: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var (
			s string
			n int
		)
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("unable to count experiments: %w", err)
		}
		out[s] = n
	}
	return out, rows.Err()
}

// DeleteExperiment removes experiment id with its device pairings,
// transitions and result files (ON DELETE CASCADE).
func (d *DB) DeleteExperiment(ctx context.Context, id int64) error {
	defer d.changedExperiments(id)
	var state string
	err := d.grouped(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `DELETE FROM experiments WHERE id = ? RETURNING state`, id).Scan(&state)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("experiment %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("unable to delete experiment %d: %w", id, err)
	}
	d.moved(state, "")
	return nil
}

// ExperimentsIn returns the number of experiments in state, counted in
// memory: read from the database at Open, then changed by every
// creation, transition and deletion once committed (before their
// ExperimentVersion changes). The status of every experiment says how
// many are running (issue 15: counting them in SQLite at every change of
// any experiment kept status rebuilds waiting under make load).
func (d *DB) ExperimentsIn(state string) int {
	d.statesMu.Lock()
	defer d.statesMu.Unlock()
	return d.states[state]
}

// moved counts an experiment that went from state from to state to ("":
// created, deleted).
func (d *DB) moved(from, to string) {
	if from == to {
		return
	}
	d.statesMu.Lock()
	defer d.statesMu.Unlock()
	if from != "" {
		d.states[from]--
	}
	if to != "" {
		d.states[to]++
	}
}

// DoneAt returns when experiment id last became done (zero if never).
func (d *DB) DoneAt(ctx context.Context, id int64) (time.Time, error) {
	var at sql.NullInt64
	if err := d.sql.QueryRowContext(ctx, `SELECT MAX(at) FROM transitions WHERE experiment = ? AND to_state = 'done'`,
		id).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("unable to read when experiment %d ended: %w", id, err)
	}
	return fromMilli(at), nil
}

// ExpiredExperiments returns the done experiments that ended before
// before and whose files are not yet marked expired (MarkExpired).
func (d *DB) ExpiredExperiments(ctx context.Context, before time.Time) ([]int64, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT e.id FROM experiments e
		WHERE e.state = 'done' AND e.id NOT IN (SELECT experiment FROM expired)
		AND (SELECT MAX(at) FROM transitions t WHERE t.experiment = e.id AND t.to_state = 'done') < ?
		ORDER BY e.id`, before.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("unable to list expired experiments: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("unable to list expired experiments: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// MarkExpired records that experiment id's files were deleted at at.
func (d *DB) MarkExpired(ctx context.Context, id int64, at time.Time) error {
	defer d.changedExperiments(id)
	if _, err := d.exec(ctx, `INSERT OR REPLACE INTO expired (experiment, at) VALUES (?, ?)`,
		id, at.UnixMilli()); err != nil {
		return fmt.Errorf("unable to mark the files of experiment %d expired: %w", id, err)
	}
	return nil
}

// Expired tells whether experiment id's files were deleted.
func (d *DB) Expired(ctx context.Context, id int64) (bool, error) {
	var n int
	if err := d.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM expired WHERE experiment = ?`, id).Scan(&n); err != nil {
		return false, fmt.Errorf("unable to read whether experiment %d expired: %w", id, err)
	}
	return n > 0, nil
}
