package am

import (
	"context"
	"path/filepath"
	"testing"

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

// openPolicy is the device policy (SPEC §9) that allows every
// experiment, for the tests that are not about policy: every user, no
// anonymization required, payloads kept, experimenters' secrets.
func openPolicy() *amapi.PolicyInput {
	p := amapi.DefaultDevicePolicy()
	p.RequireAnonymization, p.Payload, p.KeyHolder = false, "keep", "experimenter"
	return amapi.PolicyInputOf(p)
}
