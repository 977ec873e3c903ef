package db

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"
)

// TestExperimentsIn: the counts by state kept in memory are the
// database's after creations, transitions, a failed transition, a
// deletion, and after the database is opened again.
func TestExperimentsIn(t *testing.T) {
	ctx := context.Background()
	d, path := open(t)
	if err := d.CreateDevice(ctx, Device{Name: "tap", Hostname: "127.0.0.1", Port: 9, Token: "t",
		Interfaces: []string{"lo"}, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	states := []string{"instantiated", "configured", "running", "paused", "done"}
	check := func(d *DB, step string) {
		t.Helper()
		want, err := d.CountExperiments(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, s := range states {
			if n := d.ExperimentsIn(s); n != 0 {
				got[s] = n
			}
		}
		if !maps.Equal(got, want) {
			t.Fatalf("%s: counted %v, database %v", step, got, want)
		}
	}
	var ids []int64
	for i := range 4 {
		id, err := d.CreateExperiment(ctx, Experiment{Name: string(rune('a' + i)), Owner: "bob", State: "instantiated",
			Devices: []Pairing{{Device: "tap", Interface: "lo"}}, Created: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	check(d, "four created")
	set := func(id int64, state string) {
		t.Helper()
		if _, err := d.UpdateExperiment(ctx, id, "bob", func(e *Experiment) error { e.State = state; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	set(ids[0], "configured")
	set(ids[0], "running")
	set(ids[1], "configured")
	set(ids[1], "configured") // a re-configuration
	set(ids[2], "configured")
	set(ids[2], "running")
	set(ids[2], "done")
	check(d, "transitions")
	failed := errors.New("refused")
	if _, err := d.UpdateExperiment(ctx, ids[3], "bob", func(e *Experiment) error { e.State = "running"; return failed }); !errors.Is(err, failed) {
		t.Fatalf("failed update: %v", err)
	}
	check(d, "a failed transition")
	if err := d.DeleteExperiment(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteExperiment(ctx, ids[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second deletion: %v, want not found", err)
	}
	check(d, "a running one deleted")
	if d.ExperimentsIn("running") != 0 {
		t.Fatalf("%d running after the deletion, want 0", d.ExperimentsIn("running"))
	}
	d.Close()
	again, err := Open(ctx, at(path))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	check(again, "opened again")
}
