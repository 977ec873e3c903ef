package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Key is an operator-held Crypto-PAn key (SPEC §9): made at the AM by an
// admin, used by experiments by its name, never shown to anyone.
type Key struct {
	// Name names the key in ListKeys and in anonymize.key.
	Name string
	// Sealed is the 32-byte key sealed by the AM (seal.Sealer); the store
	// never sees it in clear.
	Sealed []byte
	// Fingerprint is the first 8 hex digits of the key's SHA-256, the
	// same as an experiment secret's fingerprint.
	Fingerprint string
	// Users may use the key; "*" stands for everyone.
	Users []string
	// CreatedBy is the admin who made it, Created when.
	CreatedBy string
	Created   time.Time
}

// CreateKey stores a new key; ErrConflict when the name is taken.
func (d *DB) CreateKey(ctx context.Context, k Key) error {
	users, err := json.Marshal(k.Users)
	if err != nil {
		return fmt.Errorf("key %q: %w", k.Name, err)
	}
	_, err = d.exec(ctx, `INSERT INTO keys (name, sealed, fingerprint, users, created_by, created)
		VALUES (?, ?, ?, ?, ?, ?)`, k.Name, k.Sealed, k.Fingerprint, string(users), k.CreatedBy, k.Created.UnixMilli())
	if isUnique(err) {
		return fmt.Errorf("key %q: %w", k.Name, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("unable to create key %q: %w", k.Name, err)
	}
	return nil
}

// keyColumns are the columns scanKey reads, in its order.
const keyColumns = `name, sealed, fingerprint, users, created_by, created`

// scanKey reads one row of keyColumns.
func scanKey(row interface{ Scan(...any) error }) (Key, error) {
	var (
		k       Key
		users   string
		created int64
	)
	if err := row.Scan(&k.Name, &k.Sealed, &k.Fingerprint, &users, &k.CreatedBy, &created); err != nil {
		return k, err
	}
	if err := json.Unmarshal([]byte(users), &k.Users); err != nil {
		return k, fmt.Errorf("key %q: users unreadable: %w", k.Name, err)
	}
	k.Created = time.UnixMilli(created).UTC()
	return k, nil
}

// GetKey returns the key called name, or ErrNotFound.
func (d *DB) GetKey(ctx context.Context, name string) (Key, error) {
	k, err := scanKey(d.sql.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM keys WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return k, fmt.Errorf("key %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return k, fmt.Errorf("unable to read key %q: %w", name, err)
	}
	return k, nil
}

// ListKeys returns every key, by name.
func (d *DB) ListKeys(ctx context.Context) ([]Key, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT `+keyColumns+` FROM keys ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("unable to list keys: %w", err)
	}
	defer rows.Close()
	out := []Key{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("unable to list keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("unable to list keys: %w", err)
	}
	return out, nil
}

// ErrKeyInUse is returned by DeleteKey when experiments that may still
// start use the key.
var ErrKeyInUse = errors.New("key in use")

// DeleteKey removes the key called name and returns the deleted record,
// unless an experiment in one of the states inUse uses it (its stored
// configuration names it as anonymize.key): then it returns ErrKeyInUse
// naming those experiments, and nothing changes. ErrNotFound when there
// is no such key. The check and the delete are one transaction.
func (d *DB) DeleteKey(ctx context.Context, name string, inUse []string) (Key, error) {
	var k Key
	err := d.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		k, err = scanKey(tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM keys WHERE name = ?`, name))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("key %q: %w", name, ErrNotFound)
		}
		if err != nil {
			return err
		}
		users, err := keyUsers(ctx, tx, name, inUse)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return fmt.Errorf("%w by %s; delete it once they are done", ErrKeyInUse, joinUsers(users))
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM keys WHERE name = ?`, name)
		return err
	})
	if err != nil {
		return Key{}, fmt.Errorf("delete key %q: %w", name, err)
	}
	return k, nil
}

// KeyUser is an experiment that uses a key.
type KeyUser struct {
	ID    int64
	State string
}

// keyUsers lists the experiments in one of states whose configuration
// names key as anonymize.key.
func keyUsers(ctx context.Context, tx *sql.Tx, key string, states []string) ([]KeyUser, error) {
	if len(states) == 0 {
		return nil, nil
	}
	query := `SELECT id, state FROM experiments
		WHERE json_extract(CASE WHEN json_valid(config) THEN config ELSE '{}' END, '$.anonymize.key') = ?
		AND state IN (?` + repeatPlaceholder(len(states)-1) + `) ORDER BY id`
	args := []any{key}
	for _, s := range states {
		args = append(args, s)
	}
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("unable to find the experiments using key %q: %w", key, err)
	}
	defer rows.Close()
	var out []KeyUser
	for rows.Next() {
		var u KeyUser
		if err := rows.Scan(&u.ID, &u.State); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// repeatPlaceholder is ", ?" n times.
func repeatPlaceholder(n int) string {
	s := ""
	for range n {
		s += ", ?"
	}
	return s
}

// joinUsers names experiments for an error message: "experiment 3
// (running), experiment 5 (configured)".
func joinUsers(users []KeyUser) string {
	s := ""
	for i, u := range users {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("experiment %d (%s)", u.ID, u.State)
	}
	return s
}
