package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Device is a capture daemon the aggregate manager knows.
type Device struct {
	// Name identifies the device in experiments.
	Name string
	// Location, Type and Description are free text for people.
	Location, Type, Description string
	// Hostname and Port address the daemon's device API.
	Hostname string
	Port     int
	// Token is the bearer token the AM presents to the daemon. Never
	// returned by the API.
	Token string
	// Interfaces, when set, are the capture interfaces experiments may
	// use on this device, the first being the default.
	Interfaces []string
	// Capabilities is the daemon's Capabilities reply, as the XML-RPC
	// <value> it came as (empty until fetched).
	Capabilities []byte
	// Pending marks a self-registered device an admin has not approved.
	Pending bool
	// Reachable tells whether the last contact succeeded; LastSeen is
	// when one last did and LastError why the last one failed.
	Reachable bool
	LastSeen  time.Time
	LastError string
	// Created is when the device was added or registered.
	Created time.Time
	// TLS: the daemon serves HTTPS; CertSHA256, when set, is the pin of
	// its leaf certificate (hex), checked instead of a CA.
	TLS        bool
	CertSHA256 string
	// Policy is the device's policy (SPEC §9) as JSON; "" is the default
	// policy (devices stored before policies existed have it).
	Policy string
}

const deviceColumns = `name, location, type, hostname, port, description, token, interfaces,
	capabilities, pending, reachable, last_seen, last_error, created, tls, cert_sha256, policy`

// devicePlaceholders are the placeholders of deviceColumns' values.
const devicePlaceholders = `?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?`

// scanDevice reads one row of deviceColumns.
func scanDevice(row interface{ Scan(...any) error }) (Device, error) {
	var (
		d        Device
		ifaces   string
		caps     sql.NullString
		lastSeen sql.NullInt64
		created  int64
	)
	err := row.Scan(&d.Name, &d.Location, &d.Type, &d.Hostname, &d.Port, &d.Description, &d.Token,
		&ifaces, &caps, &d.Pending, &d.Reachable, &lastSeen, &d.LastError, &created, &d.TLS, &d.CertSHA256, &d.Policy)
	if err != nil {
		return d, err
	}
	if ifaces != "" {
		d.Interfaces = strings.Split(ifaces, ",")
	}
	if caps.Valid {
		d.Capabilities = []byte(caps.String)
	}
	d.LastSeen = fromMilli(lastSeen)
	d.Created = time.UnixMilli(created).UTC()
	return d, nil
}

// deviceArgs are d's values in deviceColumns order.
func deviceArgs(d *Device) []any {
	var caps any
	if len(d.Capabilities) > 0 {
		caps = string(d.Capabilities)
	}
	return []any{d.Name, d.Location, d.Type, d.Hostname, d.Port, d.Description, d.Token,
		strings.Join(d.Interfaces, ","), caps, d.Pending, d.Reachable, unixMilli(d.LastSeen), d.LastError,
		d.Created.UnixMilli(), d.TLS, d.CertSHA256, d.Policy}
}

// CreateDevice stores a new device; ErrConflict when the name is taken.
func (d *DB) CreateDevice(ctx context.Context, dev Device) error {
	defer d.devicesAt.Add(1)
	_, err := d.exec(ctx,
		`INSERT INTO devices (`+deviceColumns+`) VALUES (`+devicePlaceholders+`)`,
		deviceArgs(&dev)...)
	if isUnique(err) {
		return fmt.Errorf("device %q: %w", dev.Name, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("unable to create device %q: %w", dev.Name, err)
	}
	return nil
}

// GetDevice returns the device called name, or ErrNotFound. A device
// read once is kept until a write may change any device (every device
// write is a transaction, or CreateDevice): each lifecycle call and pull
// read its devices, capabilities included (issue 15).
func (d *DB) GetDevice(ctx context.Context, name string) (Device, error) {
	v := d.devicesAt.Load()
	d.devMu.RLock()
	k := d.devices[name]
	d.devMu.RUnlock()
	if k != nil && k.version == v {
		return cloneDevice(&k.dev), nil
	}
	dev, err := deviceByName(ctx, d.sql, name)
	if err != nil {
		return dev, err
	}
	d.devMu.Lock()
	defer d.devMu.Unlock()
	if d.devices == nil || len(d.devices) >= maxKeptDevices {
		d.devices = make(map[string]*keptDevice) // a new version's
	}
	d.devices[name] = &keptDevice{version: v, dev: cloneDevice(&dev)}
	return dev, nil
}

// keptDevice is a device as read at a version of devicesAt.
type keptDevice struct {
	version uint64
	dev     Device
}

// maxKeptDevices bounds the devices GetDevice keeps.
const maxKeptDevices = 8192

// cloneDevice returns a copy of dev that shares nothing mutable with it.
func cloneDevice(dev *Device) Device {
	c := *dev
	c.Interfaces = slices.Clone(dev.Interfaces)
	c.Capabilities = slices.Clone(dev.Capabilities)
	return c
}

// deviceByName reads one device, or ErrNotFound.
func deviceByName(ctx context.Context, q queryer, name string) (Device, error) {
	dev, err := scanDevice(q.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM devices WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return dev, fmt.Errorf("device %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return dev, fmt.Errorf("unable to read device %q: %w", name, err)
	}
	return dev, nil
}

// ListDevices returns every device by name.
func (d *DB) ListDevices(ctx context.Context) ([]Device, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT `+deviceColumns+` FROM devices ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("unable to list devices: %w", err)
	}
	defer rows.Close()
	out := []Device{}
	for rows.Next() {
		dev, err := scanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("unable to list devices: %w", err)
		}
		out = append(out, dev)
	}
	return out, rows.Err()
}

