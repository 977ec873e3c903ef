package am

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// TestKeptStatusesBounded: the answers kept stay under maxKeptStatuses,
// the newest always among them, and a polled (running) experiment's
// answer is kept over the others.
func TestKeptStatusesBounded(t *testing.T) {
	m := &Manager{statuses: map[int64]*statusEntry{}}
	running := &db.Experiment{ID: 0, State: StateRunning}
	m.keepStatus(running, 1, 0, time.Unix(1, 0), amapi.Status{}, amapi.Status{})
	for id := int64(1); id <= 2*maxKeptStatuses; id++ {
		m.keepStatus(&db.Experiment{ID: id, State: StateDone}, 1, 0, time.Time{}, amapi.Status{ID: id}, amapi.Status{})
		if _, ok := m.statuses[id]; !ok {
			t.Fatalf("experiment %d: its answer was not kept", id)
		}
	}
	if n := len(m.statuses); n > maxKeptStatuses {
		t.Errorf("%d answers kept, at most %d wanted", n, maxKeptStatuses)
	}
	if _, ok := m.statuses[0]; !ok {
		t.Error("the running experiment's answer was forgotten before done ones")
	}
}

// TestStatusKeptAcrossOtherExperiments: an experiment's kept status
// holds (same stamp) while other experiments are created and configured,
// and when another experiment starts it is answered with the new number
// of running experiments, under a new stamp, the rest unchanged.
func TestStatusKeptAcrossOtherExperiments(t *testing.T) {
	ctx := context.Background()
	m, store := newManagerWithTap(t, nil, "lo")
	admin := Principal{Name: "root", Role: RoleAdmin}
	create := func(name string) int64 {
		id, err := m.CreateExperiment(ctx, admin, amapi.CreateRequest{Name: name, Devices: []string{"tap:lo"}})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	a := create("a")
	first, stamp, err := m.ExperimentStatus(ctx, admin, a)
	if err != nil || stamp == 0 {
		t.Fatalf("status of a: stamp %d, %v", stamp, err)
	}
	b := create("b")
	if _, err := store.UpdateExperiment(ctx, b, "root", func(x *db.Experiment) error { x.State = StateConfigured; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, again, err := m.ExperimentStatus(ctx, admin, a); err != nil || again != stamp {
		t.Errorf("status of a after writes of b: stamp %d, want %d (kept); %v", again, stamp, err)
	}
	if _, err := store.UpdateExperiment(ctx, b, "root", func(x *db.Experiment) error {
		x.State, x.RunningSince = StateRunning, time.Now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, again, err := m.ExperimentStatus(ctx, admin, a)
	if err != nil || again == stamp || again == 0 {
		t.Fatalf("status of a after b started: stamp %d (before %d), %v; want a new one", again, stamp, err)
	}
	if got.RunningExperiments != first.RunningExperiments+1 {
		t.Errorf("running experiments %d after b started, want %d", got.RunningExperiments, first.RunningExperiments+1)
	}
	got.RunningExperiments = first.RunningExperiments
	if !reflect.DeepEqual(got, first) {
		t.Errorf("status of a changed beyond running_experiments:\n%+v\nwant\n%+v", got, first)
	}
	// A write of a itself is seen at once.
	if _, err := store.UpdateExperiment(ctx, a, "root", func(x *db.Experiment) error { x.State = StateConfigured; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _, err := m.ExperimentStatus(ctx, admin, a); err != nil || got.State != StateConfigured {
		t.Errorf("status of a after its own write: state %q, %v; want configured", got.State, err)
	}
}
