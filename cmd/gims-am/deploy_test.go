package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSystemdUnits checks deploy/'s units with systemd-analyze: verify
// (syntax, directives, the binaries they run, here the test's builds)
// reports nothing, and the offline security analysis rates both at most
// 3.0 ("OK"). The capture daemon runs as a dynamic user with CAP_NET_RAW
// and CAP_NET_ADMIN only.
func TestSystemdUnits(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("systemd-analyze is required in CI")
		}
		t.Skip("systemd-analyze not installed")
	}
	dir := t.TempDir()
	for _, name := range []string{"gims-am", "gims-capd"} {
		unit, err := os.ReadFile(filepath.Join("..", "..", "deploy", name+".service"))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(unit), "/usr/local/bin/"+name, bins[name])
		path := filepath.Join(dir, name+".service")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(analyze, "verify", path).CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", name, err, out)
		}
		out, _ = exec.Command(analyze, "security", "--offline=true", "--no-pager", path).CombinedOutput()
		m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("systemd-analyze security %s:\n%s", name, out)
		}
		if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 3.0 {
			t.Errorf("%s: exposure level %.1f, want at most 3.0:\n%s", name, level, out)
		}
		for _, want := range []string{"DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict"} {
			if !strings.Contains(text, "\n"+want+"\n") {
				t.Errorf("%s.service lacks %s", name, want)
			}
		}
	}
	capd, _ := os.ReadFile(filepath.Join(dir, "gims-capd.service"))
	if !strings.Contains(string(capd), "\nCapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN\n") {
		t.Error("gims-capd.service: want CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN only")
	}
}