// UpdateDevice reads the device called name, lets fn change it and writes
// it back, in one transaction; fn's error aborts. Renaming is allowed.
func (d *DB) UpdateDevice(ctx context.Context, name string, fn func(*Device) error) (Device, error) {
	var dev Device
	err := d.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		if dev, err = deviceByName(ctx, tx, name); err != nil {
			return err
		}
		if err := fn(&dev); err != nil {
			return err
		}
		args := append(deviceArgs(&dev), name)
		_, err = tx.ExecContext(ctx, `UPDATE devices SET name = ?, location = ?, type = ?, hostname = ?, port = ?,
			description = ?, token = ?, interfaces = ?, capabilities = ?, pending = ?, reachable = ?,
			last_seen = ?, last_error = ?, created = ?, tls = ?, cert_sha256 = ?, policy = ? WHERE name = ?`, args...)
		if isUnique(err) {
			return fmt.Errorf("device %q: %w", dev.Name, ErrConflict)
		}
		return err
	})
	if err != nil {
		return Device{}, fmt.Errorf("update device %q: %w", name, err)
	}
	return dev, nil
}

// DeviceContact is what one contact with a device learned, for
// SetDeviceContacts: whether it answered, its error, and when it did
// answer its capabilities (nil when it did not: the stored ones stay, and
// so does LastSeen).
type DeviceContact struct {
	Name         string
	Reachable    bool
	LastError    string
	Capabilities []byte
	LastSeen     time.Time
}

// SetDeviceContacts stores the outcome of contacting many devices (the
// AM's refresh of every device) in one transaction; devices deleted
// meanwhile are skipped.
func (d *DB) SetDeviceContacts(ctx context.Context, list []DeviceContact) error {
	if len(list) == 0 {
		return nil
	}
	err := d.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE devices SET reachable = ?, last_error = ?,
			capabilities = COALESCE(?, capabilities), last_seen = COALESCE(?, last_seen) WHERE name = ?`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, c := range list {
			var caps, seen any
			if c.Capabilities != nil {
				caps, seen = string(c.Capabilities), unixMilli(c.LastSeen)
			}
			if _, err := st.ExecContext(ctx, c.Reachable, c.LastError, caps, seen, c.Name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("unable to store the contacts with %d devices: %w", len(list), err)
	}
	return nil
}

// DeleteDevice removes a device and returns the deleted record. It
// refuses (ErrInUse) a device that a running or paused experiment uses;
// the check and the delete are one transaction.
func (d *DB) DeleteDevice(ctx context.Context, name string) (Device, error) {
	var dev Device
	err := d.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		if dev, err = deviceByName(ctx, tx, name); err != nil {
			return err
		}
		var busy int
		if err := tx.QueryRowContext(ctx, inUseQuery, name).Scan(&busy); err != nil {
			return err
		}
		if busy > 0 {
			return fmt.Errorf("device %q is used by a running or paused experiment: %w", name, ErrInUse)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM devices WHERE name = ?`, name)
		return err
	})
	if err != nil {
		return Device{}, fmt.Errorf("delete device %q: %w", name, err)
	}
	return dev, nil
}

// inUseQuery counts the running or paused experiments that use a device.
const inUseQuery = `SELECT count(*) FROM experiment_devices p JOIN experiments e
	ON e.id = p.experiment WHERE p.device = ? AND e.state IN ('running', 'paused')`

// ErrInUse is returned (wrapping ErrConflict) when a device used by a
// running or paused experiment would be deleted.
var ErrInUse = fmt.Errorf("in use: %w", ErrConflict)

// DeviceInUse tells whether a running or paused experiment uses the device.
func (d *DB) DeviceInUse(ctx context.Context, name string) (bool, error) {
	var busy int
	err := d.sql.QueryRowContext(ctx, inUseQuery, name).Scan(&busy)
	if err != nil {
		return false, fmt.Errorf("unable to check whether device %q is in use: %w", name, err)
	}
	return busy > 0, nil
}
