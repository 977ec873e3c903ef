package certs

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestIssue checks that every kind of certificate verifies against its CA
// for its use, with crypto/x509 and with openssl, and that keys are 0600.
func TestIssue(t *testing.T) {
	dir := t.TempDir()
	ca, caPair, err := NewCA("GIMS test CA", 0)
	if err != nil {
		t.Fatal(err)
	}
	caFile, caKey, err := Write(dir, "ca", caPair)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadCA(caFile, caKey)
	if err != nil {
		t.Fatalf("LoadCA() error: %v", err)
	}
	urn, _ := url.Parse("urn:publicid:IDN+example.net+user+alice")
	cases := []struct {
		name  string
		req   Request
		usage x509.ExtKeyUsage
		host  string
	}{
		{"device", Request{Kind: Server, CommonName: "tap1", DNSNames: []string{"localhost", "tap1.example.net"},
			IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}, x509.ExtKeyUsageServerAuth, "127.0.0.1"},
		{"am-client", Request{Kind: Client, CommonName: "gims-am"}, x509.ExtKeyUsageClientAuth, ""},
		{"user-alice", Request{Kind: Client, CommonName: "alice", URIs: []*url.URL{urn}}, x509.ExtKeyUsageClientAuth, ""},
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := loaded.Issue(tc.req)
			if err != nil {
				t.Fatalf("Issue() error: %v", err)
			}
			certFile, keyFile, err := Write(dir, tc.name, p)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := pem.Decode(p.CertPEM)
			cert, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: tc.host,
				KeyUsages: []x509.ExtKeyUsage{tc.usage}}); err != nil {
				t.Errorf("Verify() error: %v", err)
			}
			other := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			if tc.usage == x509.ExtKeyUsageServerAuth {
				other = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: other}); err == nil {
				t.Errorf("certificate verifies for %v too", other)
			}
			if cert.Subject.CommonName != tc.req.CommonName || cert.IsCA || cert.NotAfter.Sub(cert.NotBefore) > LeafLifetime+2*3600e9 {
				t.Errorf("certificate CN %q, CA %v, lifetime %v", cert.Subject.CommonName, cert.IsCA, cert.NotAfter.Sub(cert.NotBefore))
			}
			st, err := os.Stat(keyFile)
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("key file mode %v, %v; want 0600", st.Mode().Perm(), err)
			}
			purpose := "sslserver"
			if tc.usage == x509.ExtKeyUsageClientAuth {
				purpose = "sslclient"
			}
			out, err := exec.Command(openssl(t), "verify", "-purpose", purpose, "-CAfile", caFile, certFile).CombinedOutput()
			if err != nil || !strings.Contains(string(out), ": OK") {
				t.Errorf("openssl verify: %v\n%s", err, out)
			}
		})
	}
	if _, _, err := Write(dir, "ca", caPair); err == nil {
		t.Error("Write() overwrote an existing key")
	}
	if st, err := os.Stat(filepath.Join(dir, "ca.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("CA key mode: %v", err)
	}
	if _, err := loaded.Issue(Request{Kind: Server, CommonName: "x"}); err == nil {
		t.Error("Issue() made a server certificate without names")
	}
}

// openssl finds the openssl tool; make deps installs it (APT_PKGS), and
// in CI a missing tool fails rather than skips.
func openssl(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl is not installed (make deps installs it)")
		}
		t.Skip("openssl is not installed")
	}
	return p
}
