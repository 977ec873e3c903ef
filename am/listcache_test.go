package am

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// listFromDatabase is ListExperiments read from the database for every
// call, as it was before the list was kept: the reference of
// TestListKeptMatchesDatabase.
func listFromDatabase(t *testing.T, m *Manager, p Principal) []amapi.ExperimentSummary {
	t.Helper()
	owner := p.Name
	if p.IsAdmin() {
		owner = ""
	}
	list, err := m.db.ListExperiments(context.Background(), owner)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]amapi.ExperimentSummary, len(list))
	for i, e := range list {
		out[i] = amapi.ExperimentSummary{ID: e.ID, Name: e.Name, Owner: e.Owner, State: e.State,
			Devices: pairingNames(e.Devices), Created: e.Created, ElapsedS: m.elapsed(&e).Seconds()}
		for j := range e.Devices {
			out[i].Packets += storedStatus(&e.Devices[j]).Packets
		}
	}
	return out
}

// TestListKeptMatchesDatabase: the kept list answers, for an admin and for
// each experimenter, what reading every experiment from the database
// answers, after each kind of write: creations, transitions, device
// statuses, a deletion, a write of any experiment (a device's).
func TestListKeptMatchesDatabase(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	m, store := newManagerWithTap(t, func(cfg *Configuration) { cfg.Now = func() time.Time { return now } }, "lo", "eth0")
	users := []Principal{{Name: "root", Role: RoleAdmin}, {Name: "alice", Role: RoleExperimenter}, {Name: "bob", Role: RoleExperimenter}}
	var ids []int64
	create := func(owner, name string) {
		id, err := store.CreateExperiment(ctx, db.Experiment{Name: name, Owner: owner, State: StateInstantiated,
			Devices: []db.Pairing{{Device: "tap", Interface: "lo"}, {Device: "tap", Interface: "eth0"}}, Created: now})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	check := func(step string) {
		t.Helper()
		for _, p := range users {
			got, err := m.ListExperiments(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if want := listFromDatabase(t, m, p); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s, as %s: list\n%+v\nwant\n%+v", step, p.Name, got, want)
			}
		}
	}
	check("empty")
	create("alice", "a1")
	create("bob", "b1")
	create("alice", "a2")
	check("three created")
	check("nothing written")
	if _, err := store.UpdateExperiment(ctx, ids[1], "bob", func(x *db.Experiment) error {
		x.State, x.RunningSince = StateRunning, now.Add(-90*time.Second)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	check("b1 running")
	if n, err := m.runningExperiments(ctx); err != nil || n != 1 {
		t.Errorf("running experiments: %d, %v; want 1", n, err)
	}
	now = now.Add(time.Minute)
	check("a minute later")
	if err := store.SetPairingStatus(ctx, ids[1], 1, `{"packets": 42}`, now); err != nil {
		t.Fatal(err)
	}
	check("b1 counted packets")
	if err := store.DeleteExperiment(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	create("bob", "b2")
	check("a1 deleted, b2 created")
	if _, err := store.UpdateDevice(ctx, "tap", func(d *db.Device) error { d.Location = "elsewhere"; return nil }); err != nil {
		t.Fatal(err)
	}
	create("alice", "a3")
	check("a device written")
	if _, err := store.UpdateExperiment(ctx, ids[1], "bob", func(x *db.Experiment) error { x.State = StateDone; return nil }); err != nil {
		t.Fatal(err)
	}
	check("b1 done")
	if n, err := m.runningExperiments(ctx); err != nil || n != 0 {
		t.Errorf("running experiments after b1 is done: %d, %v; want 0", n, err)
	}
}
