package am

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"

	"github.com/gimsproject/gims/am/schedule"
	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/transform/cryptopan"
)

// Experiment states (SPEC §2).
const (
	StateInstantiated = "instantiated"
	StateConfigured   = "configured"
	StateRunning      = "running"
	StatePaused       = "paused"
	StateDone         = "done"
)

// Storage modes of results.
const (
	StorageLocal  = "local"
	StorageRemote = "remote"
)

// experiment reads experiment id for p: another user's experiment is
// ErrNotFound for an experimenter, as if it did not exist.
func (m *Manager) experiment(ctx context.Context, p Principal, id int64) (db.Experiment, error) {
	e, err := m.getExperiment(ctx, id)
	if errors.Is(err, db.ErrNotFound) || (err == nil && !p.IsAdmin() && e.Owner != p.Name) {
		return db.Experiment{}, fmt.Errorf("%w: experiment %d", ErrNotFound, id)
	}
	return e, err
}

// stateError says that a transition is not allowed, naming the state.
func stateError(id int64, state, call string) error {
	return fmt.Errorf("%w: experiment %d is %s; %s is not allowed from %s", ErrState, id, state, call, state)
}

// MaxExperimentDevices bounds the devices of one experiment: a testbed's
// taps (SPEC §11: one AM drives 1,000 devices, and an experiment may span
// them all), with room.
const MaxExperimentDevices = 4096

// CreateExperiment creates an experiment owned by p on the named devices
// ("name" or "name:interface"); a device without an interface uses its
// first configured interface, else the first it offers.
func (m *Manager) CreateExperiment(ctx context.Context, p Principal, req amapi.CreateRequest) (_ int64, err error) {
	defer m.audit(ctx, p, "CreateExperiment", req.Name, &err)
	if err := checkName("experiment name", req.Name); err != nil {
		return 0, fmt.Errorf("create experiment: %w", err)
	}
	if len(req.Description) > 4096 {
		return 0, invalidf("description is longer than 4096 bytes")
	}
	if len(req.Devices) == 0 {
		return 0, invalidf("an experiment needs at least one device")
	}
	if len(req.Devices) > MaxExperimentDevices {
		return 0, invalidf("at most %d devices per experiment, got %d", MaxExperimentDevices, len(req.Devices))
	}
	e := db.Experiment{Name: req.Name, Description: req.Description, Owner: p.Name, State: StateInstantiated,
		Created: m.cfg.Now()}
	seen := map[string]bool{}
	for _, spec := range req.Devices {
		pair, err := m.resolvePairing(ctx, spec)
		if err != nil {
			return 0, fmt.Errorf("create experiment: %w", err)
		}
		key := pair.Device + ":" + pair.Interface
		if seen[key] {
			return 0, invalidf("device %s is listed twice", key)
		}
		seen[key] = true
		pair.Position = len(e.Devices)
		e.Devices = append(e.Devices, pair)
	}
	if err := m.checkUsers(ctx, p.Name, e.Devices); err != nil {
		return 0, fmt.Errorf("create experiment: %w", err)
	}
	id, err := m.db.CreateExperiment(ctx, e)
	if err != nil {
		return 0, err
	}
	m.log.Info("experiment created", "experiment", id, "name", req.Name, "owner", p.Name)
	return id, nil
}

// resolvePairing turns "name" or "name:interface" into a pairing
// ("tap:file:x.pcap" is device tap, interface file:x.pcap).
func (m *Manager) resolvePairing(ctx context.Context, spec string) (db.Pairing, error) {
	name, iface, _ := strings.Cut(spec, ":")
	d, err := m.db.GetDevice(ctx, name)
	if errors.Is(err, db.ErrNotFound) || (err == nil && d.Pending) {
		return db.Pairing{}, fmt.Errorf("%w: device %q", ErrNotFound, name)
	}
	if err != nil {
		return db.Pairing{}, err
	}
	caps, haveCaps := capabilities(&d)
	if iface == "" {
		switch {
		case len(d.Interfaces) > 0:
			iface = d.Interfaces[0]
		case haveCaps && len(caps.Interfaces) > 0:
			iface = caps.Interfaces[0].Name
		default:
			return db.Pairing{}, invalidf("device %s lists no interface; name one as %s:<interface>", name, name)
		}
	}
	if len(d.Interfaces) > 0 && !slices.Contains(d.Interfaces, iface) {
		return db.Pairing{}, invalidf("device %s may capture only on %s, not %q", name, strings.Join(d.Interfaces, ", "), iface)
	}
	if haveCaps {
		if _, ok := caps.iface(iface); !ok {
			return db.Pairing{}, invalidf("device %s has no interface %q (it has: %s)", name, iface, strings.Join(caps.names(), ", "))
		}
	}
	return db.Pairing{Device: name, Interface: iface}, nil
}

