package am

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gimsproject/gims/flowstore"
)

// TestIngestStores: an experiment's store is opened once and shared; a
// store forgotten while in use is closed by its last user, not before;
// beyond maxIngestStores the one unused longest is closed; closeAll
// closes the rest.
func TestIngestStores(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.ipfix")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	path := func(id int64) string {
		return filepath.Join(dir, "flows-"+string(rune('a'+id%26))+string(rune('a'+id/26))+".db")
	}
	// closed tells whether st no longer reaches its database.
	closed := func(st interface {
		Ingest(context.Context, flowstore.Source, string) (int, error)
	}) bool {
		_, err := st.Ingest(ctx, flowstore.Source{Name: "empty.ipfix"}, empty)
		return err != nil && strings.Contains(err.Error(), "closed")
	}
	var s ingestStores
	a, releaseA, err := s.acquire(ctx, 1, path(1))
	if err != nil {
		t.Fatal(err)
	}
	again, releaseAgain, err := s.acquire(ctx, 1, path(1))
	if err != nil || again != a {
		t.Fatalf("second acquire: %p, %v; want the same store %p", again, err, a)
	}
	s.forget(1)
	releaseA()
	if closed(again) {
		t.Fatal("a forgotten store was closed while still in use")
	}
	releaseAgain()
	if !closed(again) {
		t.Fatal("a forgotten store was not closed by its last user")
	}
	first, release, err := s.acquire(ctx, 2, path(2))
	if err != nil {
		t.Fatal(err)
	}
	release()
	for id := int64(3); id < 3+maxIngestStores; id++ {
		_, release, err := s.acquire(ctx, id, path(id))
		if err != nil {
			t.Fatal(err)
		}
		release()
	}
	if len(s.open) > maxIngestStores {
		t.Errorf("%d stores open, at most %d wanted", len(s.open), maxIngestStores)
	}
	if !closed(first) {
		t.Error("the store unused longest was not closed beyond the bound")
	}
	last := s.open[2+maxIngestStores].st
	s.closeAll()
	if len(s.open) != 0 || !closed(last) {
		t.Errorf("after closeAll: %d open, last closed %v", len(s.open), closed(last))
	}
}
