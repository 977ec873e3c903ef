package am

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// TestActivationExpires: a code works until it expires, the database
// holds only its hash, and a bad code changes nothing.
func TestActivationExpires(t *testing.T) {
	ctx := context.Background()
	store, cfg := newTestStore(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg.Now = func() time.Time { return now }
	m, err := New(cfg, Dependencies{DB: store})
	if err != nil {
		t.Fatal(err)
	}
	admin := Principal{Name: "root", Role: RoleAdmin}
	act, err := m.CreateActivation(ctx, admin, amapi.ActivationRequest{ExpiresS: 60, Uses: 5})
	if err != nil {
		t.Fatal(err)
	}
	list, err := store.ListActivations(ctx, now)
	if err != nil || len(list) != 1 || bytes.Contains(list[0].CodeHash, []byte(act.Code)) || len(list[0].CodeHash) != 32 {
		t.Fatalf("stored activations %+v, %v: want one, holding the code's hash only", list, err)
	}
	reg := amapi.Registration{Name: "d1", Hostname: "127.0.0.1", Port: 1, Token: "t", Activation: act.Code}
	if _, err := m.RegisterDevice(ctx, Principal{Name: "bob", Role: RoleExperimenter}, reg); err != nil {
		t.Fatalf("registration before expiry: %v", err)
	}
	now = now.Add(61 * time.Second)
	reg.Name = "d2"
	if _, err := m.RegisterDevice(ctx, Principal{Name: "bob", Role: RoleExperimenter}, reg); !errors.Is(err, ErrAuth) {
		t.Errorf("registration after expiry = %v, want ErrAuth", err)
	}
	if _, err := store.GetDevice(ctx, "d2"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("refused registration stored a device: %v", err)
	}
	if list, err := m.ListActivations(ctx, admin); err != nil || len(list) != 0 {
		t.Errorf("ListActivations after expiry = %+v, %v", list, err)
	}
}