// ConfigureExperiment checks and stores an experiment's configuration
// (instantiated → configured, or configured → configured). The filter is
// compiled against each device interface's link type; the secret becomes
// the Crypto-PAn key, or the operator-held key named by anonymize.key is
// copied (sealed) into the experiment; only the fingerprint is ever shown.
func (m *Manager) ConfigureExperiment(ctx context.Context, p Principal, id int64, cfg amapi.ExperimentConfig) (_ amapi.Settings, err error) {
	defer m.audit(ctx, p, "ConfigureExperiment", auditID(id), &err)
	unlock := m.lockExperiment(id)
	defer unlock()
	e, err := m.experiment(ctx, p, id)
	if err != nil {
		return amapi.Settings{}, err
	}
	if e.State != StateInstantiated && e.State != StateConfigured {
		return amapi.Settings{}, stateError(id, e.State, "ConfigureExperiment")
	}
	view, key, err := m.checkConfig(ctx, &e, cfg)
	if err != nil {
		return amapi.Settings{}, fmt.Errorf("configure %d: %w", id, err)
	}
	secret := cfg.Anonymize != nil && cfg.Anonymize.Secret != ""
	if _, err := m.checkPolicies(ctx, &e, &view, secret); err != nil {
		return amapi.Settings{}, fmt.Errorf("configure %d: %w", id, err)
	}
	raw, err := json.Marshal(view)
	if err != nil {
		return amapi.Settings{}, fmt.Errorf("configure %d: %w", id, err)
	}
	if key, err = m.keys.Seal(key); err != nil {
		return amapi.Settings{}, fmt.Errorf("configure %d: %w", id, err)
	}
	// The schedule's conflict check and its storage are one step; a
	// configured experiment never ran, so runs of a former schedule
	// were all skipped, and are forgotten with it. A configuration
	// without a schedule holds no interface (schedule.Holds) and checks
	// nothing: it does not wait for the others' checks, and without a
	// former schedule there are no runs to forget.
	if s := view.Schedule; s != nil {
		m.schedMu.Lock()
		defer m.schedMu.Unlock()
		p := schedule.FromView(s)
		if err := m.checkConflicts(ctx, &e, p.Windows(0, m.cfg.Now(), 0), true); err != nil {
			return amapi.Settings{}, fmt.Errorf("configure %d: %w", id, err)
		}
	}
	if view.Schedule != nil || planOf(&e) != nil {
		if err := m.db.DeleteRuns(ctx, id); err != nil {
			return amapi.Settings{}, err
		}
	}
	if _, err := m.db.UpdateExperiment(ctx, id, p.Name, func(x *db.Experiment) error {
		if x.State != e.State {
			return stateError(id, x.State, "ConfigureExperiment")
		}
		x.State, x.Config, x.Key = StateConfigured, string(raw), key
		return nil
	}); err != nil {
		return amapi.Settings{}, err
	}
	attrs := []any{"experiment", id, "by", p.Name}
	if view.Anonymize != nil {
		attrs = append(attrs, "secret_fingerprint", view.Anonymize.SecretFingerprint, "key", view.Anonymize.Key,
			"payload", view.Anonymize.Payload, "mac", view.Anonymize.MAC)
	}
	m.log.Info("experiment configured", attrs...)
	return m.GetExperimentSettings(ctx, p, id)
}

