package am

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// Device policy (SPEC §9): the link owner decides who may use a device
// and what its experiments may do. It is checked at CreateExperiment
// (users), ConfigureExperiment and StartExperiment (every rule, since an
// admin may change it in between); a violation is ErrAuth (fault 4)
// naming the device and the rule. Admins are held to it too: the policy
// protects the link, and an admin who wants otherwise edits it.

// devicePolicy decodes d's stored policy; "" is the default policy. A
// stored policy that does not decode (never written by this program)
// is the default one, the safe reading.
func devicePolicy(d *db.Device) amapi.DevicePolicy {
	def := amapi.DefaultDevicePolicy()
	if d.Policy == "" {
		return def
	}
	var p amapi.DevicePolicy
	if json.Unmarshal([]byte(d.Policy), &p) != nil || p.Check() != nil {
		return def
	}
	return p
}

// setPolicy applies in to base and stores the result in d; errors are
// ErrInvalid naming the member.
func setPolicy(d *db.Device, base amapi.DevicePolicy, in *amapi.PolicyInput) error {
	p, err := in.Apply(base)
	if err != nil {
		return invalidf("device %s: %v", d.Name, err)
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("device %s: %w", d.Name, err)
	}
	d.Policy = string(raw)
	return nil
}

// policyError is the fault of a device policy violation.
func policyError(device, why string) error {
	return fmt.Errorf("%w: device %s: %s", ErrPolicy, device, why)
}

// checkUsers refuses (ErrAuth) an experiment of owner on a device whose
// policy does not list owner.
func (m *Manager) checkUsers(ctx context.Context, owner string, devices []db.Pairing) error {
	seen := map[string]bool{}
	for _, pair := range devices {
		if seen[pair.Device] {
			continue
		}
		seen[pair.Device] = true
		d, err := m.db.GetDevice(ctx, pair.Device)
		if err != nil {
			return fmt.Errorf("%w: device %q", ErrNotFound, pair.Device)
		}
		if pol := devicePolicy(&d); !pol.Allows(owner) {
			return policyError(d.Name, fmt.Sprintf("policy does not allow user %s", owner))
		}
	}
	return nil
}

// checkPolicies checks the configuration v of experiment e against the
// policy of each of its devices, now; secret tells that v's anonymization
// uses the experimenter's secret rather than an operator-held key. It
// returns the policies by device name (for the storage bounds of the
// jobs).
func (m *Manager) checkPolicies(ctx context.Context, e *db.Experiment, v *amapi.ConfigView, secret bool) (map[string]amapi.DevicePolicy, error) {
	out := map[string]amapi.DevicePolicy{}
	for _, pair := range e.Devices {
		if _, done := out[pair.Device]; done {
			continue
		}
		d, err := m.db.GetDevice(ctx, pair.Device)
		if err != nil {
			return nil, fmt.Errorf("%w: device %q of the experiment no longer exists", ErrNotFound, pair.Device)
		}
		pol := devicePolicy(&d)
		if why := pol.Violation(e.Owner, v, secret); why != "" {
			return nil, policyError(d.Name, why)
		}
		out[d.Name] = pol
	}
	return out, nil
}

// storageBound is the max_storage_bytes a job gets: the smaller of the
// policy's bound and the experiment's (0: none).
func storageBound(policy, experiment int64) int64 {
	switch {
	case policy <= 0:
		return experiment
	case experiment <= 0 || policy < experiment:
		return policy
	}
	return experiment
}

// callerCapabilities is caps as p sees them: with the device's policy
// (ForUser unless p is an admin).
func callerCapabilities(p Principal, caps amapi.Capabilities, pol amapi.DevicePolicy) amapi.Capabilities {
	if !p.IsAdmin() {
		pol = pol.ForUser(p.Name)
	}
	caps.Policy = &pol
	return caps
}
