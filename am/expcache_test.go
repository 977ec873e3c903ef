package am

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/gimsproject/gims/db"
)

// TestExperimentCopies: the kept copy of an experiment is handed out
// while no write changed it, a write (its own, or one that may change any
// experiment) is seen at once, a caller's changes to its copy stay its
// own, and a deleted experiment is not found.
func TestExperimentCopies(t *testing.T) {
	ctx := context.Background()
	m, store := newManagerWithTap(t, nil, "lo")
	id, err := store.CreateExperiment(ctx, db.Experiment{Name: "a", Owner: "alice", State: StateInstantiated,
		Devices: []db.Pairing{{Device: "tap", Interface: "lo"}}, Key: []byte{1, 2, 3}, Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	same := func(step string) db.Experiment {
		t.Helper()
		got, err := m.getExperiment(ctx, id)
		want, werr := store.GetExperiment(ctx, id)
		if err != nil || werr != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: kept %+v (%v), database %+v (%v)", step, got, err, want, werr)
		}
		return got
	}
	first := same("first read")
	first.Devices[0].Job, first.Key[0], first.State = "mine", 9, "changed by the caller"
	same("after the caller changed its copy")
	if _, err := store.UpdateExperiment(ctx, id, "alice", func(x *db.Experiment) error {
		x.State, x.Devices[0].Job = StateRunning, "j1"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if e := same("after its update"); e.State != StateRunning {
		t.Fatalf("state %s after the update, want running", e.State)
	}
	if err := store.SetPairingStatus(ctx, id, 0, `{"packets": 1}`, time.Now()); err != nil {
		t.Fatal(err)
	}
	same("after a device status")
	if _, err := store.UpdateDevice(ctx, "tap", func(d *db.Device) error { d.Location = "x"; return nil }); err != nil {
		t.Fatal(err)
	}
	same("after a device write")
	if err := store.DeleteExperiment(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := m.getExperiment(ctx, id); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("after its deletion: %v, want not found", err)
	}
}
