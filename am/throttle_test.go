package am

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestLoginThrottle: past the failures allowed per user name within the
// window, even the right password is refused, for existing and unknown
// names alike, until the window passes; the address limit covers many
// names from one client.
func TestLoginThrottle(t *testing.T) {
	ctx := context.Background()
	store, cfg := newTestStore(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg.Now = func() time.Time { return now }
	m, err := New(cfg, Dependencies{DB: store})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.InitAdmin(ctx, "root", "root-password"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < loginFailures; i++ {
		if _, err := m.AuthenticateFrom(ctx, "root", "wrong", "192.0.2.1"); !errors.Is(err, ErrAuth) {
			t.Fatalf("failure %d: %v", i, err)
		}
		if _, err := m.AuthenticateFrom(ctx, "nobody", "wrong", "192.0.2.2"); !errors.Is(err, ErrAuth) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	for _, name := range []string{"root", "nobody"} {
		_, err := m.AuthenticateFrom(ctx, name, "root-password", "198.51.100.1")
		if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "too many failed logins") {
			t.Errorf("%s after %d failures: %v, want throttled", name, loginFailures, err)
		}
	}
	now = now.Add(loginWindow)
	if _, err := m.AuthenticateFrom(ctx, "root", "root-password", "192.0.2.1"); err != nil {
		t.Errorf("after the window: %v", err)
	}
	// One address trying many names.
	for i := 0; i < loginAddrFailures; i++ {
		m.AuthenticateFrom(ctx, "user"+string(rune('a'+i%26))+string(rune('a'+i/26)), "wrong", "203.0.113.9")
	}
	if _, err := m.AuthenticateFrom(ctx, "root", "root-password", "203.0.113.9"); err == nil ||
		!strings.Contains(err.Error(), "too many failed logins") {
		t.Errorf("address past its limit: %v, want throttled", err)
	}
	if _, err := m.AuthenticateFrom(ctx, "root", "root-password", "192.0.2.1"); err != nil {
		t.Errorf("another address: %v", err)
	}
}
