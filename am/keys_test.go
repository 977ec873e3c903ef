package am

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/transform/cryptopan"
	"github.com/gimsproject/gims/xmlrpc"
)

// newKeysManager returns a manager (not started: no device is called) on
// a fresh store holding device tap1 with its capabilities.
func newKeysManager(t *testing.T) (*Manager, *db.DB) {
	t.Helper()
	ctx := context.Background()
	store, cfg := newTestStore(t)
	caps, err := xmlrpc.Marshal(amapi.Capabilities{Interfaces: []amapi.InterfaceInfo{{Name: "eth0", LinkType: "EN10MB"}},
		MaxSnaplen: 65535, Transforms: []string{"counters", "flows", "anonymize", "pcap"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateDevice(ctx, db.Device{Name: "tap1", Hostname: "127.0.0.1", Port: 1, Token: "t",
		Capabilities: caps, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg, Dependencies{DB: store})
	if err != nil {
		t.Fatal(err)
	}
	return m, store
}

// TestKeys: CreateKey (admin only, checked name and users) answers the
// fingerprint of a key sealed in the store, never the key; ListKeys shows
// an experimenter only the keys it may use; ConfigureExperiment with
// anonymize.key takes the key for an owner among its users (the settings
// name it, with its fingerprint) and refuses others with ErrAuth naming
// the key; DeleteKey is refused (fault 2) while a configured experiment
// uses it.
func TestKeys(t *testing.T) {
	ctx := context.Background()
	m, store := newKeysManager(t)
	admin := Principal{Name: "root", Role: RoleAdmin}
	alice := Principal{Name: "alice", Role: RoleExperimenter}
	bob := Principal{Name: "bob", Role: RoleExperimenter}

	for _, tc := range []struct {
		name string
		p    Principal
		req  amapi.KeyRequest
		code int
		want string
	}{
		{"experimenter", alice, amapi.KeyRequest{Name: "k", Users: []string{"alice"}}, amapi.FaultAuth, "CreateKey is for admins"},
		{"bad name", admin, amapi.KeyRequest{Name: "a b", Users: []string{"alice"}}, amapi.FaultInvalid, "key name"},
		{"no users", admin, amapi.KeyRequest{Name: "k"}, amapi.FaultInvalid, "at least one user"},
		{"star and names", admin, amapi.KeyRequest{Name: "k", Users: []string{"*", "alice"}}, amapi.FaultInvalid, "stands alone"},
		{"bad user", admin, amapi.KeyRequest{Name: "k", Users: []string{"al ice"}}, amapi.FaultInvalid, "user name"},
	} {
		_, err := m.CreateKey(ctx, tc.p, tc.req)
		if f := FaultOf(err); err == nil || f.Code != tc.code || !strings.Contains(f.String, tc.want) {
			t.Errorf("%s: CreateKey = %v, want fault %d with %q", tc.name, err, tc.code, tc.want)
		}
	}
	lab, err := m.CreateKey(ctx, admin, amapi.KeyRequest{Name: "lab", Users: []string{"alice", "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateKey(ctx, admin, amapi.KeyRequest{Name: "all", Users: []string{"*"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateKey(ctx, admin, amapi.KeyRequest{Name: "lab", Users: []string{"*"}}); FaultOf(err).Code != amapi.FaultConflict {
		t.Errorf("second key lab: %v, want fault 6", err)
	}
	if !slices.Equal(lab.Users, []string{"alice"}) || len(lab.Fingerprint) != 8 || lab.CreatedBy != "root" {
		t.Errorf("CreateKey = %+v", lab)
	}
	// Sealed at rest: the stored form is not the key, and opens to the
	// key of that fingerprint.
	stored, err := store.GetKey(ctx, "lab")
	if err != nil {
		t.Fatal(err)
	}
	key, err := m.keys.Open(stored.Sealed)
	if err != nil || len(key) != 32 || cryptopan.Fingerprint([32]byte(key)) != lab.Fingerprint {
		t.Fatalf("stored key opens to %d bytes (%v), fingerprint of CreateKey %s", len(key), err, lab.Fingerprint)
	}
	if strings.Contains(string(stored.Sealed), string(key)) {
		t.Error("the stored key holds the key in clear")
	}

	names := func(p Principal) string {
		list, err := m.ListKeys(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range list {
			s := k.Name + "/" + k.Fingerprint
			if len(k.Users) > 0 {
				s += "/" + strings.Join(k.Users, ",")
			}
			out = append(out, s)
		}
		return strings.Join(out, " ")
	}
	all, err := store.GetKey(ctx, "all")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(admin), "all/"+all.Fingerprint+"/* lab/"+lab.Fingerprint+"/alice"; got != want {
		t.Errorf("ListKeys(admin) = %s, want %s", got, want)
	}
	if got, want := names(alice), "all/"+all.Fingerprint+" lab/"+lab.Fingerprint; got != want {
		t.Errorf("ListKeys(alice) = %s, want %s", got, want)
	}
	if got, want := names(bob), "all/"+all.Fingerprint; got != want {
		t.Errorf("ListKeys(bob) = %s, want %s", got, want)
	}

	create := func(p Principal, name string) int64 {
		id, err := m.CreateExperiment(ctx, p, amapi.CreateRequest{Name: name, Devices: []string{"tap1:eth0"}})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	ida, idb := create(alice, "a"), create(bob, "b")
	for _, tc := range []struct {
		name string
		p    Principal
		id   int64
		anon amapi.AnonymizeConfig
		code int
		want string
	}{
		{"not a user of the key", bob, idb, amapi.AnonymizeConfig{Key: "lab"}, amapi.FaultAuth, `key "lab"`},
		{"no such key", alice, ida, amapi.AnonymizeConfig{Key: "none"}, amapi.FaultAuth, `key "none"`},
		{"secret and key", alice, ida, amapi.AnonymizeConfig{Key: "lab", Secret: "s"}, amapi.FaultInvalid, "not both"},
		{"neither", alice, ida, amapi.AnonymizeConfig{}, amapi.FaultInvalid, "a secret or a key"},
	} {
		_, err := m.ConfigureExperiment(ctx, tc.p, tc.id, amapi.ExperimentConfig{Anonymize: &tc.anon})
		if f := FaultOf(err); err == nil || f.Code != tc.code || !strings.Contains(f.String, tc.want) {
			t.Errorf("%s: ConfigureExperiment = %v, want fault %d with %q", tc.name, err, tc.code, tc.want)
		}
	}
	s, err := m.ConfigureExperiment(ctx, alice, ida, amapi.ExperimentConfig{Anonymize: &amapi.AnonymizeConfig{Key: "lab"}})
	if err != nil {
		t.Fatal(err)
	}
	if a := s.Config.Anonymize; a == nil || a.Key != "lab" || a.SecretFingerprint != lab.Fingerprint {
		t.Errorf("settings anonymize = %+v, want key lab with fingerprint %s", s.Config.Anonymize, lab.Fingerprint)
	}
	// The experiment holds the key sealed: what StartExperiment gives
	// the devices.
	e, err := store.GetExperiment(ctx, ida)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := m.keys.Open(e.Key); err != nil || string(got) != string(key) {
		t.Errorf("the experiment's key is not the operator's key (%v)", err)
	}
	// An admin configures bob's experiment with a key bob may not use:
	// refused, the owner's right counts.
	if _, err := m.ConfigureExperiment(ctx, admin, idb, amapi.ExperimentConfig{Anonymize: &amapi.AnonymizeConfig{Key: "lab"}}); FaultOf(err).Code != amapi.FaultAuth {
		t.Errorf("admin configuring bob's experiment with lab: %v, want fault 4", err)
	}

	if _, err := m.DeleteKey(ctx, alice, "lab"); FaultOf(err).Code != amapi.FaultAuth {
		t.Errorf("DeleteKey by an experimenter: %v, want fault 4", err)
	}
	_, err = m.DeleteKey(ctx, admin, "lab")
	if f := FaultOf(err); f.Code != amapi.FaultState || !strings.Contains(f.String, "configured") {
		t.Errorf("DeleteKey while configured: %v, want fault 2 naming the state", err)
	}
	if _, err := store.UpdateExperiment(ctx, ida, "alice", func(x *db.Experiment) error {
		x.State = StateDone
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if k, err := m.DeleteKey(ctx, admin, "lab"); err != nil || k.Name != "lab" {
		t.Errorf("DeleteKey once done = %+v, %v", k, err)
	}
	if _, err := m.DeleteKey(ctx, admin, "lab"); FaultOf(err).Code != amapi.FaultNotFound {
		t.Errorf("DeleteKey again: %v, want fault 1", err)
	}
}
