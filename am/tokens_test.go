package am

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gimsproject/gims/db"
)

// TestSealStoredTokens: Start seals the device tokens a former version
// stored in clear, and the manager opens them again.
func TestSealStoredTokens(t *testing.T) {
	ctx := context.Background()
	store, cfg := newTestStore(t)
	if err := store.CreateDevice(ctx, db.Device{Name: "old", Hostname: "127.0.0.1", Port: 1, Token: "clear-token",
		Pending: true, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	cfg.RefreshInterval = time.Hour
	m, err := New(cfg, Dependencies{DB: store})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	m.Stop()
	d, err := store.GetDevice(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d.Token, sealedTokenPrefix) || strings.Contains(d.Token, "clear-token") {
		t.Fatalf("stored token %q, want it sealed", d.Token)
	}
	if tok, err := m.openToken(d.Token); err != nil || tok != "clear-token" {
		t.Errorf("openToken() = %q, %v", tok, err)
	}
	// A token that looks sealed is refused at input.
	d.Token = sealedTokenPrefix + "x"
	if err := checkDevice(&d); err == nil {
		t.Error("a token starting with the sealed prefix was accepted")
	}
}
