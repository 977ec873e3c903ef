// Package db is the aggregate manager's SQLite store: users, devices,
// experiments with their device pairings and recorded transitions, and the
// metadata of result files pulled from the devices.
//
// The database holds the device tokens, so it and its -wal and -shm files
// are readable by their owner only: Open creates the file with mode 0600
// before SQLite opens it (SQLite gives the -wal and -shm files the mode
// of the database file), and makes an existing database, -wal or -shm
// that the group or others could read 0600, with a warning.
//
// The database runs in WAL mode with foreign keys on. Writers take the
// write lock when their transaction begins (_txlock=immediate) and wait up
// to BusyTimeout for it, so concurrent API calls queue instead of failing
// with "database is locked". The schema is versioned with PRAGMA
// user_version and migrated in code (migrations.go) when Open runs.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/gimsproject/gims/internal/check"
	"github.com/gimsproject/gims/internal/secretfile"
	"github.com/gimsproject/gims/internal/servertiming"
)

// Errors the store returns, wrapped with context; the AM maps them to
// fault codes.
var (
	// ErrNotFound is returned when a row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when a unique name is already taken.
	ErrConflict = errors.New("already exists")
)

// Configuration configures the store. Start from DefaultConfiguration and
// set Path: Open refuses invalid values (see Validate).
type Configuration struct {
	// Path is the SQLite file; it is created when missing. Required.
	Path string
	// BusyTimeout is how long a writer waits for the write lock
	// (default 30 s).
	BusyTimeout time.Duration
	// MaxOpenConns bounds the connection pool (default 32): WAL readers
	// run side by side, writers queue for the write lock.
	MaxOpenConns int
	// Logger receives the warning when Open had to make the database's
	// files private, and checkpoint failures (default: discard;
	// required).
	Logger *slog.Logger
	// CheckpointInterval is how often the write-ahead log is copied into
	// the database file (a passive checkpoint, default 1 s), beside the
	// writes: the writes themselves never checkpoint, so that none waits
	// for the checkpoint's fsync (issue 15: under disk contention that
	// stalled the write queue for hundreds of milliseconds).
	CheckpointInterval time.Duration
}

// DefaultConfiguration returns the documented defaults (Path still to
// set).
func DefaultConfiguration() Configuration {
	return Configuration{
		BusyTimeout:        30 * time.Second,
		MaxOpenConns:       32,
		Logger:             slog.New(slog.DiscardHandler),
		CheckpointInterval: time.Second,
	}
}

// Validate names the field that is wrong, the rule and the value given.
func (c Configuration) Validate() error {
	return check.First(
		check.Set("Path", c.Path != "", "set (the SQLite file)"),
		check.Positive("BusyTimeout", c.BusyTimeout),
		check.Positive("MaxOpenConns", c.MaxOpenConns),
		check.Set("Logger", c.Logger != nil, "set"),
		check.Positive("CheckpointInterval", c.CheckpointInterval),
	)
}

// DB is an open store. It is safe for concurrent use.
type DB struct {
	sql *sql.DB
	// version counts the writes that may change an experiment
	// (ExperimentsVersion), users those that may change a user
	// (UsersVersion).
	version, users atomic.Uint64
	// anyAt is the version of the last write that may have changed any
	// experiment; experimentAt the version of the last write of each
	// experiment written since Open (ExperimentVersion).
	anyAt        atomic.Uint64
	experimentMu sync.RWMutex
	experimentAt map[int64]uint64
	// devicesAt changes after every write that may change a device;
	// devices keeps the devices read at a version (GetDevice).
	devicesAt atomic.Uint64
	devMu     sync.RWMutex
	devices   map[string]*keptDevice
	// states counts the experiments by state (ExperimentsIn).
	statesMu sync.Mutex
	states   map[string]int
	// instance is InstanceID once read; instanceMu guards it.
	instanceMu sync.Mutex
	instance   string
	// writeSem is the turn to run a write transaction; queue holds the
	// writes waiting for theirs (grouped), guarded by queueMu.
	writeSem chan struct{}
	queueMu  sync.Mutex
	queue    []*write
	// writer is the connection of every write; it never checkpoints
	// (checkpoints does, until stop is closed; then stopped is).
	writer        *sql.Conn
	stop, stopped chan struct{}
	closeOnce     sync.Once
	log           *slog.Logger
}

