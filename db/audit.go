package db

import (
	"context"
	"fmt"
	"time"
)

// AuditEntry is one call recorded in the audit log: who (User, from
// Remote) called Method on Target at At, and how it ended (Result: "ok",
// or the fault code and its message).
type AuditEntry struct {
	At     time.Time
	User   string
	Remote string
	Method string
	Target string
	Result string
}

// AuditQuery selects audit entries: User ("" for every user), entries at
// or after Since (zero for all), at most Limit of them, newest first.
type AuditQuery struct {
	User  string
	Since time.Time
	Limit int
}

// AddAudit appends an entry to the audit log.
func (d *DB) AddAudit(ctx context.Context, e AuditEntry) error {
	_, err := d.exec(ctx, `INSERT INTO audit (at, user, remote, method, target, result)
		VALUES (?, ?, ?, ?, ?, ?)`, e.At.UnixMilli(), e.User, e.Remote, e.Method, e.Target, e.Result)
	if err != nil {
		return fmt.Errorf("unable to record %s in the audit log: %w", e.Method, err)
	}
	return nil
}

// ListAudit returns the entries q selects, newest first.
func (d *DB) ListAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	query := `SELECT at, user, remote, method, target, result FROM audit WHERE at >= ?`
	args := []any{q.Since.UnixMilli()}
	if q.Since.IsZero() {
		args[0] = int64(0)
	}
	if q.User != "" {
		query += ` AND user = ?`
		args = append(args, q.User)
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, q.Limit)
	rows, err := d.sql.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("unable to read the audit log: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var (
			e  AuditEntry
			at int64
		)
		if err := rows.Scan(&at, &e.User, &e.Remote, &e.Method, &e.Target, &e.Result); err != nil {
			return nil, fmt.Errorf("unable to read the audit log: %w", err)
		}
		e.At = time.UnixMilli(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("unable to read the audit log: %w", err)
	}
	return out, nil
}

// PruneAudit deletes the audit entries older than before and returns how
// many it deleted (gims-am -audit-retention).
func (d *DB) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	res, err := d.exec(ctx, `DELETE FROM audit WHERE at < ?`, before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("unable to prune the audit log: %w", err)
	}
	return res.RowsAffected()
}
