package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Activation is a code an admin made so that capture daemons may register
// themselves (RegisterDevice). The store keeps only the code's SHA-256.
type Activation struct {
	// ID names the activation in lists (the code itself is never stored).
	ID int64
	// CodeHash is the SHA-256 of the code.
	CodeHash []byte
	// CreatedBy is the admin who made it, Created when.
	CreatedBy string
	Created   time.Time
	// Expires is when the code stops working.
	Expires time.Time
	// UsesLeft is how many more registrations the code allows.
	UsesLeft int
}

// ErrActivation is returned when a registration's activation code is
// unknown, expired or used up. It does not say which, so that a caller
// learns nothing about other codes.
var ErrActivation = errors.New("invalid, expired or used-up activation code")

// CreateActivation stores a new activation and returns its ID.
func (d *DB) CreateActivation(ctx context.Context, a Activation) (int64, error) {
	res, err := d.exec(ctx, `INSERT INTO activations (code_hash, created_by, created, expires, uses_left)
		VALUES (?, ?, ?, ?, ?)`, a.CodeHash, a.CreatedBy, a.Created.UnixMilli(), a.Expires.UnixMilli(), a.UsesLeft)
	if err != nil {
		return 0, fmt.Errorf("unable to create an activation: %w", err)
	}
	return res.LastInsertId()
}

// ListActivations returns the activations still usable at now (not
// expired, uses left), oldest first; it deletes the others.
func (d *DB) ListActivations(ctx context.Context, now time.Time) ([]Activation, error) {
	if _, err := d.exec(ctx, `DELETE FROM activations WHERE expires <= ? OR uses_left <= 0`,
		now.UnixMilli()); err != nil {
		return nil, fmt.Errorf("unable to forget spent activations: %w", err)
	}
	rows, err := d.sql.QueryContext(ctx, `SELECT id, code_hash, created_by, created, expires, uses_left
		FROM activations ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("unable to list activations: %w", err)
	}
	defer rows.Close()
	out := []Activation{}
	for rows.Next() {
		var (
			a                Activation
			created, expires int64
		)
		if err := rows.Scan(&a.ID, &a.CodeHash, &a.CreatedBy, &created, &expires, &a.UsesLeft); err != nil {
			return nil, fmt.Errorf("unable to list activations: %w", err)
		}
		a.Created, a.Expires = time.UnixMilli(created).UTC(), time.UnixMilli(expires).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// DeleteActivation revokes an activation; ErrNotFound if there is none
// with that ID.
func (d *DB) DeleteActivation(ctx context.Context, id int64) error {
	res, err := d.exec(ctx, `DELETE FROM activations WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("unable to delete activation %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("activation %d: %w", id, ErrNotFound)
	}
	return nil
}

// RegisterDevice stores dev as a new device when codeHash is the hash of
// an activation usable at now, and counts one use of it, in one
// transaction: ErrActivation (nothing changes) for a bad code,
// ErrConflict (no use counted) when a device of that name exists, pending
// or not. It returns the activation's ID.
func (d *DB) RegisterDevice(ctx context.Context, codeHash []byte, now time.Time, dev Device) (int64, error) {
	var id int64
	err := d.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT id FROM activations
			WHERE code_hash = ? AND expires > ? AND uses_left > 0`, codeHash, now.UnixMilli()).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrActivation
		}
		if err != nil {
			return fmt.Errorf("unable to read the activation: %w", err)
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO devices (`+deviceColumns+`) VALUES (`+devicePlaceholders+`)`,
			deviceArgs(&dev)...)
		if isUnique(err) {
			return fmt.Errorf("device %q: %w", dev.Name, ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("unable to create device %q: %w", dev.Name, err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE activations SET uses_left = uses_left - 1 WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("register device %q: %w", dev.Name, err)
	}
	return id, nil
}
