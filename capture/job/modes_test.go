package job

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestStateFileModes is issue 20 finding 7 on the device: job.json holds
// the Crypto-PAn key while the job is not done; it is written 0600 in a
// 0700 folder, and one left readable by others (an older version, a
// restored backup) is made private at the next Start, with a warning.
func TestStateFileModes(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	start := func(logs *lockedBuffer) *Manager {
		cfg := DefaultConfiguration()
		cfg.DataDir, cfg.PcapDir = dir, "testdata/pcaps"
		cfg.Logger = newTeeLogger(t, logs)
		m, err := New(cfg, Dependencies{})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := start(&lockedBuffer{})
	key := bytes.Repeat([]byte{0x5a}, 32)
	id, err := m.StartJob(Spec{Interface: "file:tcpreplay__test.pcap", Counters: &CountersSpec{}, Key: key,
		ReplaySpeed: 0.001})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.PauseJob(id); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(m.jobsDir, id, stateFile)
	mode := func(path string) os.FileMode {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	if got := mode(state); got != 0o600 {
		t.Errorf("job.json written with mode %04o, want 0600", got)
	}
	for _, d := range []string{m.jobsDir, filepath.Join(m.jobsDir, id)} {
		if got := mode(d); got != 0o700 {
			t.Errorf("%s: mode %04o, want 0700", d, got)
		}
	}
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(state); !bytes.Contains(data, []byte(`"sealed_key"`)) {
		t.Fatalf("a paused job's state holds no sealed key; the test needs one:\n%s", data)
	}
	if err := os.Chmod(state, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(m.jobsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	m = start(&logs)
	defer m.Stop()
	if got := mode(state); got != 0o600 {
		t.Errorf("job.json left with mode %04o after Start, want 0600", got)
	}
	if got := mode(m.jobsDir); got != 0o700 {
		t.Errorf("jobs folder left with mode %04o after Start, want 0700", got)
	}
	if !strings.Contains(logs.String(), "job state was readable by others") ||
		!strings.Contains(logs.String(), "job directory was open to others") {
		t.Errorf("no warnings about the fixed modes:\n%s", logs.String())
	}
}
