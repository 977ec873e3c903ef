package am

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// newTestStore opens a fresh database in a temporary folder, closed at the
// end of the test, and returns it with a configuration whose DataDir is
// that folder and whose bcrypt cost is the cheapest.
func newTestStore(t *testing.T) (*db.DB, Configuration) {
	t.Helper()
	dir := t.TempDir()
	dcfg := db.DefaultConfiguration()
	dcfg.Path = filepath.Join(dir, "am.db")
	store, err := db.Open(context.Background(), dcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg := DefaultConfiguration()
	cfg.DataDir, cfg.BcryptCost = dir, 4
	return store, cfg
}

// newManagerWithTap is a Manager over a fresh store, logging nowhere,
// with one device "tap" on the given interfaces: the setup of the tests
// of the kept copies (experiments, list, statuses). edit, if not nil,
// changes the configuration first.
func newManagerWithTap(t *testing.T, edit func(*Configuration), interfaces ...string) (*Manager, *db.DB) {
	t.Helper()
	store, cfg := newTestStore(t)
	cfg.Logger = slog.New(slog.DiscardHandler)
	if edit != nil {
		edit(&cfg)
	}
	m, err := New(cfg, Dependencies{DB: store})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateDevice(context.Background(), db.Device{Name: "tap", Hostname: "127.0.0.1", Port: 9, Token: "t",
		Interfaces: interfaces, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return m, store
}

// openPolicy is the device policy (SPEC §9) that allows every
// experiment, for the tests that are not about policy: every user, no
// anonymization required, payloads kept, experimenters' secrets.
func openPolicy() *amapi.PolicyInput {
	p := amapi.DefaultDevicePolicy()
	p.RequireAnonymization, p.Payload, p.KeyHolder = false, "keep", "experimenter"
	return amapi.PolicyInputOf(p)
}
