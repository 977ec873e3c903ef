package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// capd is the gims-capd binary built once for the tests that run it as a
// process, as users do.
var capd string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gims-capd-test")
	if err != nil {
		panic(err)
	}
	capd = filepath.Join(dir, "gims-capd")
	args := []string{"build", "-o", capd}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("building gims-capd: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runCapd runs the binary and returns its exit status and stderr.
func runCapd(t *testing.T, stdin []byte, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(capd, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stderr.String()
	}
	t.Fatalf("run gims-capd %v: %v", args, err)
	return -1, ""
}

func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI (make test installs it): %v", name, err)
		}
		t.Skipf("%s not installed; make test installs it", name)
	}
}

var samplePcap = filepath.Join("testdata", "pcaps", "zeek__http-get.pcap")

func TestOfflineExitStatus(t *testing.T) {
	tmp := t.TempDir()
	cases := []struct {
		name     string
		args     []string
		want     int
		stderrRe string // substring expected on stderr
	}{
		{"ok", []string{"-r", samplePcap, "-ipfix", filepath.Join(tmp, "f.ipfix")}, 0, "14 packets"},
		{"bad filter", []string{"-r", samplePcap, "-filter", "tcp and and"}, 2, "syntax error"},
		{"unknown flag", []string{"-r", samplePcap, "-nope"}, 2, "flag provided but not defined: -nope"},
		{"stray argument", []string{"-r", samplePcap, "extra"}, 2, `unexpected argument "extra"`},
		{"missing file", []string{"-r", filepath.Join(tmp, "absent.pcap")}, 2, "no such file"},
		{"not a pcap", []string{"-r", "main_test.go"}, 2, "as pcap or pcapng"},
		{"short key", []string{"-r", samplePcap, "-anonymize-key", "abcd"}, 2, "64 hex digits"},
		{"key and secret", []string{"-r", samplePcap, "-anonymize-key", strings.Repeat("ab", 32), "-anonymize-secret", "x"}, 2, "exclusive"},
		{"bad payload", []string{"-r", samplePcap, "-anonymize-secret", "x", "-payload", "cut"}, 2, `gims-capd: -payload must be strip, zero or keep, got "cut"`},
		{"bad mac", []string{"-r", samplePcap, "-anonymize-secret", "x", "-mac", "hash"}, 2, `gims-capd: -mac must be keyed, zero or keep, got "hash"`},
		{"payload without key", []string{"-r", samplePcap, "-payload", "keep"}, 2, "-payload and -mac need -anonymize-key or -anonymize-secret"},
		{"mac without key", []string{"-r", samplePcap, "-mac", "zero"}, 2, "-payload and -mac need -anonymize-key or -anonymize-secret"},
		{"sanitized summary", []string{"-r", samplePcap, "-anonymize-secret", "x", "-w", filepath.Join(tmp, "s.pcap")}, 0, "; 0 sanitized_drops"},
		{"bad collector", []string{"-r", samplePcap, "-collector", "http://127.0.0.1:1"}, 2, "-collector"},
		{"bad interval", []string{"-r", samplePcap, "-counters", filepath.Join(tmp, "c.csv"), "-counter-interval", "0s"}, 2, "-counter-interval"},
		{"collector down", []string{"-r", samplePcap, "-collector", "tcp://127.0.0.1:1"}, 1, "2 of 2 flow records could not be sent to tcp://127.0.0.1:1"},
		{"bad collectors", []string{"-data", tmp, "-collectors", "127.0.0.0/8,10.0.0.0/99"}, 2, `invalid value "127.0.0.0/8,10.0.0.0/99" for flag -collectors: "10.0.0.0/99" is neither a network (CIDR) nor an address`},
		{"unwritable output", []string{"-r", samplePcap, "-w", filepath.Join(tmp, "no", "such", "dir.pcap")}, 1, "unable to create output"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr := runCapd(t, nil, tc.args...)
			if code != tc.want {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, tc.want, stderr)
			}
			if !strings.Contains(stderr, tc.stderrRe) {
				t.Errorf("stderr %q does not mention %q", stderr, tc.stderrRe)
			}
			if tc.want == exitUsage {
				if lines := strings.Count(strings.TrimRight(stderr, "\n"), "\n") + 1; lines != 1 {
					t.Errorf("usage error printed %d lines, want one:\n%s", lines, stderr)
				}
			}
		})
	}
}

func TestOfflineStdin(t *testing.T) {
	data, err := os.ReadFile(samplePcap)
	if err != nil {
		t.Fatal(err)
	}
	code, stderr := runCapd(t, data, "-r", "-", "-counters", filepath.Join(t.TempDir(), "c.csv"))
	if code != 0 || !strings.Contains(stderr, "14 packets") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}