// ExperimentsVersion changes after every write that may change what an
// experiment reads (its record, pairings, statuses, transitions, expiry):
// every transaction and every experiment write outside one. A reader
// that took the version before reading knows its copy is current as long
// as the version has not changed, which lets the AM answer
// GetExperimentStatus from memory.
func (d *DB) ExperimentsVersion() uint64 { return d.version.Load() }

// changed marks a write that may change any experiment
// (ExperimentsVersion, ExperimentVersion), after it is committed.
func (d *DB) changed() { d.anyAt.Store(d.version.Add(1)) }

// changedExperiments marks a write of the experiments ids only, after it
// is committed: the versions of the others do not change.
func (d *DB) changedExperiments(ids ...int64) {
	d.experimentMu.Lock()
	defer d.experimentMu.Unlock()
	v := d.version.Add(1)
	for _, id := range ids {
		d.experimentAt[id] = v
	}
}

// ExperimentVersion is ExperimentsVersion for experiment id alone: it
// changes after every write that may change what experiment id reads,
// and not after writes of other experiments only. A reader that took it
// before reading knows its copy of the experiment is current as long as
// it has not changed: the AM's status cache of one experiment holds while
// other experiments come and go (issue 15).
func (d *DB) ExperimentVersion(id int64) uint64 {
	d.experimentMu.RLock()
	v := d.experimentAt[id]
	d.experimentMu.RUnlock()
	return max(v, d.anyAt.Load())
}

// ExperimentsChangedSince returns the experiments written after version
// v of ExperimentsVersion (those that exist still and those deleted
// since), or all = true when a write since v may have changed any
// experiment (a transaction: a device renamed, a user removed). A reader
// that keeps every experiment reads again those alone.
func (d *DB) ExperimentsChangedSince(v uint64) (ids []int64, all bool) {
	if d.anyAt.Load() > v {
		return nil, true
	}
	d.experimentMu.RLock()
	defer d.experimentMu.RUnlock()
	for id, at := range d.experimentAt {
		if at > v {
			ids = append(ids, id)
		}
	}
	return ids, false
}

// UsersVersion changes after every write that may change a user: every
// transaction and every user write outside one. The AM keeps checked
// logins while it does not change, without reading the user again.
func (d *DB) UsersVersion() uint64 { return d.users.Load() }

// usersChanged marks a write of a user (UsersVersion).
func (d *DB) usersChanged() { d.users.Add(1) }

