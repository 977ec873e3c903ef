package tlsconfig

import (
	"flag"

	"github.com/gimsproject/gims/internal/check"
)

// AddFlags declares the server flags of SPEC §10 on fs, filling c: both
// daemons take the same ones.
func (c *Configuration) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.CertFile, "tls-cert", c.CertFile, "serve HTTPS with this PEM certificate `file` (with -tls-key)")
	fs.StringVar(&c.KeyFile, "tls-key", c.KeyFile, "PEM private key `file` of -tls-cert")
	fs.StringVar(&c.ClientCAFile, "tls-client-ca", c.ClientCAFile, "verify client certificates against this PEM CA `file`")
	fs.BoolVar(&c.InsecurePlaintext, "insecure-plaintext", c.InsecurePlaintext, "allow plain HTTP on an address other than loopback")
}

// ValidateFlags is Validate, then CheckAddress for listen, in the terms
// of the command line: the error names the flag.
func (c Configuration) ValidateFlags(listen string) error {
	if err := c.Validate(); err != nil {
		return check.Flags(err, map[string]string{"CertFile": "tls-cert", "KeyFile": "tls-key", "ClientCAFile": "tls-client-ca"})
	}
	return c.CheckAddress(listen)
}
