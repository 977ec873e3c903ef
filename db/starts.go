package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"
)

// InstanceID returns the random identifier of this database's aggregate
// manager, made on first use: it starts the StartJob request ids, so that
// two managers sharing a device never mistake each other's requests. It
// is read once: every start needs it, and it never changes.
func (d *DB) InstanceID(ctx context.Context) (string, error) {
	d.instanceMu.Lock()
	defer d.instanceMu.Unlock()
	if d.instance != "" {
		return d.instance, nil
	}
	var b [6]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather)
	if _, err := d.exec(ctx, `INSERT OR IGNORE INTO meta (key, value) VALUES ('instance', ?)`,
		hex.EncodeToString(b[:])); err != nil {
		return "", fmt.Errorf("unable to store the instance id: %w", err)
	}
	var id string
	if err := d.sql.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'instance'`).Scan(&id); err != nil {
		return "", fmt.Errorf("unable to read the instance id: %w", err)
	}
	d.instance = id
	return id, nil
}

// NextStartAttempt counts one more attempt to start experiment id and
// returns its number (1 for the first): every attempt's StartJob
// requests are new, so that a device never answers a retry with the job
// of an attempt that was rolled back. The write goes through the write
// queue like every other: outside it, it waited for SQLite's write lock
// with SQLite's polling sleeps while the queue's transactions held it.
func (d *DB) NextStartAttempt(ctx context.Context, id int64) (int, error) {
	var n int
	err := d.grouped(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `UPDATE experiments SET start_attempts = start_attempts + 1
			WHERE id = ? RETURNING start_attempts`, id).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("unable to count a start of experiment %d: %w", id, err)
	}
	return n, nil
}

// StartCancel is a StartJob request whose answer never came and whose
// job, if the device made one, is still to stop.
type StartCancel struct {
	Device  string
	Request string
	Created time.Time
}

// AddStartCancel remembers a start request to cancel (once).
func (d *DB) AddStartCancel(ctx context.Context, c StartCancel) error {
	_, err := d.exec(ctx, `INSERT OR IGNORE INTO start_cancels (device, request, created) VALUES (?, ?, ?)`,
		c.Device, c.Request, c.Created.UnixMilli())
	if err != nil {
		return fmt.Errorf("unable to remember start request %s to cancel: %w", c.Request, err)
	}
	return nil
}

// StartCancels lists the start requests still to cancel, oldest first.
func (d *DB) StartCancels(ctx context.Context) ([]StartCancel, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT device, request, created FROM start_cancels ORDER BY created`)
	if err != nil {
		return nil, fmt.Errorf("unable to list the start requests to cancel: %w", err)
	}
	defer rows.Close()
	var out []StartCancel
	for rows.Next() {
		var (
			c  StartCancel
			ms int64
		)
		if err := rows.Scan(&c.Device, &c.Request, &ms); err != nil {
			return nil, fmt.Errorf("unable to list the start requests to cancel: %w", err)
		}
		c.Created = time.UnixMilli(ms).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// DeleteStartCancel forgets a start request to cancel.
func (d *DB) DeleteStartCancel(ctx context.Context, device, request string) error {
	if _, err := d.exec(ctx, `DELETE FROM start_cancels WHERE device = ? AND request = ?`,
		device, request); err != nil {
		return fmt.Errorf("unable to forget start request %s: %w", request, err)
	}
	return nil
}
