package am

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/transform/cryptopan"
)

// Operator-held keys (SPEC §9): an experimenter who knows an experiment's
// Crypto-PAn key can invert its mapping, so a key that protects a link
// from its experimenters is made at the AM, from crypto/rand, sealed in
// the database under DataDir/seal.key like the device tokens, and never
// returned by any call: CreateKey and ListKeys show its fingerprint. An
// experiment names it with anonymize.key; ConfigureExperiment copies it
// (sealed) into the experiment, StartExperiment opens it and gives it to
// the devices as the job's key, exactly like a secret's key, so the same
// key gives the same mapping on every device and in every experiment.

// keyAnyone in a key's users lets every user use it.
const keyAnyone = "*"

// keyInUseStates are the states of the experiments that keep a key from
// being deleted: they may still start or resume with it.
var keyInUseStates = []string{StateConfigured, StateRunning, StatePaused}

// CreateKey makes a random 32-byte Crypto-PAn key called r.Name that
// r.Users may use (admin only). The reply has its fingerprint, never the
// key.
func (m *Manager) CreateKey(ctx context.Context, p Principal, r amapi.KeyRequest) (_ amapi.KeyInfo, err error) {
	defer m.audit(ctx, p, "CreateKey", r.Name, &err)
	if err := requireAdmin(p, "CreateKey"); err != nil {
		return amapi.KeyInfo{}, err
	}
	if err := checkName("key name", r.Name); err != nil {
		return amapi.KeyInfo{}, fmt.Errorf("create key: %w", err)
	}
	users, err := checkKeyUsers(r.Users)
	if err != nil {
		return amapi.KeyInfo{}, fmt.Errorf("create key %s: %w", r.Name, err)
	}
	var key [32]byte
	rand.Read(key[:]) // never fails (crypto/rand panics rather)
	sealed, err := m.keys.Seal(key[:])
	if err != nil {
		return amapi.KeyInfo{}, fmt.Errorf("create key %s: %w", r.Name, err)
	}
	k := db.Key{Name: r.Name, Sealed: sealed, Fingerprint: cryptopan.Fingerprint(key), Users: users,
		CreatedBy: p.Name, Created: m.cfg.Now().UTC().Truncate(time.Millisecond)}
	if err := m.db.CreateKey(ctx, k); err != nil {
		return amapi.KeyInfo{}, err
	}
	m.log.Info("key created", "key", k.Name, "fingerprint", k.Fingerprint, "users", users, "by", p.Name)
	return keyInfo(&k, true), nil
}

// checkKeyUsers checks a key's users: user names, or "*" alone; at least
// one. Duplicates go.
func checkKeyUsers(users []string) ([]string, error) {
	if len(users) == 0 {
		return nil, invalidf(`users: name at least one user, or "*" for everyone`)
	}
	if len(users) > 1000 {
		return nil, invalidf("users: at most 1000, got %d", len(users))
	}
	if slices.Contains(users, keyAnyone) {
		if len(users) > 1 {
			return nil, invalidf(`users: "*" (everyone) stands alone`)
		}
		return []string{keyAnyone}, nil
	}
	out := make([]string, 0, len(users))
	for _, u := range users {
		if err := checkName("user name", u); err != nil {
			return nil, fmt.Errorf("users: %w", err)
		}
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out, nil
}

// keyInfo is a key as the API shows it; withUsers adds its users and
// creator (for admins).
func keyInfo(k *db.Key, withUsers bool) amapi.KeyInfo {
	info := amapi.KeyInfo{Name: k.Name, Fingerprint: k.Fingerprint, Created: k.Created}
	if withUsers {
		info.Users, info.CreatedBy = k.Users, k.CreatedBy
	}
	return info
}

// mayUseKey tells whether user may use k.
func mayUseKey(k *db.Key, user string) bool {
	return slices.Contains(k.Users, keyAnyone) || slices.Contains(k.Users, user)
}

// ListKeys lists the operator-held keys: every one with its users for an
// admin; for an experimenter, the names and fingerprints of the keys it
// may use (to choose one in anonymize.key), without who else may.
func (m *Manager) ListKeys(ctx context.Context, p Principal) ([]amapi.KeyInfo, error) {
	list, err := m.db.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := []amapi.KeyInfo{}
	for i := range list {
		if p.IsAdmin() || mayUseKey(&list[i], p.Name) {
			out = append(out, keyInfo(&list[i], p.IsAdmin()))
		}
	}
	return out, nil
}

// DeleteKey deletes an operator-held key and returns its record (admin
// only). It is refused (ErrState, naming them) while configured, running
// or paused experiments use it; done experiments keep their copy of the
// key, so their results stay as they are.
func (m *Manager) DeleteKey(ctx context.Context, p Principal, name string) (_ amapi.KeyInfo, err error) {
	defer m.audit(ctx, p, "DeleteKey", name, &err)
	if err := requireAdmin(p, "DeleteKey"); err != nil {
		return amapi.KeyInfo{}, err
	}
	k, err := m.db.DeleteKey(ctx, name, keyInUseStates)
	if err != nil {
		return amapi.KeyInfo{}, err
	}
	m.log.Info("key deleted", "key", k.Name, "fingerprint", k.Fingerprint, "by", p.Name)
	return keyInfo(&k, true), nil
}

// operatorKey returns the key called name for an experiment of owner,
// opened, with its fingerprint. A key that does not exist or that owner
// may not use is ErrAuth naming the key (the same answer for both, so
// that an experimenter learns nothing of the keys it may not use).
func (m *Manager) operatorKey(ctx context.Context, owner, name string) ([32]byte, string, error) {
	var key [32]byte
	k, err := m.db.GetKey(ctx, name)
	if errors.Is(err, db.ErrNotFound) || (err == nil && !mayUseKey(&k, owner)) {
		return key, "", fmt.Errorf("%w: anonymize key %q: no such key that %s may use (ListKeys shows them)",
			ErrAuth, name, owner)
	}
	if err != nil {
		return key, "", err
	}
	b, err := m.keys.Open(k.Sealed)
	if err != nil {
		return key, "", fmt.Errorf("anonymize key %q: %w", name, err)
	}
	if len(b) != len(key) {
		return key, "", fmt.Errorf("anonymize key %q: sealed key has %d bytes, want %d", name, len(b), len(key))
	}
	copy(key[:], b)
	return key, k.Fingerprint, nil
}
