// Package tlsconfig holds the transport security of both daemons (SPEC
// §10): the server side (-tls-cert, -tls-key, -tls-client-ca, the refusal
// to listen in the clear anywhere but on loopback) and the client side
// (a CA to verify the peer, a client certificate to present, a pinned
// leaf certificate). It is one small package so that the daemons' HTTP
// server setup changes by two calls only: Listen, and handing its TLS
// configuration to the server.
//
// Defaults are modern: TLS 1.2 at least (1.3 preferred by Go's own
// negotiation), Go's default AEAD cipher suites and key exchanges.
package tlsconfig

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/gimsproject/gims/internal/check"
)

// Configuration is the server side of a daemon's transport security.
type Configuration struct {
	// CertFile and KeyFile are the PEM certificate (chain) and private key
	// the daemon serves HTTPS with. Both or neither.
	CertFile, KeyFile string
	// ClientCAFile is a PEM bundle of the CAs whose client certificates
	// are accepted. Needs CertFile.
	ClientCAFile string
	// ClientCertOptional accepts callers without a client certificate
	// (a certificate given must still verify). The AM sets it: users
	// without a certificate log in with their password. The capture
	// daemon requires one.
	ClientCertOptional bool
	// InsecurePlaintext allows serving plain HTTP on an address other
	// than loopback.
	InsecurePlaintext bool
}

// DefaultConfiguration is plain HTTP, allowed on loopback only.
func DefaultConfiguration() Configuration { return Configuration{} }

// Enabled tells whether the daemon serves HTTPS.
func (c Configuration) Enabled() bool { return c.CertFile != "" }

// Validate checks that the files come in working combinations.
func (c Configuration) Validate() error {
	return check.First(
		check.Set("CertFile", c.CertFile != "" || c.KeyFile == "", "set when a key is given"),
		check.Set("KeyFile", c.KeyFile != "" || c.CertFile == "", "set when a certificate is given"),
		check.Set("CertFile", c.CertFile != "" || c.ClientCAFile == "", "set to verify client certificates"),
	)
}

// Server is the tls.Config of a daemon serving HTTPS, or nil when c is
// plain HTTP. It reads the files, so a missing or bad file fails here,
// at start.
func (c Configuration) Server() (*tls.Config, error) {
	if !c.Enabled() {
		return nil, nil
	}
	if err := CheckKeyFile(c.KeyFile); err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("unable to load the TLS certificate: %w", err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if c.ClientCAFile != "" {
		pool, err := LoadPool(c.ClientCAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		if c.ClientCertOptional {
			cfg.ClientAuth = tls.VerifyClientCertIfGiven
		}
	}
	return cfg, nil
}

// Listen listens on addr (TCP) and returns the TLS configuration to
// serve it with, nil for plain HTTP: the server puts TLS above its own
// connection limits (httpserver.Server.UseTLS). Plain HTTP on an address
// that is not loopback is refused unless InsecurePlaintext; the files are
// read before anything listens.
func (c Configuration) Listen(addr string) (net.Listener, *tls.Config, error) {
	if err := c.CheckAddress(addr); err != nil {
		return nil, nil, err
	}
	cfg, err := c.Server()
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("unable to listen: %w", err)
	}
	return ln, cfg, nil
}

// CheckAddress refuses plain HTTP on an address that is not loopback
// (":8080", "0.0.0.0:8080", "192.0.2.1:8080", a host name other than
// localhost) unless InsecurePlaintext.
func (c Configuration) CheckAddress(addr string) error {
	if c.Enabled() || c.InsecurePlaintext || IsLoopback(addr) {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s in plain HTTP: secrets would cross the network in the clear; give -tls-cert and -tls-key, or -insecure-plaintext", addr)
}

// IsLoopback tells whether addr (host:port) only listens on loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckKeyFile refuses a private key file that its group or others may
// read or write: a key readable by others is no longer private.
func CheckKeyFile(file string) error {
	st, err := os.Stat(file)
	if err != nil {
		return fmt.Errorf("unable to read the private key: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("private key %s has mode %04o: others may read it; chmod 600 %s", file, perm, file)
	}
	return nil
}

// LoadPool reads a PEM bundle of CA certificates.
func LoadPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("unable to read the CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("no PEM certificate in %s", file)
	}
	return pool, nil
}

// Client is the client side: how a daemon verifies the server it calls
// and which certificate it presents.
type Client struct {
	// CAFile is a PEM bundle of the CAs that sign the servers'
	// certificates; empty means the system's roots.
	CAFile string
	// CertFile and KeyFile are the client certificate presented to the
	// server, both or neither.
	CertFile, KeyFile string
}

// Validate checks that the files come in working combinations.
func (c Client) Validate() error {
	return check.First(
		check.Set("CertFile", c.CertFile != "" || c.KeyFile == "", "set when a key is given"),
		check.Set("KeyFile", c.KeyFile != "" || c.CertFile == "", "set when a certificate is given"),
	)
}

// Config reads the files into a tls.Config for clients (nil error and a
// usable config even when every field is empty: system roots, no client
// certificate).
func (c Client) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pool, err := LoadPool(c.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" {
		if err := CheckKeyFile(c.KeyFile); err != nil {
			return nil, err
		}
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("unable to load the client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// ErrCertificateMismatch is a peer whose certificate is not the pinned
// one, or does not verify against the CA.
var ErrCertificateMismatch = errors.New("certificate mismatch")

// Fingerprint is the pin of a certificate: SHA-256 of its DER, lower-case
// hex (what `openssl x509 -fingerprint -sha256` shows, without colons).
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// NormalizePin lower-cases a pin and drops the colons of openssl's form;
// it returns an error unless the result is 64 hex digits.
func NormalizePin(pin string) (string, error) {
	p := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(pin), ":", ""))
	if b, err := hex.DecodeString(p); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("cert_sha256 must be 64 hex digits (SHA-256 of the certificate), got %q", pin)
	}
	return p, nil
}

// Pinned returns a copy of base that accepts exactly the server whose
// leaf certificate has the SHA-256 pin (hex, as NormalizePin returns it),
// instead of verifying a chain: a device with a self-signed certificate
// is known by its fingerprint, like an SSH host key.
func Pinned(base *tls.Config, pin string) *tls.Config {
	cfg := base.Clone()
	cfg.InsecureSkipVerify = true // replaced by the pin check below
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 || Fingerprint(cs.PeerCertificates[0].Raw) != pin {
			return ErrCertificateMismatch
		}
		return nil
	}
	return cfg
}

// IsCertificateError tells whether err is a failed verification of the
// peer's certificate (unknown authority, wrong name, expired, pin): the
// connection was closed during the handshake and nothing was sent.
func IsCertificateError(err error) bool {
	if errors.Is(err, ErrCertificateMismatch) {
		return true
	}
	var (
		ua   x509.UnknownAuthorityError
		hn   x509.HostnameError
		ci   x509.CertificateInvalidError
		cv   *tls.CertificateVerificationError
		uaPt *x509.UnknownAuthorityError
	)
	return errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) ||
		errors.As(err, &cv) || errors.As(err, &uaPt)
}
