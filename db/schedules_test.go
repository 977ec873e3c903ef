package db

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestScheduleRuns(t *testing.T) {
	ctx := context.Background()
	d, _ := open(t)
	t0 := time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)
	id, err := d.CreateExperiment(ctx, Experiment{Name: "s", Owner: "ann", State: "configured", Created: t0})
	if err != nil {
		t.Fatal(err)
	}
	r0 := ScheduleRun{Experiment: id, Run: 0, PlannedStart: t0, PlannedEnd: t0.Add(3 * time.Second), Started: t0,
		Outcome: RunStarting}
	if err := d.ClaimRun(ctx, r0); err != nil {
		t.Fatal(err)
	}
	// A run is claimed once.
	if err := d.ClaimRun(ctx, r0); !errors.Is(err, ErrConflict) {
		t.Errorf("second claim of run 0: %v, want ErrConflict", err)
	}
	if ids, err := d.OpenRunExperiments(ctx); err != nil || !reflect.DeepEqual(ids, []int64{id}) {
		t.Errorf("open runs = %v, %v; want [%d]", ids, err, id)
	}
	r0.Outcome, r0.Ended, r0.Note = RunDone, t0.Add(3*time.Second), "started 0s late"
	if err := d.UpdateRun(ctx, r0); err != nil {
		t.Fatal(err)
	}
	// An open-ended run skipped: no end, no start.
	r1 := ScheduleRun{Experiment: id, Run: 1, PlannedStart: t0.Add(6 * time.Second), Outcome: RunSkipped, Note: "missed"}
	if err := d.ClaimRun(ctx, r1); err != nil {
		t.Fatal(err)
	}
	runs, err := d.Runs(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if want := []ScheduleRun{r0, r1}; !reflect.DeepEqual(runs, want) {
		t.Errorf("runs (-got, +want):\n- %+v\n+ %+v", runs, want)
	}
	if ids, err := d.OpenRunExperiments(ctx); err != nil || len(ids) != 0 {
		t.Errorf("open runs = %v, %v; want none", ids, err)
	}
	if err := d.UpdateRun(ctx, ScheduleRun{Experiment: id, Run: 7, Outcome: RunDone}); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of an unclaimed run: %v, want ErrNotFound", err)
	}
	if err := d.DeleteRun(ctx, id, 1); err != nil {
		t.Fatal(err)
	}
	if runs, _ := d.Runs(ctx, id); len(runs) != 1 {
		t.Errorf("after DeleteRun: %+v", runs)
	}
	// An outcome outside the list is refused by the schema.
	if err := d.ClaimRun(ctx, ScheduleRun{Experiment: id, Run: 2, PlannedStart: t0, Outcome: "maybe"}); err == nil {
		t.Error("outcome \"maybe\" accepted")
	}
	// The runs go with their experiment.
	if err := d.DeleteExperiment(ctx, id); err != nil {
		t.Fatal(err)
	}
	if runs, err := d.Runs(ctx, id); err != nil || len(runs) != 0 {
		t.Errorf("runs of a deleted experiment: %+v, %v", runs, err)
	}
}
