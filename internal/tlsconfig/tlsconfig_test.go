package tlsconfig

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/gimsproject/gims/internal/certs"
)

// TestCheckAddress checks the refusal of plain HTTP beyond loopback.
func TestCheckAddress(t *testing.T) {
	cases := []struct {
		addr string
		cfg  Configuration
		ok   bool
	}{
		{"127.0.0.1:8080", Configuration{}, true},
		{"[::1]:8080", Configuration{}, true},
		{"localhost:8080", Configuration{}, true},
		{":8080", Configuration{}, false},
		{"0.0.0.0:8080", Configuration{}, false},
		{"192.0.2.1:8080", Configuration{}, false},
		{"tap1.example.net:8080", Configuration{}, false},
		{":8080", Configuration{InsecurePlaintext: true}, true},
		{":8080", Configuration{CertFile: "c", KeyFile: "k"}, true},
	}
	for _, tc := range cases {
		err := tc.cfg.CheckAddress(tc.addr)
		if (err == nil) != tc.ok {
			t.Errorf("CheckAddress(%q) with %+v = %v, want ok %v", tc.addr, tc.cfg, err, tc.ok)
		}
	}
}

// TestValidate checks the combinations of files.
func TestValidate(t *testing.T) {
	cases := []struct {
		cfg  Configuration
		want string
	}{
		{Configuration{}, ""},
		{Configuration{CertFile: "c", KeyFile: "k", ClientCAFile: "ca"}, ""},
		{Configuration{CertFile: "c"}, "-tls-key must be set when a certificate is given"},
		{Configuration{KeyFile: "k"}, "-tls-cert must be set when a key is given"},
		{Configuration{ClientCAFile: "ca"}, "-tls-cert must be set to verify client certificates"},
	}
	for _, tc := range cases {
		err := tc.cfg.ValidateFlags("127.0.0.1:1")
		if got := errString(err); got != tc.want {
			t.Errorf("ValidateFlags(%+v) = %q, want %q", tc.cfg, got, tc.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// pki is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written in a temporary folder.
type pki struct {
	ca, cert, key, clientCert, clientKey string
	pin                                  string
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	ca, caPair, err := certs.NewCA("test CA", 0)
	if err != nil {
		t.Fatal(err)
	}
	var p pki
	p.ca, _, err = certs.Write(dir, "ca", caPair)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Issue(certs.Request{Kind: certs.Server, CommonName: "dev", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	p.cert, p.key, _ = certs.Write(dir, "dev", srv)
	p.pin, _ = certs.Fingerprint(srv.CertPEM)
	cl, err := ca.Issue(certs.Request{Kind: certs.Client, CommonName: "gims-am"})
	if err != nil {
		t.Fatal(err)
	}
	p.clientCert, p.clientKey, _ = certs.Write(dir, "client", cl)
	return p
}

// TestRoundTrip serves HTTPS with a required client certificate and calls
// it with and without one, with a CA and with pins.
func TestRoundTrip(t *testing.T) {
	p := newPKI(t)
	other := newPKI(t)
	cfg := Configuration{CertFile: p.cert, KeyFile: p.key, ClientCAFile: p.ca}
	ln, tlsCfg, err := cfg.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{TLSConfig: tlsCfg, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	})}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	url := "https://" + ln.Addr().String() + "/"
	get := func(c Client, pin string) (string, error) {
		tc, err := c.Config()
		if err != nil {
			t.Fatal(err)
		}
		if pin != "" {
			tc = Pinned(tc, pin)
		}
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
		resp, err := hc.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if got, err := get(Client{CAFile: p.ca, CertFile: p.clientCert, KeyFile: p.clientKey}, ""); err != nil || got != "gims-am" {
		t.Errorf("with the CA and a client certificate: %q, %v", got, err)
	}
	if got, err := get(Client{CertFile: p.clientCert, KeyFile: p.clientKey}, p.pin); err != nil || got != "gims-am" {
		t.Errorf("with the pin: %q, %v", got, err)
	}
	if _, err := get(Client{CertFile: p.clientCert, KeyFile: p.clientKey}, other.pin); !errors.Is(err, ErrCertificateMismatch) || !IsCertificateError(err) {
		t.Errorf("with another pin: %v, want certificate mismatch", err)
	}
	if _, err := get(Client{CAFile: other.ca, CertFile: p.clientCert, KeyFile: p.clientKey}, ""); !IsCertificateError(err) {
		t.Errorf("with another CA: %v, want a certificate error", err)
	}
	if _, err := get(Client{CAFile: p.ca}, ""); err == nil || IsCertificateError(err) {
		t.Errorf("without a client certificate: %v, want refused by the server", err)
	}
	if _, err := get(Client{CAFile: p.ca, CertFile: other.clientCert, KeyFile: other.clientKey}, ""); err == nil {
		t.Error("a client certificate of another CA was accepted")
	}
	// A private key others may read is refused.
	if err := os.Chmod(p.key, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Server(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("Server() with a 0644 key: %v, want refused", err)
	}
	pin, err := NormalizePin(strings.ToUpper(p.pin[:2]) + ":" + p.pin[2:])
	if err != nil || pin != p.pin {
		t.Errorf("NormalizePin() = %q, %v", pin, err)
	}
}
