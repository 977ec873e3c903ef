package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// User is an account of the aggregate manager.
type User struct {
	// Name is the login name.
	Name string
	// Role is "admin" or "experimenter".
	Role string
	// PasswordHash is the slow salted hash of the password (bcrypt).
	PasswordHash string
	// Created is when the account was made.
	Created time.Time
	// CertURI, when set, is a SAN URI (such as a GENI URN) of a client
	// certificate that names this user (SPEC §10); unique.
	CertURI string
}

// CreateUser stores a new user; ErrConflict when the name is taken.
func (d *DB) CreateUser(ctx context.Context, u User) error {
	defer d.usersChanged()
	_, err := d.exec(ctx,
		`INSERT INTO users (name, role, password_hash, created, cert_uri) VALUES (?, ?, ?, ?, ?)`,
		u.Name, u.Role, u.PasswordHash, u.Created.UnixMilli(), u.CertURI)
	if isUnique(err) {
		return fmt.Errorf("user %q (or its cert_uri): %w", u.Name, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("unable to create user %q: %w", u.Name, err)
	}
	return nil
}

// GetUser returns the user called name, or ErrNotFound.
func (d *DB) GetUser(ctx context.Context, name string) (User, error) {
	var (
		u       User
		created int64
	)
	err := d.sql.QueryRowContext(ctx, `SELECT name, role, password_hash, created, cert_uri FROM users WHERE name = ?`, name).
		Scan(&u.Name, &u.Role, &u.PasswordHash, &created, &u.CertURI)
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("unable to read user %q: %w", name, err)
	}
	u.Created = time.UnixMilli(created).UTC()
	return u, nil
}

// DeleteUser removes a user and returns the deleted record. It refuses
// (ErrLastAdmin) to remove the last admin, who could not be re-created
// through the API. The user's experiments stay, with their owner's name.
func (d *DB) DeleteUser(ctx context.Context, name string) (User, error) {
	var u User
	err := d.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var (
			created int64
			admins  int
		)
		err := tx.QueryRowContext(ctx, `SELECT name, role, password_hash, created, cert_uri FROM users WHERE name = ?`, name).
			Scan(&u.Name, &u.Role, &u.PasswordHash, &created, &u.CertURI)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("user %q: %w", name, ErrNotFound)
		}
		if err != nil {
			return err
		}
		u.Created = time.UnixMilli(created).UTC()
		if u.Role == "admin" {
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE role = 'admin'`).Scan(&admins); err != nil {
				return err
			}
			if admins <= 1 {
				return fmt.Errorf("user %q is the last admin: %w", name, ErrLastAdmin)
			}
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, name)
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("delete user %q: %w", name, err)
	}
	return u, nil
}

// SetUserRole changes a user's role and returns the changed record. It
// refuses (ErrLastAdmin) to make the last admin an experimenter.
func (d *DB) SetUserRole(ctx context.Context, name, role string) (User, error) {
	var u User
	err := d.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var created int64
		err := tx.QueryRowContext(ctx, `SELECT name, role, password_hash, created, cert_uri FROM users WHERE name = ?`, name).
			Scan(&u.Name, &u.Role, &u.PasswordHash, &created, &u.CertURI)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("user %q: %w", name, ErrNotFound)
		}
		if err != nil {
			return err
		}
		u.Created = time.UnixMilli(created).UTC()
		if u.Role == "admin" && role != "admin" {
			var admins int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE role = 'admin'`).Scan(&admins); err != nil {
				return err
			}
			if admins <= 1 {
				return fmt.Errorf("user %q is the last admin: %w", name, ErrLastAdmin)
			}
		}
		u.Role = role
		_, err = tx.ExecContext(ctx, `UPDATE users SET role = ? WHERE name = ?`, role, name)
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("set the role of user %q: %w", name, err)
	}
	return u, nil
}

// ErrLastAdmin is returned (wrapping ErrConflict) when the last admin
// would be deleted.
var ErrLastAdmin = fmt.Errorf("the last admin cannot be removed: %w", ErrConflict)

// ListUsers returns every user by name.
func (d *DB) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT name, role, password_hash, created, cert_uri FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("unable to list users: %w", err)
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		var (
			u       User
			created int64
		)
		if err := rows.Scan(&u.Name, &u.Role, &u.PasswordHash, &created, &u.CertURI); err != nil {
			return nil, fmt.Errorf("unable to list users: %w", err)
		}
		u.Created = time.UnixMilli(created).UTC()
		out = append(out, u)
	}
	return out, rows.Err()
}

// UserByCertURI returns the user whose cert_uri is uri, or ErrNotFound.
func (d *DB) UserByCertURI(ctx context.Context, uri string) (User, error) {
	var name string
	err := d.sql.QueryRowContext(ctx, `SELECT name FROM users WHERE cert_uri = ? AND cert_uri != ''`, uri).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user of certificate URI %q: %w", uri, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("unable to read the user of certificate URI %q: %w", uri, err)
	}
	return d.GetUser(ctx, name)
}
