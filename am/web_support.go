package am

import (
	"context"
	"fmt"
)

// CheckConfig checks cfg against experiment id's devices exactly as
// ConfigureExperiment would (same rules, same messages: the filter is
// compiled for each interface's link type), without storing anything or
// changing the state. The web GUI calls it to check a BPF filter while it
// is typed, before the form is submitted.
func (m *Manager) CheckConfig(ctx context.Context, p Principal, id int64, cfg ExperimentConfig) error {
	e, err := m.experiment(ctx, p, id)
	if err != nil {
		return err
	}
	if _, _, err := m.checkConfig(ctx, &e, cfg); err != nil {
		return fmt.Errorf("configure %d: %w", id, err)
	}
	return nil
}
