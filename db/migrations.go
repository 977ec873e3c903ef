package db

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the schema versions, in order: migrations[i] takes the
// schema from version i to i+1. Append only; never edit a released step.
func migrations() []string {
	return []string{
		// 1: the first schema.
		`CREATE TABLE users (
			name TEXT PRIMARY KEY,
			role TEXT NOT NULL CHECK (role IN ('admin', 'experimenter')),
			password_hash TEXT NOT NULL,
			created INTEGER NOT NULL
		);
		CREATE TABLE devices (
			name TEXT PRIMARY KEY,
			location TEXT NOT NULL DEFAULT '',
			type TEXT NOT NULL DEFAULT '',
			hostname TEXT NOT NULL,
			port INTEGER NOT NULL,
			description TEXT NOT NULL DEFAULT '',
			token TEXT NOT NULL,
			interfaces TEXT NOT NULL DEFAULT '',  -- comma-separated
			capabilities TEXT,                    -- the XML-RPC <value> as received
			pending INTEGER NOT NULL DEFAULT 0,
			reachable INTEGER NOT NULL DEFAULT 0,
			last_seen INTEGER,
			last_error TEXT NOT NULL DEFAULT '',
			created INTEGER NOT NULL
		);
		CREATE TABLE experiments (
			id INTEGER PRIMARY KEY AUTOINCREMENT,
			name TEXT NOT NULL,
			description TEXT NOT NULL DEFAULT '',
			owner TEXT NOT NULL,
			state TEXT NOT NULL,
			config TEXT NOT NULL DEFAULT '',      -- JSON, without the secret
			key BLOB,                             -- the 32-byte Crypto-PAn key
			created INTEGER NOT NULL,
			running_since INTEGER,                -- start of the current running period
			run_ms INTEGER NOT NULL DEFAULT 0,    -- running time of the ended periods
			results_pulled INTEGER NOT NULL DEFAULT 0, -- final copies of the result files are local
			UNIQUE (owner, name)
		);
		CREATE TABLE experiment_devices (
			experiment INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
			position INTEGER NOT NULL,
			device TEXT NOT NULL,
			interface TEXT NOT NULL,
			job TEXT NOT NULL DEFAULT '',
			status TEXT NOT NULL DEFAULT '',      -- last JobStatus seen, JSON
			status_at INTEGER,
			PRIMARY KEY (experiment, position)
		);
		CREATE INDEX experiment_devices_device ON experiment_devices(device);
		CREATE TABLE transitions (
			id INTEGER PRIMARY KEY AUTOINCREMENT,
			experiment INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
			from_state TEXT NOT NULL,
			to_state TEXT NOT NULL,
			by TEXT NOT NULL,
			at INTEGER NOT NULL
		);
		CREATE INDEX transitions_experiment ON transitions(experiment);
		CREATE TABLE result_files (
			experiment INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
			position INTEGER NOT NULL,
			name TEXT NOT NULL,
			size INTEGER NOT NULL,
			path TEXT NOT NULL,                   -- under the AM's data folder
			pulled INTEGER NOT NULL,
			PRIMARY KEY (experiment, position, name)
		);`,
		// 2: activation codes for RegisterDevice (only their SHA-256).
		`CREATE TABLE activations (
			id INTEGER PRIMARY KEY AUTOINCREMENT,
			code_hash BLOB NOT NULL UNIQUE,       -- SHA-256 of the code
			created_by TEXT NOT NULL,
			created INTEGER NOT NULL,
			expires INTEGER NOT NULL,
			uses_left INTEGER NOT NULL
		);`,
		// 3: idempotent starts: each StartExperiment attempt is counted,
		// so that its StartJob request ids are new; the AM's instance id
		// tells its requests from another AM's on a shared device; the
		// start requests to cancel once their device answers again.
		`ALTER TABLE experiments ADD COLUMN start_attempts INTEGER NOT NULL DEFAULT 0;
		CREATE TABLE meta (
			key TEXT PRIMARY KEY,
			value TEXT NOT NULL
		);
		CREATE TABLE start_cancels (
			device TEXT NOT NULL,
			request TEXT NOT NULL,                -- the StartJob request id
			created INTEGER NOT NULL,
			PRIMARY KEY (device, request)
		);`,
		// 4: transport security (SPEC §10): devices served over HTTPS,
		// optionally pinned by their certificate's SHA-256; users named
		// by a client certificate's SAN URI (such as a GENI URN).
		`ALTER TABLE devices ADD COLUMN tls INTEGER NOT NULL DEFAULT 0;
		ALTER TABLE devices ADD COLUMN cert_sha256 TEXT NOT NULL DEFAULT '';
		ALTER TABLE users ADD COLUMN cert_uri TEXT NOT NULL DEFAULT '';
		CREATE UNIQUE INDEX users_cert_uri ON users(cert_uri) WHERE cert_uri != '';`,
		// 5: stop always works (SPEC §9): a device that did not answer
		// StopExperiment keeps its job marked until the AM's monitor
		// stops it.
		`ALTER TABLE experiment_devices ADD COLUMN stop_pending INTEGER NOT NULL DEFAULT 0;`,
		// 6: the audit log (SPEC §9): every API call that changes
		// something, with who, from where, what and how it ended; the
		// experiments whose files the retention deleted.
		`CREATE TABLE audit (
			id INTEGER PRIMARY KEY AUTOINCREMENT,
			at INTEGER NOT NULL,                  -- Unix milliseconds
			user TEXT NOT NULL,
			remote TEXT NOT NULL DEFAULT '',
			method TEXT NOT NULL,
			target TEXT NOT NULL DEFAULT '',
			result TEXT NOT NULL                  -- "ok", or the fault code and message
		);
		CREATE INDEX audit_at ON audit(at);
		-- gims-am -retention: the done experiments whose files are deleted.
		CREATE TABLE expired (
			experiment INTEGER PRIMARY KEY REFERENCES experiments(id) ON DELETE CASCADE,
			at INTEGER NOT NULL
		);`,
		// 7 (keys): operator-held Crypto-PAn keys (SPEC §9), made at the
		// AM and never shown: the key sealed under DataDir/seal.key, its
		// fingerprint, and the users who may use it. The audit log is
		// pruned by age (gims-am -audit-retention), so its time is
		// indexed (audit_at, made by 6).
		`CREATE TABLE keys (
			name TEXT PRIMARY KEY,
			sealed BLOB NOT NULL,                 -- the 32-byte key, sealed
			fingerprint TEXT NOT NULL,            -- first 8 hex digits of SHA-256 of the key
			users TEXT NOT NULL,                  -- JSON array of user names, or ["*"]
			created_by TEXT NOT NULL,
			created INTEGER NOT NULL
		);`,
		// 8: schedules (SPEC §13): the runs the AM's scheduler took or
		// skipped, one row per run of an experiment's schedule (the
		// schedule itself is in the experiment's config). A row is
		// written before the run's start is attempted, so that no run
		// is ever started twice, whatever restarts the AM.
		`CREATE TABLE schedule_runs (
			experiment INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
			run INTEGER NOT NULL,                 -- index in the schedule, from 0
			planned_start INTEGER NOT NULL,       -- Unix milliseconds
			planned_end INTEGER,                  -- NULL: open-ended
			started INTEGER,                      -- NULL: never started
			ended INTEGER,
			outcome TEXT NOT NULL CHECK (outcome IN ('starting', 'running', 'done', 'skipped', 'failed')),
			note TEXT NOT NULL DEFAULT '',
			PRIMARY KEY (experiment, run)
		);`,
		// 9: device policy (SPEC §9): who may use a device and the limits
		// of its experiments, as JSON; '' (every device stored before) is
		// the default policy, safe by default.
		`ALTER TABLE devices ADD COLUMN policy TEXT NOT NULL DEFAULT '';`,
	}
}

// SchemaVersion is the schema version this build migrates to.
func SchemaVersion() int { return len(migrations()) }

// migrate brings the schema to SchemaVersion, one transaction per step.
// A database newer than this build is refused rather than misread.
func (d *DB) migrate(ctx context.Context) error {
	var v int
	if err := d.sql.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("unable to read the schema version: %w", err)
	}
	steps := migrations()
	if v > len(steps) {
		return fmt.Errorf("schema version %d is newer than this program's %d", v, len(steps))
	}
	for i := v; i < len(steps); i++ {
		err := d.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, steps[i]); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1))
			return err
		})
		if err != nil {
			return fmt.Errorf("migration to version %d: %w", i+1, err)
		}
	}
	return nil
}