// Open opens (creating and migrating it if needed) the database at
// cfg.Path.
func Open(ctx context.Context, cfg Configuration) (*DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid database configuration: %w", err)
	}
	// Made before SQLite would make it 0644; -wal and -shm follow its mode.
	if err := secretfile.Create(cfg.Path); err != nil {
		return nil, fmt.Errorf("unable to create the database: %w", err)
	}
	if err := tightenFiles(cfg); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_foreign_keys", "on")
	q.Set("_busy_timeout", fmt.Sprint(cfg.BusyTimeout.Milliseconds()))
	q.Set("_txlock", "immediate")
	q.Set("_synchronous", "NORMAL")
	dsn := "file:" + uriPath(cfg.Path) + "?" + q.Encode()
	// Connections that keep their prepared statements (stmtcache.go).
	sdb := sql.OpenDB(&connector{dsn: dsn, drv: &sqlite3.SQLiteDriver{}})
	sdb.SetMaxOpenConns(cfg.MaxOpenConns)
	sdb.SetMaxIdleConns(cfg.MaxOpenConns)
	d := &DB{sql: sdb, experimentAt: map[int64]uint64{}, writeSem: make(chan struct{}, 1), log: cfg.Logger,
		stop: make(chan struct{}), stopped: make(chan struct{})}
	// One connection for every write (they run one at a time), which
	// never checkpoints: the checkpointer does, beside it.
	writer, err := sdb.Conn(ctx)
	if err == nil {
		_, err = writer.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 0")
	}
	if err != nil {
		sdb.Close()
		return nil, fmt.Errorf("unable to open %s: %w", cfg.Path, err)
	}
	d.writer = writer
	if err := d.migrate(ctx); err != nil {
		writer.Close()
		sdb.Close()
		return nil, fmt.Errorf("unable to migrate %s: %w", cfg.Path, err)
	}
	if d.states, err = d.CountExperiments(ctx); err != nil {
		writer.Close()
		sdb.Close()
		return nil, fmt.Errorf("unable to open %s: %w", cfg.Path, err)
	}
	var mode string
	if err := sdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		sdb.Close()
		return nil, fmt.Errorf("unable to put %s in WAL mode (journal_mode %q): %v", cfg.Path, mode, err)
	}
	// -wal and -shm left open by an older version are used as they are by
	// SQLite: only now do they surely exist.
	if err := tightenFiles(cfg); err != nil {
		writer.Close()
		sdb.Close()
		return nil, err
	}
	go d.checkpoints(cfg.CheckpointInterval)
	return d, nil
}

// checkpoints runs a passive checkpoint every interval until Close: it
// copies what the write-ahead log holds into the database file without
// waiting for readers or writers, and the writes go on meanwhile.
func (d *DB) checkpoints(interval time.Duration) {
	defer close(d.stopped)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
		}
		if err := d.checkpoint(); err != nil {
			d.log.Warn("database checkpoint failed", "error", err)
		}
	}
}

// checkpoint runs one passive checkpoint.
func (d *DB) checkpoint() error {
	_, err := d.sql.Exec("PRAGMA wal_checkpoint(PASSIVE)")
	return err
}

// tightenFiles makes the database, -wal and -shm files that exist
// readable by their owner only, warning about each it changes.
func tightenFiles(cfg Configuration) error {
	for _, path := range []string{cfg.Path, cfg.Path + "-wal", cfg.Path + "-shm"} {
		old, err := secretfile.Tighten(path)
		if err != nil {
			return fmt.Errorf("the database holds device tokens: %w", err)
		}
		if old != 0 {
			cfg.Logger.Warn("database file was readable by others; made private (it holds device tokens)",
				"file", path, "old_mode", fmt.Sprintf("%04o", old), "mode", "0600")
		}
	}
	return nil
}

// Close closes the database (the last connection to close checkpoints
// what is left).
func (d *DB) Close() error {
	d.closeOnce.Do(func() {
		close(d.stop)
		<-d.stopped
		d.writer.Close()
	})
	return d.sql.Close()
}

// tx runs fn in a write transaction, committed when fn returns nil.
func (d *DB) tx(ctx context.Context, fn func(context.Context, *sql.Tx) error) error {
	if err := d.grouped(ctx, fn); err != nil {
		return err
	}
	d.changed()
	d.usersChanged()
	d.devicesAt.Add(1)
	return nil
}

