package am

import (
	"context"
	"errors"
	"fmt"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// CheckConfig checks cfg against experiment id's devices exactly as
// ConfigureExperiment would (same rules, same messages: the filter is
// compiled for each interface's link type), without storing anything or
// changing the state. The web GUI calls it to check a BPF filter while it
// is typed, before the form is submitted.
func (m *Manager) CheckConfig(ctx context.Context, p Principal, id int64, cfg amapi.ExperimentConfig) error {
	e, err := m.experiment(ctx, p, id)
	if err != nil {
		return err
	}
	if _, _, err := m.checkConfig(ctx, &e, cfg); err != nil {
		return fmt.Errorf("configure %d: %w", id, err)
	}
	return nil
}

// LookupPrincipal returns the current principal of user name (ErrAuth if
// the user no longer exists). The web GUI checks its sessions with it on
// every request, so that deleting a user ends their logins at once.
func (m *Manager) LookupPrincipal(ctx context.Context, name string) (Principal, error) {
	u, err := m.db.GetUser(ctx, name)
	if errors.Is(err, db.ErrNotFound) {
		return Principal{}, fmt.Errorf("%w: user %q no longer exists", ErrAuth, name)
	}
	if err != nil {
		return Principal{}, err
	}
	return Principal{Name: u.Name, Role: u.Role}, nil
}
