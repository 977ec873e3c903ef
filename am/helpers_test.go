package am

import (
	"context"
	"path/filepath"
	"testing"

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
