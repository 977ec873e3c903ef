package secretfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCreateTightenCheck(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	if err := Create(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != Mode {
		t.Fatalf("Create: mode %v, %v; want %v", fi.Mode(), err, Mode)
	}
	if err := Check(path); err != nil {
		t.Errorf("Check of a 0600 file: %v", err)
	}
	// An existing file is left as it is by Create.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Create(path); err != nil {
		t.Fatal(err)
	}
	if err := Check(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("Check of a 0644 file = %v, want a refusal with the fix", err)
	}
	old, err := Tighten(path)
	if err != nil || old != 0o644 {
		t.Errorf("Tighten = %v, %v; want the old mode 0644", old, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != Mode {
		t.Errorf("after Tighten: mode %v", fi.Mode())
	}
	if old, err := Tighten(path); err != nil || old != 0 {
		t.Errorf("Tighten of a 0600 file = %v, %v; want nothing done", old, err)
	}
	if old, err := Tighten(filepath.Join(dir, "none")); err != nil || old != 0 {
		t.Errorf("Tighten of a missing file = %v, %v", old, err)
	}
	// A link is refused, its target untouched.
	target := filepath.Join(dir, "other")
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Tighten(link); err == nil {
		t.Error("Tighten followed a symbolic link")
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != fs.FileMode(0o644) {
		t.Errorf("the link's target changed mode: %v", fi.Mode())
	}
}
