package db

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestKeys: a key is stored with its users and listed by name; a second
// key of that name is a conflict; DeleteKey refuses while an experiment in
// a given state names it as anonymize.key (whatever its other
// experiments' configurations hold, even none) and deletes it otherwise.
func TestKeys(t *testing.T) {
	ctx := context.Background()
	d, _ := open(t)
	now := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	k := Key{Name: "lab", Sealed: []byte{1, 2, 3}, Fingerprint: "0a1b2c3d", Users: []string{"alice", "bob"},
		CreatedBy: "admin", Created: now}
	if err := d.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateKey(ctx, Key{Name: "all", Sealed: []byte{4}, Fingerprint: "ffffffff", Users: []string{"*"},
		CreatedBy: "admin", Created: now}); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateKey(ctx, k); !errors.Is(err, ErrConflict) {
		t.Errorf("second key lab: %v, want ErrConflict", err)
	}
	got, err := d.GetKey(ctx, "lab")
	if err != nil {
		t.Fatal(err)
	}
	if got.Fingerprint != k.Fingerprint || !slices.Equal(got.Users, k.Users) || string(got.Sealed) != string(k.Sealed) ||
		!got.Created.Equal(now) || got.CreatedBy != "admin" {
		t.Errorf("GetKey = %+v, want %+v", got, k)
	}
	if _, err := d.GetKey(ctx, "none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetKey(none): %v, want ErrNotFound", err)
	}
	list, err := d.ListKeys(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "all" || list[1].Name != "lab" {
		t.Fatalf("ListKeys = %+v, %v", list, err)
	}

	// Experiments: one unconfigured (config ""), one with a secret, one
	// using lab.
	mk := func(name, config string) int64 {
		id, err := d.CreateExperiment(ctx, Experiment{Name: name, Owner: "alice", State: "instantiated", Created: now,
			Devices: []Pairing{{Device: "tap1", Interface: "eth0"}}})
		if err != nil {
			t.Fatal(err)
		}
		if config != "" {
			if _, err := d.UpdateExperiment(ctx, id, "alice", func(e *Experiment) error {
				e.State, e.Config = "configured", config
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	mk("bare", "")
	mk("secret", `{"anonymize":{"secret_fingerprint":"12345678"}}`)
	uses := mk("keyed", `{"anonymize":{"key":"lab","secret_fingerprint":"0a1b2c3d"}}`)
	active := []string{"configured", "running", "paused"}
	if _, err := d.DeleteKey(ctx, "lab", active); !errors.Is(err, ErrKeyInUse) ||
		!strings.Contains(err.Error(), "experiment 3 (configured)") {
		t.Errorf("DeleteKey(lab) while configured: %v, want ErrKeyInUse naming experiment %d", err, uses)
	}
	if _, err := d.GetKey(ctx, "lab"); err != nil {
		t.Errorf("the refused delete removed the key: %v", err)
	}
	if _, err := d.UpdateExperiment(ctx, uses, "alice", func(e *Experiment) error {
		e.State = "done"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	del, err := d.DeleteKey(ctx, "lab", active)
	if err != nil || del.Name != "lab" {
		t.Fatalf("DeleteKey(lab) once done = %+v, %v", del, err)
	}
	if _, err := d.DeleteKey(ctx, "lab", active); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteKey(lab): %v, want ErrNotFound", err)
	}
}

// TestPruneAudit: entries older than the bound go, the others stay.
func TestPruneAudit(t *testing.T) {
	ctx := context.Background()
	d, _ := open(t)
	t0 := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	for i := range 5 {
		if err := d.AddAudit(ctx, AuditEntry{At: t0.Add(time.Duration(i) * time.Hour), User: "alice",
			Method: "StartExperiment", Target: string(rune('1' + i)), Result: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := d.PruneAudit(ctx, t0.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PruneAudit = %d, %v; want 2", n, err)
	}
	list, err := d.ListAudit(ctx, AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range list {
		got = append(got, e.Target)
	}
	if strings.Join(got, " ") != "5 4 3" {
		t.Errorf("left %v, want 5 4 3", got)
	}
}
