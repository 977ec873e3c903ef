package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCerts makes a CA and every kind of certificate with gimsctl certs
// and checks them with openssl verify (make deps installs openssl; in CI
// a missing tool fails the run).
func TestCerts(t *testing.T) {
	dir := t.TempDir()
	steps := [][]string{
		{"certs", "create-ca", "-dir", dir},
		{"certs", "create-device", "-dir", dir, "-name", "tap1", "-hosts", "localhost,127.0.0.1"},
		{"certs", "create-am-client", "-dir", dir},
		{"certs", "create-user", "alice", "-dir", dir, "-uri", "urn:publicid:IDN+example.net+user+alice"},
	}
	for _, args := range steps {
		code, stdout, stderr := runCtl(t, nil, args...)
		if code != exitOK || !strings.Contains(stdout, "cert_sha256 ") {
			t.Fatalf("gimsctl %v: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl is not installed (make deps installs it)")
		}
		t.Skip("openssl is not installed")
	}
	for _, c := range []struct{ base, purpose string }{{"tap1", "sslserver"}, {"am-client", "sslclient"}, {"user-alice", "sslclient"}} {
		out, err := exec.Command(openssl, "verify", "-purpose", c.purpose, "-CAfile", filepath.Join(dir, "ca.crt"),
			filepath.Join(dir, c.base+".crt")).CombinedOutput()
		if err != nil {
			t.Errorf("openssl verify %s: %v\n%s", c.base, err, out)
		}
		if st, err := os.Stat(filepath.Join(dir, c.base+".key")); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s.key: %v, mode %v", c.base, err, st.Mode().Perm())
		}
	}
	// The CA is never overwritten; a device certificate needs a CA.
	if code, _, stderr := runCtl(t, nil, "certs", "create-ca", "-dir", dir); code != exitError || !strings.Contains(stderr, "exists") {
		t.Errorf("create-ca over an existing CA: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCtl(t, nil, "certs", "create-device", "-dir", t.TempDir()); code != exitUsage || !strings.Contains(stderr, "create-ca first") {
		t.Errorf("create-device without a CA: exit %d, %q", code, stderr)
	}
}
