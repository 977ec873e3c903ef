package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestKeysRealAM: create-key, list-keys (an admin sees every key with
// its users, an experimenter only the names and fingerprints of the keys
// it may use), configure-experiment -anonymize-key (refused for a key the
// owner may not use, naming it; the settings then show the key's name and
// fingerprint) and delete-key (refused with fault 2 while the configured
// experiment uses the key), against a real manager.
func TestKeysRealAM(t *testing.T) {
	a := newFixture(t) // experiment 1, alice's
	ctl := func(user string, args ...string) (int, string, string) {
		t.Helper()
		return runCtl(t, nil, append([]string{"-url", a.url, "-user", user}, args...)...)
	}
	code, out, errOut := ctl(adminUser, "create-key", "-name", "lab", "-users", "alice")
	if code != exitOK {
		t.Fatalf("create-key: exit %d, %s", code, errOut)
	}
	fp := regexp.MustCompile(`(?m)^fingerprint: +([0-9a-f]{8})\b`).FindStringSubmatch(out)
	if fp == nil || !strings.Contains(out, "lab") || !strings.Contains(out, "alice") {
		t.Fatalf("create-key printed:\n%s", out)
	}
	if code, _, errOut := ctl(adminUser, "create-key", "-name", "bobs", "-users", "bob"); code != exitOK {
		t.Fatalf("create-key bobs: exit %d, %s", code, errOut)
	}
	code, out, _ = ctl(adminUser, "list-keys")
	if code != exitOK || !strings.Contains(out, "USERS") || !strings.Contains(out, "bobs") ||
		!regexp.MustCompile(`(?m)^lab +`+fp[1]+` .* alice `).MatchString(out) {
		t.Errorf("list-keys as admin: exit %d\n%s", code, out)
	}
	code, out, _ = ctl(aliceUser, "list-keys")
	if code != exitOK || strings.Contains(out, "USERS") || strings.Contains(out, "bobs") ||
		!regexp.MustCompile(`(?m)^lab +`+fp[1]+` `).MatchString(out) {
		t.Errorf("list-keys as alice: exit %d\n%s", code, out)
	}
	code, _, errOut = ctl(aliceUser, "configure-experiment", "1", "-anonymize-key", "bobs")
	if code != exitError || !strings.HasPrefix(errOut, "gimsctl: ConfigureExperiment: fault 4: ") || !strings.Contains(errOut, `"bobs"`) {
		t.Errorf("configure with bob's key: exit %d, %q", code, errOut)
	}
	code, out, errOut = ctl(aliceUser, "configure-experiment", "1", "-anonymize-key", "lab", "-counters")
	if code != exitOK || !regexp.MustCompile(`(?m)^ *anonymize\.key: +lab$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^ *anonymize\.secret_fingerprint: +`+fp[1]+`$`).MatchString(out) {
		t.Errorf("configure with lab: exit %d, %s\n%s", code, errOut, out)
	}
	code, _, errOut = ctl(adminUser, "delete-key", "lab")
	if code != exitError || !strings.HasPrefix(errOut, "gimsctl: DeleteKey: fault 2: ") || !strings.Contains(errOut, "experiment 1 (configured)") {
		t.Errorf("delete-key while in use: exit %d, %q", code, errOut)
	}
	if code, _, errOut := ctl(aliceUser, "delete-key", "bobs"); code != exitError || !strings.Contains(errOut, "fault 4") {
		t.Errorf("delete-key by alice: exit %d, %q", code, errOut)
	}
	code, out, errOut = ctl(adminUser, "delete-key", "bobs")
	if code != exitOK || !strings.Contains(out, "bobs") {
		t.Errorf("delete-key bobs: exit %d, %s", code, errOut)
	}
}
