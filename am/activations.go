package am

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// Activation codes let a capture daemon register itself (RegisterDevice)
// without an admin typing its token: an admin makes a code that expires
// and allows a number of registrations (the pattern of AWS SSM hybrid
// activations) and hands it to whoever installs the daemon. The database
// keeps only the code's SHA-256 (the code has 160 random bits, so a fast
// hash is enough), and the code is shown only when it is made.

// activationPrefix starts every code, so that one is recognized in logs
// and configuration files.
const activationPrefix = "gims-act-"

// activationHash is the stored form of a code.
func activationHash(code string) []byte {
	h := sha256.Sum256([]byte(strings.TrimSpace(code)))
	return h[:]
}

// newActivationCode returns a fresh code: the prefix and 160 random bits
// in lower-case base32.
func newActivationCode() string {
	var b [20]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather)
	return activationPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// CreateActivation makes an activation code (admin only): it works for
// r.ExpiresS seconds (default a day, at most 30 days) and r.Uses
// registrations (default one, at most 1000). The reply holds the code;
// nothing shows it again.
func (m *Manager) CreateActivation(ctx context.Context, p Principal, r amapi.ActivationRequest) (_ amapi.Activation, err error) {
	defer m.audit(ctx, p, "CreateActivation", "", &err)
	if err := requireAdmin(p, "CreateActivation"); err != nil {
		return amapi.Activation{}, err
	}
	if r.ExpiresS == 0 {
		r.ExpiresS = amapi.DefaultActivationExpiresS
	}
	if r.Uses == 0 {
		r.Uses = amapi.DefaultActivationUses
	}
	if r.ExpiresS < 1 || r.ExpiresS > amapi.MaxActivationExpiresS {
		return amapi.Activation{}, invalidf("create activation: expires_s must be between 1 and %d (30 days), got %d",
			amapi.MaxActivationExpiresS, r.ExpiresS)
	}
	if r.Uses < 1 || r.Uses > amapi.MaxActivationUses {
		return amapi.Activation{}, invalidf("create activation: uses must be between 1 and %d, got %d",
			amapi.MaxActivationUses, r.Uses)
	}
	code := newActivationCode()
	now := m.cfg.Now().UTC().Truncate(time.Millisecond)
	a := db.Activation{CodeHash: activationHash(code), CreatedBy: p.Name, Created: now,
		Expires: now.Add(time.Duration(r.ExpiresS) * time.Second), UsesLeft: r.Uses}
	id, err := m.db.CreateActivation(ctx, a)
	if err != nil {
		return amapi.Activation{}, err
	}
	m.log.Info("activation created", "activation", id, "expires", a.Expires, "uses", a.UsesLeft, "by", p.Name)
	return amapi.Activation{ID: id, Code: code, CreatedBy: p.Name, Created: a.Created, Expires: a.Expires,
		UsesLeft: a.UsesLeft}, nil
}

// ListActivations lists the activations still usable (admin only),
// without their codes; spent and expired ones are forgotten.
func (m *Manager) ListActivations(ctx context.Context, p Principal) ([]amapi.Activation, error) {
	if err := requireAdmin(p, "ListActivations"); err != nil {
		return nil, err
	}
	list, err := m.db.ListActivations(ctx, m.cfg.Now())
	if err != nil {
		return nil, err
	}
	out := make([]amapi.Activation, len(list))
	for i, a := range list {
		out[i] = amapi.Activation{ID: a.ID, CreatedBy: a.CreatedBy, Created: a.Created, Expires: a.Expires,
			UsesLeft: a.UsesLeft}
	}
	return out, nil
}

// DeleteActivation revokes an activation (admin only).
func (m *Manager) DeleteActivation(ctx context.Context, p Principal, id int64) (err error) {
	defer m.audit(ctx, p, "DeleteActivation", auditID(id), &err)
	if err := requireAdmin(p, "DeleteActivation"); err != nil {
		return err
	}
	if err := m.db.DeleteActivation(ctx, id); err != nil {
		return err
	}
	m.log.Info("activation revoked", "activation", id, "by", p.Name)
	return nil
}

// RegisterDevice records a capture daemon that announced itself as
// pending, until an admin approves it. It needs a valid activation code
// (ErrAuth otherwise, whoever calls) and never replaces a device: a name
// that exists, pending or approved, is a conflict, except that the same
// registration again (same address and token: a daemon that restarted,
// or retried after a lost reply) returns the device unchanged.
func (m *Manager) RegisterDevice(ctx context.Context, p Principal, r amapi.Registration) (_ amapi.DeviceInfo, err error) {
	defer m.audit(ctx, p, "RegisterDevice", r.Name, &err)
	d := db.Device{Name: r.Name, Hostname: r.Hostname, Port: r.Port, Token: r.Token, Pending: true,
		Created: m.cfg.Now(), Description: "registered by " + p.Name, TLS: r.TLS, CertSHA256: r.CertSHA256}
	if err := checkDevice(&d); err != nil {
		return amapi.DeviceInfo{}, fmt.Errorf("register device: %w", err)
	}
	if strings.TrimSpace(r.Activation) == "" {
		return amapi.DeviceInfo{}, fmt.Errorf("%w: register device: an activation code is required (CreateActivation, admin)", ErrAuth)
	}
	// The token is stored sealed (SPEC §10).
	stored := d
	sealed, err := m.sealToken(d.Token)
	if err != nil {
		return amapi.DeviceInfo{}, err
	}
	stored.Token = sealed
	id, err := m.db.RegisterDevice(ctx, activationHash(r.Activation), m.cfg.Now(), stored)
	switch {
	case errors.Is(err, db.ErrActivation):
		m.log.Warn("registration refused: bad activation code", "device", r.Name, "by", p.Name)
		return amapi.DeviceInfo{}, fmt.Errorf("%w: register device: %v", ErrAuth, db.ErrActivation)
	case errors.Is(err, db.ErrConflict):
		cur, gerr := m.db.GetDevice(ctx, r.Name)
		var curToken string
		if gerr == nil {
			curToken, gerr = m.openToken(cur.Token)
		}
		if gerr == nil && cur.Hostname == r.Hostname && cur.Port == r.Port && cur.TLS == d.TLS &&
			cur.CertSHA256 == d.CertSHA256 && subtle.ConstantTimeCompare([]byte(curToken), []byte(r.Token)) == 1 {
			return deviceInfo(&cur), nil
		}
		return amapi.DeviceInfo{}, fmt.Errorf("%w: device %q exists; registration never replaces a device", ErrConflict, r.Name)
	case err != nil:
		return amapi.DeviceInfo{}, err
	}
	m.log.Info("device registered, pending approval", "device", d.Name, "activation", id, "by", p.Name)
	return deviceInfo(&d), nil
}