// exec runs one write statement, queued with the transactions (grouped).
func (d *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := d.grouped(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		res, err = tx.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// txExperiments is tx for writes of the experiments ids() only (their
// records, statuses, result files): they leave UsersVersion and the other
// experiments' versions alone. ids is called after fn succeeded.
func (d *DB) txExperiments(ctx context.Context, ids func() []int64, fn func(context.Context, *sql.Tx) error) error {
	if err := d.grouped(ctx, fn); err != nil {
		return err
	}
	d.changedExperiments(ids()...)
	return nil
}

// The write queue (issue 15). Every write of the process goes through
// grouped, one transaction at a time: SQLite's own wait for its write
// lock polls with growing sleeps, in which a writer among many (an AM
// driving 1,000 devices) can lose every round until its busy timeout ends
// in "database is locked". And the writes that queued while a transaction
// ran are committed together, in one transaction (group commit), each in
// a savepoint of its own so that one that fails is undone alone: under
// make load, lifecycle transitions, audit records and the pulls' writes
// no longer wait for one another's commits one by one.

// maxGroupedWrites bounds the writes committed together.
const maxGroupedWrites = 64

// write is one write in the queue.
type write struct {
	ctx  context.Context
	fn   func(context.Context, *sql.Tx) error
	err  error
	done chan struct{} // closed once committed or failed
}

// grouped runs fn in a write transaction, committed when fn returns nil,
// possibly with the writes queued beside it. The caller whose turn comes
// (writeSem) commits what is queued then; the others wait for it.
func (d *DB) grouped(ctx context.Context, fn func(context.Context, *sql.Tx) error) error {
	defer servertiming.BeginKind(ctx, servertiming.KindDB)()
	w := &write{ctx: ctx, fn: fn, done: make(chan struct{})}
	d.queueMu.Lock()
	d.queue = append(d.queue, w)
	d.queueMu.Unlock()
	for {
		select {
		case <-w.done:
			return w.err
		case d.writeSem <- struct{}{}:
		}
		d.queueMu.Lock()
		n := min(len(d.queue), maxGroupedWrites)
		batch := slices.Clone(d.queue[:n])
		d.queue = slices.Delete(d.queue, 0, n)
		d.queueMu.Unlock()
		d.commit(batch)
		<-d.writeSem
		// w was in this batch or an earlier one (it was queued before
		// this turn came), unless more than maxGroupedWrites were.
	}
}

// run runs the write in the batch's transaction, unless its caller has
// already gone. Its statements get a context that cannot be cancelled:
// the driver answers a cancelled statement with sqlite3_interrupt, which
// rolls back the whole transaction, and so the writes of every other
// caller committed with it.
func (w *write) run(tx *sql.Tx) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	return w.fn(context.WithoutCancel(w.ctx), tx)
}

// commit runs a batch of writes in one transaction; it sets each write's
// error and closes its done.
func (d *DB) commit(batch []*write) {
	defer func() {
		for _, w := range batch {
			close(w.done)
		}
	}()
	if len(batch) == 0 {
		return
	}
	// The transaction is the batch's, not its first caller's: that one
	// going away must not roll back the others.
	tx, err := d.writer.BeginTx(context.WithoutCancel(batch[0].ctx), nil)
	if err != nil {
		for _, w := range batch {
			w.err = err
		}
		return
	}
	if len(batch) == 1 {
		w := batch[0]
		if w.err = w.run(tx); w.err != nil {
			tx.Rollback()
			return
		}
		w.err = tx.Commit()
		return
	}
	ok := 0
	for _, w := range batch {
		if _, err := tx.Exec("SAVEPOINT w"); err != nil {
			w.err = err
			continue
		}
		if w.err = w.run(tx); w.err != nil {
			if _, err := tx.Exec("ROLLBACK TO w"); err != nil {
				// The savepoint cannot be undone alone: nothing is.
				tx.Rollback()
				for _, o := range batch {
					if o.err == nil {
						o.err = fmt.Errorf("unable to undo a failed write in its group: %w", err)
					}
				}
				return
			}
		}
		if _, err := tx.Exec("RELEASE w"); err != nil && w.err == nil {
			w.err = err
		}
		if w.err == nil {
			ok++
		}
	}
	if ok == 0 {
		tx.Rollback()
		return
	}
	if err := tx.Commit(); err != nil {
		for _, w := range batch {
			if w.err == nil {
				w.err = err
			}
		}
	}
}

// isUnique tells whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrConstraint &&
		(se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey)
}

// unixMilli stores a time; the zero time is stored as NULL.
func unixMilli(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// fromMilli reads a time stored by unixMilli.
func fromMilli(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return time.UnixMilli(ms.Int64).UTC()
}

// uriPath escapes what SQLite's URI file names would otherwise read as
// the start of a query or fragment, so that a path holding '?' or '#'
// opens that file and not a shorter one.
func uriPath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
}
