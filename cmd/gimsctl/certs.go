package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gimsproject/gims/internal/certs"
)

// certsUsage is the help of `gimsctl certs`.
const certsUsage = `usage: gimsctl certs SUBCOMMAND [flags]

Makes the certificates of SPEC §10 (ECDSA P-256; private keys 0600, never
overwritten) in -dir (default certs):

  create-ca                 ca.crt, ca.key: the CA that signs the others
  create-device [-name N] [-hosts H,...]
                            N.crt, N.key (default N: device): a server certificate
                            for gims-capd or gims-am (-tls-cert, -tls-key), with
                            -hosts (default: this host's names and addresses) as SANs;
                            prints its cert_sha256 pin
  create-am-client          am-client.crt, am-client.key: the AM's client certificate
                            for the devices (gims-am -device-cert, -device-key)
  create-user NAME [-uri U] user-NAME.crt, user-NAME.key: a client certificate whose
                            CN is NAME, with U (such as a GENI URN) as SAN URI

Common flags: -dir DIR, -ca-cert FILE and -ca-key FILE (default DIR/ca.crt,
DIR/ca.key), -days N (lifetime; default 3650 for the CA, 730 for the others).
`

// runCerts runs `gimsctl certs SUBCOMMAND`.
func runCerts(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" {
		fmt.Fprint(stdout, certsUsage)
		if len(args) == 0 {
			return usagef("certs: missing subcommand")
		}
		return nil
	}
	sub := args[0]
	fs := flag.NewFlagSet("certs "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("dir", "certs", "folder of the certificates")
	caCert := fs.String("ca-cert", "", "CA certificate (default DIR/ca.crt)")
	caKey := fs.String("ca-key", "", "CA private key (default DIR/ca.key)")
	days := fs.Int("days", 0, "lifetime in days")
	name := fs.String("name", "device", "create-device: base name of the files and CN")
	hosts := fs.String("hosts", "", "create-device: comma-separated host names and addresses (default: this host's)")
	cn := fs.String("cn", "GIMS CA", "create-ca: the CA's name")
	uri := fs.String("uri", "", "create-user: a SAN URI such as a GENI URN")
	pos, err := parseInterspersed(fs, args[1:], false)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, certsUsage)
		return nil
	}
	if err != nil {
		return usagef("certs %s: %v", sub, err)
	}
	if *days < 0 {
		return usagef("certs %s: -days must be positive, got %d", sub, *days)
	}
	lifetime := time.Duration(*days) * 24 * time.Hour
	wantArgs := 0
	if sub == "create-user" {
		wantArgs = 1
	}
	if len(pos) != wantArgs {
		return usagef("certs %s: wrong number of arguments", sub)
	}
	if sub == "create-ca" {
		_, pair, err := certs.NewCA(*cn, lifetime)
		if err != nil {
			return err
		}
		return writePair(stdout, *dir, "ca", pair)
	}
	if *caCert == "" {
		*caCert = filepath.Join(*dir, "ca.crt")
	}
	if *caKey == "" {
		*caKey = filepath.Join(*dir, "ca.key")
	}
	var (
		req  certs.Request
		base string
	)
	switch sub {
	case "create-device":
		base = *name
		req = certs.Request{Kind: certs.Server, CommonName: *name}
		if *hosts == "" {
			req.DNSNames, req.IPs = certs.HostNames()
		} else {
			for _, h := range splitList(*hosts) {
				if ip := net.ParseIP(h); ip != nil {
					req.IPs = append(req.IPs, ip)
				} else {
					req.DNSNames = append(req.DNSNames, h)
				}
			}
		}
	case "create-am-client":
		base = "am-client"
		req = certs.Request{Kind: certs.Client, CommonName: "gims-am"}
	case "create-user":
		user := pos[0]
		if user == "" || strings.ContainsAny(user, "/\\ ") {
			return usagef("certs create-user: %q is not a user name", user)
		}
		base = "user-" + user
		req = certs.Request{Kind: certs.Client, CommonName: user}
		if *uri != "" {
			u, err := url.Parse(*uri)
			if err != nil || u.Scheme == "" {
				return usagef("certs create-user: -uri %q is not a URI", *uri)
			}
			req.URIs = []*url.URL{u}
		}
	default:
		return usagef("certs: unknown subcommand %q", sub)
	}
	if _, err := os.Stat(*caKey); err != nil {
		return usagef("certs %s: no CA at %s (run gimsctl certs create-ca first)", sub, *caKey)
	}
	ca, err := certs.LoadCA(*caCert, *caKey)
	if err != nil {
		return err
	}
	req.Lifetime = lifetime
	pair, err := ca.Issue(req)
	if err != nil {
		return err
	}
	return writePair(stdout, *dir, base, pair)
}

// writePair writes a pair and says where, with the certificate's pin.
func writePair(stdout io.Writer, dir, base string, pair certs.Pair) error {
	certFile, keyFile, err := certs.Write(dir, base, pair)
	if err != nil {
		return err
	}
	pin, err := certs.Fingerprint(pair.CertPEM)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "certificate %s\nprivate key %s (0600)\ncert_sha256 %s\n", certFile, keyFile, pin)
	return nil
}