// checkConfig applies the defaults to cfg and checks it against the
// experiment's devices; it returns the view to store and the key.
func (m *Manager) checkConfig(ctx context.Context, e *db.Experiment, cfg amapi.ExperimentConfig) (amapi.ConfigView, []byte, error) {
	spec := jobSpec(cfg)
	if err := spec.CheckSettings(); err != nil {
		return amapi.ConfigView{}, nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	v := amapi.ConfigView{Filter: spec.Filter, Snaplen: spec.Snaplen, Promiscuous: spec.IsPromiscuous(), Pcap: spec.Pcap,
		Storage: cfg.Storage, DurationS: cfg.DurationS, ReplaySpeed: cfg.ReplaySpeed, RotateMB: spec.RotateMB, RotateS: spec.RotateS}
	if v.Storage == "" {
		v.Storage = StorageRemote
	}
	if v.Storage != StorageLocal && v.Storage != StorageRemote {
		return v, nil, invalidf("storage must be %q or %q, not %q", StorageLocal, StorageRemote, cfg.Storage)
	}
	if v.DurationS < 0 {
		return v, nil, invalidf("duration_s must not be negative, got %d", v.DurationS)
	}
	if s := cfg.Schedule; s != nil {
		plan, err := schedule.Check(*s, m.cfg.Now())
		if err != nil {
			return v, nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if v.DurationS > 0 && !(plan.Every == 0 && plan.Run == 0 && plan.Stop.IsZero()) {
			return v, nil, invalidf("duration_s applies only to a schedule without an end (start_at alone); use run_s or stop_at")
		}
		view := plan.View()
		v.Schedule = &view
	}
	if c := spec.Counters; c != nil {
		v.Counters = &amapi.CountersView{IntervalMS: c.IntervalMS}
	}
	if f := spec.Flows; f != nil {
		v.Flows = &amapi.FlowsView{ActiveTimeoutS: f.ActiveTimeoutS, IdleTimeoutS: f.IdleTimeoutS, Biflow: f.IsBiflow(),
			Collector: f.Collector}
	}
	var key []byte
	if a := cfg.Anonymize; a != nil {
		if a.Secret != "" && a.Key != "" {
			return v, nil, invalidf("anonymize takes a secret or a key (an operator-held key's name), not both")
		}
		if a.Secret == "" && a.Key == "" {
			if a.Payload != "" || a.MAC != "" {
				return v, nil, invalidf("anonymize payload and mac apply only with anonymization: anonymize needs a secret or a key")
			}
			return v, nil, invalidf("anonymize needs a secret or a key (an operator-held key's name, see ListKeys)")
		}
		payload, mac, err := deviceapi.CheckSanitization(a.Payload, a.MAC)
		if err != nil {
			return v, nil, invalidf("anonymize %v", err)
		}
		var (
			k           [32]byte
			fingerprint string
		)
		if a.Key != "" {
			if k, fingerprint, err = m.operatorKey(ctx, e.Owner, a.Key); err != nil {
				return v, nil, err
			}
		} else {
			if k, err = cryptopan.KeyFromSecret(a.Secret); err != nil {
				return v, nil, invalidf("anonymize secret: %v", err)
			}
			fingerprint = cryptopan.Fingerprint(k)
		}
		key = k[:]
		v.Anonymize = &amapi.AnonymizeView{SecretFingerprint: fingerprint, Key: a.Key, Payload: payload, MAC: mac}
	}
	compiled := make(map[layers.LinkType]bool) // the filter compiles for these
	for _, pair := range e.Devices {
		if err := m.checkOnDevice(ctx, pair, &v, compiled); err != nil {
			return v, nil, err
		}
	}
	return v, key, nil
}

// checkOnDevice checks a configuration against one device's stored
// capabilities: the transforms it offers, its snaplen and the filter
// compiled for the interface's link type, once per link type (compiled
// holds those the filter compiled for).
func (m *Manager) checkOnDevice(ctx context.Context, pair db.Pairing, v *amapi.ConfigView, compiled map[layers.LinkType]bool) error {
	d, err := m.db.GetDevice(ctx, pair.Device)
	if err != nil {
		return fmt.Errorf("%w: device %q of the experiment no longer exists", ErrNotFound, pair.Device)
	}
	caps, ok := capabilities(&d)
	if !ok {
		return fmt.Errorf("%w: device %s: capabilities unknown (never reached)", ErrDevice, d.Name)
	}
	for _, t := range []struct {
		name string
		on   bool
	}{{"counters", v.Counters != nil}, {"flows", v.Flows != nil}, {"anonymize", v.Anonymize != nil}, {"pcap", v.Pcap}} {
		if t.on && !slices.Contains(caps.Transforms, t.name) {
			return invalidf("device %s does not offer %s", d.Name, t.name)
		}
	}
	if caps.MaxSnaplen > 0 && v.Snaplen > caps.MaxSnaplen {
		return invalidf("snaplen %d is more than device %s allows (%d)", v.Snaplen, d.Name, caps.MaxSnaplen)
	}
	if v.ReplaySpeed != 0 && !strings.HasPrefix(pair.Interface, deviceapi.FilePrefix) {
		return invalidf("replay_speed applies only to file: interfaces, not %s:%s", d.Name, pair.Interface)
	}
	lt := layers.LinkTypeEthernet
	if info, ok := caps.iface(pair.Interface); ok && info.LinkType != "" {
		if n := pcap.DatalinkNameToVal(info.LinkType); n >= 0 {
			lt = layers.LinkType(n)
		}
	}
	if compiled[lt] {
		return nil
	}
	if err := m.checkFilter(ctx, lt, v.Snaplen, v.Filter); err != nil {
		var fe *capture.FilterError
		if errors.As(err, &fe) {
			return invalidf("filter %q on %s:%s: %s", fe.Expr, d.Name, pair.Interface, fe.Msg)
		}
		return invalidf("filter %q: %v", v.Filter, err)
	}
	compiled[lt] = true
	return nil
}

// jobSpec is the device job of a configuration, without an interface (it
// is checked before the job is paired with one) and without a key.
func jobSpec(cfg amapi.ExperimentConfig) deviceapi.JobSpec {
	s := deviceapi.JobSpec{Filter: cfg.Filter, Snaplen: cfg.Snaplen, Promiscuous: cfg.Promiscuous,
		Pcap: cfg.Pcap, ReplaySpeed: cfg.ReplaySpeed, RotateMB: cfg.RotateMB, RotateS: cfg.RotateS}
	if c := cfg.Counters; c != nil {
		s.Counters = &deviceapi.CountersSpec{IntervalMS: c.IntervalMS}
	}
	if f := cfg.Flows; f != nil {
		s.Flows = &deviceapi.FlowsSpec{ActiveTimeoutS: f.ActiveTimeoutS, IdleTimeoutS: f.IdleTimeoutS,
			Biflow: f.Biflow, Collector: f.Collector}
	}
	return s
}

// GetExperimentSettings returns an experiment's settings and history.
func (m *Manager) GetExperimentSettings(ctx context.Context, p Principal, id int64) (amapi.Settings, error) {
	e, err := m.experiment(ctx, p, id)
	if err != nil {
		return amapi.Settings{}, err
	}
	tr, err := m.db.Transitions(ctx, id)
	if err != nil {
		return amapi.Settings{}, err
	}
	s := amapi.Settings{ID: e.ID, Name: e.Name, Description: e.Description, Owner: e.Owner, State: e.State,
		Devices: pairingNames(e.Devices), Created: e.Created, Transitions: make([]amapi.TransitionView, len(tr))}
	if v, ok := configView(&e); ok {
		s.Config = &v
	}
	for i, t := range tr {
		s.Transitions[i] = amapi.TransitionView{From: t.From, To: t.To, By: t.By, At: t.At}
	}
	if s.Runs, err = m.runViews(ctx, id); err != nil {
		return amapi.Settings{}, err
	}
	return s, nil
}

// configView decodes the stored configuration. A configuration stored
// before the sanitization modes existed gets their defaults, which its
// devices apply too.
func configView(e *db.Experiment) (amapi.ConfigView, bool) {
	var v amapi.ConfigView
	if e.Config == "" || json.Unmarshal([]byte(e.Config), &v) != nil {
		return v, false
	}
	if a := v.Anonymize; a != nil {
		if a.Payload == "" {
			a.Payload = deviceapi.DefaultPayload
		}
		if a.MAC == "" {
			a.MAC = deviceapi.DefaultMAC
		}
	}
	return v, true
}

// pairingNames lists "device:interface" of each pairing.
func pairingNames(ps []db.Pairing) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Device + ":" + p.Interface
	}
	return out
}
