// Package certs makes the X.509 certificates of a GIMS installation
// (SPEC §10) with the standard library only, so that an operator is not
// left with openssl recipes: a CA, the server certificate of a capture
// daemon (or of the AM), the AM's client certificate for the devices, and
// users' client certificates. Keys are ECDSA P-256; private keys are
// written 0600 and never overwritten. It is what `gimsctl certs` runs, in
// the spirit of `cockroach cert` and `consul tls`.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// Default lifetimes: a CA lives long (replacing it means reissuing every
// certificate), a leaf two years.
const (
	CALifetime   = 10 * 365 * 24 * time.Hour
	LeafLifetime = 2 * 365 * 24 * time.Hour
)

// Kind is what a leaf certificate is for; it sets the extended key usage.
type Kind int

// The kinds of leaf certificate.
const (
	// Server is a daemon's HTTPS certificate (serverAuth), with the
	// host's names and addresses as SANs.
	Server Kind = iota
	// Client is a client certificate (clientAuth): the AM's for the
	// devices, or a user's whose CN names them.
	Client
)

// Request describes a leaf certificate.
type Request struct {
	Kind       Kind
	CommonName string
	DNSNames   []string
	IPs        []net.IP
	URIs       []*url.URL
	// Lifetime is how long it is valid (LeafLifetime when zero).
	Lifetime time.Duration
}

// Authority is a CA that issues certificates.
type Authority struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// Pair is a PEM certificate and its PEM private key.
type Pair struct {
	CertPEM, KeyPEM []byte
}

// NewCA makes a self-signed CA certificate named cn.
func NewCA(cn string, lifetime time.Duration) (*Authority, Pair, error) {
	if lifetime <= 0 {
		lifetime = CALifetime
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, Pair{}, fmt.Errorf("unable to generate the CA key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, Pair{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"GIMS"}},
		NotBefore:             now.Add(-time.Hour), // clock skew between machines
		NotAfter:              now.Add(lifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, Pair{}, fmt.Errorf("unable to make the CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, Pair{}, err
	}
	pair, err := encode(der, key)
	return &Authority{Cert: cert, Key: key}, pair, err
}

// LoadCA reads a CA made by NewCA (PEM certificate and key files).
func LoadCA(certFile, keyFile string) (*Authority, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("unable to load the CA: %w", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("unable to load the CA: %w", err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || !cert.IsCA {
		return nil, fmt.Errorf("%s is not an ECDSA CA certificate", certFile)
	}
	return &Authority{Cert: cert, Key: key}, nil
}

// Issue makes a leaf certificate signed by a.
func (a *Authority) Issue(r Request) (Pair, error) {
	if r.CommonName == "" {
		return Pair{}, errors.New("a certificate needs a common name")
	}
	if r.Kind == Server && len(r.DNSNames) == 0 && len(r.IPs) == 0 {
		return Pair{}, errors.New("a server certificate needs at least one host name or address")
	}
	if r.Lifetime <= 0 {
		r.Lifetime = LeafLifetime
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, fmt.Errorf("unable to generate a key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return Pair{}, err
	}
	now := time.Now()
	notAfter := now.Add(r.Lifetime)
	if notAfter.After(a.Cert.NotAfter) {
		notAfter = a.Cert.NotAfter
	}
	usage := x509.ExtKeyUsageServerAuth
	if r.Kind == Client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: r.CommonName, Organization: []string{"GIMS"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{usage},
		BasicConstraintsValid: true,
		DNSNames:              r.DNSNames,
		IPAddresses:           r.IPs,
		URIs:                  r.URIs,
		AuthorityKeyId:        a.Cert.SubjectKeyId,
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Cert, &key.PublicKey, a.Key)
	if err != nil {
		return Pair{}, fmt.Errorf("unable to make the certificate: %w", err)
	}
	return encode(der, key)
}

// HostNames are the default SANs of a server certificate for this
// machine: its host name, localhost, and every address of its interfaces.
func HostNames() ([]string, []net.IP) {
	names := []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		names = append(names, h)
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
				ips = append(ips, n.IP)
			}
		}
	}
	return names, ips
}

// Write stores a pair as dir/base.crt (0644) and dir/base.key (0600),
// refusing to overwrite either file. It returns the two paths.
func Write(dir, base string, p Pair) (certFile, keyFile string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("unable to make %s: %w", dir, err)
	}
	certFile, keyFile = filepath.Join(dir, base+".crt"), filepath.Join(dir, base+".key")
	for _, f := range []string{certFile, keyFile} {
		if _, err := os.Lstat(f); err == nil {
			return "", "", fmt.Errorf("%s exists; remove it first to replace it", f)
		}
	}
	if err := writeNew(keyFile, p.KeyPEM, 0o600); err != nil {
		return "", "", err
	}
	if err := writeNew(certFile, p.CertPEM, 0o644); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// writeNew creates file with mode (O_EXCL: never through an existing
// file or link) and writes b.
func writeNew(file string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("unable to create %s: %w", file, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("unable to write %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("unable to write %s: %w", file, err)
	}
	return nil
}

// Fingerprint is the SHA-256 of a PEM certificate's DER in hex: the
// cert_sha256 pin of a device record.
func Fingerprint(certPEM []byte) (string, error) {
	b, _ := pem.Decode(certPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		return "", errors.New("no PEM certificate")
	}
	sum := sha256.Sum256(b.Bytes)
	return fmt.Sprintf("%x", sum[:]), nil
}

// encode PEM-encodes a certificate and its key (PKCS #8).
func encode(der []byte, key *ecdsa.PrivateKey) (Pair, error) {
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Pair{}, fmt.Errorf("unable to encode the key: %w", err)
	}
	return Pair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}),
	}, nil
}

// serialNumber is a random 128-bit serial (RFC 5280: positive, at most
// 20 octets).
func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("unable to make a serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// keyID is the subject key identifier: SHA-1-sized prefix of the SHA-256
// of the public key (RFC 7093 method 1).
func keyID(pub *ecdsa.PublicKey) []byte {
	b, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(b)
	return sum[:20]
}
