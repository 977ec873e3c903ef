package db

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestAudit: entries come back newest first, selected by user and time,
// at most limit of them.
func TestAudit(t *testing.T) {
	ctx := context.Background()
	d, _ := open(t)
	t0 := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	for i, u := range []string{"alice", "bob", "alice", "alice"} {
		e := AuditEntry{At: t0.Add(time.Duration(i) * time.Minute), User: u, Remote: "127.0.0.1",
			Method: "StartExperiment", Target: string(rune('1' + i)), Result: "ok"}
		if err := d.AddAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		q    AuditQuery
		want string
	}{
		{"all", AuditQuery{Limit: 100}, "4 3 2 1"},
		{"limit", AuditQuery{Limit: 2}, "4 3"},
		{"user", AuditQuery{User: "alice", Limit: 100}, "4 3 1"},
		{"since", AuditQuery{Since: t0.Add(time.Minute), Limit: 100}, "4 3 2"},
		{"user and since", AuditQuery{User: "bob", Since: t0.Add(2 * time.Minute), Limit: 100}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			list, err := d.ListAudit(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Target)
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("targets %v, want %s", got, tc.want)
			}
		})
	}
}

// TestDeleteExperimentRecord: the record goes with its pairings, transitions
// and result files; a second delete is ErrNotFound.
func TestDeleteExperimentRecord(t *testing.T) {
	ctx := context.Background()
	d, _ := open(t)
	id, err := d.CreateExperiment(ctx, Experiment{Name: "e", Owner: "alice", State: "instantiated",
		Created: time.Now(), Devices: []Pairing{{Device: "tap1", Interface: "eth0"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.PutResultFile(ctx, id, ResultFile{Name: "counters.csv", Path: "x", Pulled: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteExperiment(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetExperiment(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetExperiment after the delete: %v", err)
	}
	if files, err := d.ResultFiles(ctx, id); err != nil || len(files) != 0 {
		t.Errorf("result files after the delete: %v, %v", files, err)
	}
	if err := d.DeleteExperiment(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}
