package seal

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func TestSealer(t *testing.T) {
	dir := t.TempDir()
	s := New(filepath.Join(dir, "data", KeyFile))
	key := bytes.Repeat([]byte{0xab}, 32)
	sealed, err := s.Seal(key)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, key[:8]) || len(sealed) != 12+32+16 {
		t.Fatalf("sealed = %x: want nonce, ciphertext and tag, not the key", sealed)
	}
	if info, err := os.Stat(s.path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("seal key file: %v, %v; want mode 0600", info, err)
	}
	// Another sealer on the same file (a restarted AM) opens it.
	again := New(s.path)
	if got, err := again.Open(sealed); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("open = %x, %v; want the key", got, err)
	}
	if got, err := again.Seal(nil); err != nil || got != nil {
		t.Errorf("seal(nil) = %x, %v; want nil: no anonymization", got, err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := again.Open(sealed); err == nil {
		t.Error("a tampered key opened")
	}
	// Another seal key cannot open it.
	other := New(filepath.Join(dir, "other", KeyFile))
	sealed[len(sealed)-1] ^= 1
	if _, err := other.Open(sealed); err == nil {
		t.Error("a key sealed under another seal key opened")
	}
	bad := New(filepath.Join(dir, "short.key"))
	os.WriteFile(bad.path, []byte("short"), 0o600)
	if _, err := bad.Seal(key); err == nil {
		t.Error("a 5-byte seal key was accepted")
	}
}

// TestSealKeyMadePrivate: a seal key the group or others can read (an
// older version's, a restored backup) is made 0600 at Start, with a
// warning.
func TestSealKeyMadePrivate(t *testing.T) {
	dir := t.TempDir()
	s := New(filepath.Join(dir, KeyFile))
	if err := os.WriteFile(s.path, bytes.Repeat([]byte{1}, 32), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(s.path, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	if err := s.Tighten(slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(s.path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("seal key after tighten: %v, %v; want mode 0600", info, err)
	}
	if !bytes.Contains(logs.Bytes(), []byte("old_mode=0644")) {
		t.Errorf("no warning: %s", logs.String())
	}
}
