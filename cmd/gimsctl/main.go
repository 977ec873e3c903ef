// Command gimsctl is the command-line client of the GIMS aggregate manager
// (gims-am): every XML-RPC method of SPEC §3 as a subcommand, with human
// tables by default and the decoded reply as JSON with -json.
//
//	gimsctl [-url URL] [-user NAME] [-json] [-timeout D] SUBCOMMAND [flags] [args]
//
// The password comes from the environment (GIMS_PASSWORD), never from the
// command line, so it does not show in ps or in shell history.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/internal/tlsconfig"
	"github.com/gimsproject/gims/xmlrpc"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // a fault or a network error
	exitUsage = 2 // bad command line
)

// Defaults of the global flags.
const (
	defaultURL     = "http://127.0.0.1:8080/RPC2"
	defaultUser    = "admin"
	defaultTimeout = 30 * time.Second
)

// Environment variables gimsctl reads.
const (
	envURL      = "GIMS_URL"
	envUser     = "GIMS_USER"
	envPassword = "GIMS_PASSWORD"
	envCA       = "GIMS_CA"
	envCert     = "GIMS_CERT"
	envKey      = "GIMS_KEY"
)

// usageError is a bad command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// options are the global flags and what comes from the environment.
type options struct {
	url      string // AM endpoint, without credentials
	user     string
	password string // from GIMS_PASSWORD or the URL; never printed
	json     bool
	timeout  time.Duration
	// tls is how an https URL's server is verified (-ca) and the client
	// certificate presented (-cert, -key): one that names a user logs in
	// without a password (SPEC §10).
	tls tlsconfig.Client
}

// client calls the AM with the options' endpoint and credentials.
type client struct {
	opts   options
	http   *http.Client
	getenv func(string) string
	stderr io.Writer
}

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is gimsctl: it parses args (without the program name), runs the
// subcommand and returns the exit status. getenv supplies the environment
// (GIMS_URL, GIMS_USER, GIMS_PASSWORD and the variables the subcommands
// name); replies go to stdout, errors to stderr as one line.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	err := runErr(args, getenv, stdout, stderr)
	var usage usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "gimsctl: %v\n", err)
		fmt.Fprintln(stderr, "run 'gimsctl -h' for usage")
		return exitUsage
	default:
		fmt.Fprintf(stderr, "gimsctl: %v\n", err)
		return exitError
	}
}

// runErr parses the global flags and dispatches to the subcommand.
func runErr(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmds := commands()
	opts, rest, err := parseGlobal(args, getenv, cmds, stdout)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return usagef("missing subcommand")
	}
	name := rest[0]
	if name == "certs" {
		return runCerts(rest[1:], stdout)
	}
	if name == "help" {
		if len(rest) > 1 {
			if c := findCommand(cmds, rest[1]); c != nil {
				fs, _ := c.flagSet(&opts, getenv)
				fs.SetOutput(stdout)
				fs.Usage()
				return nil
			}
			return usagef("unknown subcommand %q", rest[1])
		}
		printUsage(stdout, cmds)
		return nil
	}
	c := findCommand(cmds, name)
	if c == nil {
		return usagef("unknown subcommand %q", name)
	}
	fs, build := c.flagSet(&opts, getenv)
	fs.SetOutput(io.Discard)
	pos, err := parseInterspersed(fs, rest[1:], c.noIntersperse)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return err
	}
	if err != nil {
		return usagef("%s: %v", c.name, err)
	}
	if c.nargs >= 0 && len(pos) != c.nargs || c.nargs < 0 && len(pos) < -c.nargs-1 {
		return usagef("%s: wrong number of arguments (usage: gimsctl %s)", c.name, c.synopsis())
	}
	inv, err := build(pos)
	if err != nil {
		var usage usageError
		if errors.As(err, &usage) {
			return usagef("%s: %v", c.name, err)
		}
		return fmt.Errorf("%s: %w", c.name, err)
	}
	hc, err := opts.httpClient()
	if err != nil {
		return err
	}
	cl := &client{
		opts:   opts,
		http:   hc,
		getenv: getenv,
		stderr: stderr,
	}
	return c.execute(cl, inv, stdout)
}

// parseGlobal parses the flags before the subcommand, with defaults from
// the environment, and returns the rest of the command line.
func parseGlobal(args []string, getenv func(string) string, cmds []*command, stdout io.Writer) (options, []string, error) {
	opts := options{
		url:     orDefault(getenv(envURL), defaultURL),
		user:    orDefault(getenv(envUser), defaultUser),
		timeout: defaultTimeout,
		tls:     tlsconfig.Client{CAFile: getenv(envCA), CertFile: getenv(envCert), KeyFile: getenv(envKey)},
	}
	fs := flag.NewFlagSet("gimsctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addGlobalFlags(fs, &opts)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout, cmds)
			return opts, nil, err
		}
		return opts, nil, usageError{err.Error()}
	}
	if err := opts.finish(getenv); err != nil {
		return opts, nil, err
	}
	return opts, fs.Args(), nil
}

// addGlobalFlags registers the global flags on fs.
func addGlobalFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.url, "url", o.url, "XML-RPC endpoint of gims-am (env "+envURL+")")
	fs.StringVar(&o.user, "user", o.user, "user name for HTTP Basic authentication (env "+envUser+"); the password comes from "+envPassword)
	fs.BoolVar(&o.json, "json", o.json, "print the decoded reply as indented JSON instead of tables")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "timeout of each request")
	fs.StringVar(&o.tls.CAFile, "ca", o.tls.CAFile, "verify an https AM against this PEM CA `file` (env "+envCA+"; default: the system's)")
	fs.StringVar(&o.tls.CertFile, "cert", o.tls.CertFile, "PEM client certificate `file` (env "+envCert+"); one that names a user needs no password")
	fs.StringVar(&o.tls.KeyFile, "key", o.tls.KeyFile, "PEM private key `file` of -cert (env "+envKey+")")
}

// finish checks the global options and takes the password from the
// environment, or from the URL's user information (which is then removed
// from the URL so that it never shows in an error message).
func (o *options) finish(getenv func(string) string) error {
	u, err := url.Parse(o.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("-url %q: want http://host:port/RPC2 or https://…", redactURL(o.url))
	}
	o.password = getenv(envPassword)
	if u.User != nil {
		o.user = u.User.Username()
		if p, ok := u.User.Password(); ok {
			o.password = p
		}
		u.User = nil
		o.url = u.String()
	}
	if o.timeout <= 0 {
		return usagef("-timeout %v: must be positive", o.timeout)
	}
	if o.tls.CertFile != o.tls.KeyFile && (o.tls.CertFile == "" || o.tls.KeyFile == "") {
		return usagef("-cert and -key go together")
	}
	return nil
}

// httpClient is the client of the AM: with -ca, -cert or -key, one whose
// TLS uses them.
func (o *options) httpClient() (*http.Client, error) {
	if o.tls == (tlsconfig.Client{}) {
		return &http.Client{}, nil
	}
	cfg, err := o.tls.Config()
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, Proxy: http.ProxyFromEnvironment}}, nil
}

// redactURL removes the password from a URL that may not even parse.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "…@" + s[i+1:]
		}
	}
	return s
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// parseInterspersed parses fs over args allowing flags after positional
// arguments ("configure-experiment 7 -filter tcp"), unless strict is set
// (then the first non-flag ends the flags, as for "call", whose JSON
// arguments may look like negative numbers). "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string, strict bool) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); strict || consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// authHeader is the HTTP Basic Authorization header of the options, or
// nil without a password.
func (o *options) authHeader() http.Header {
	if o.password == "" {
		return nil
	}
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(o.user+":"+o.password)))
	return h
}

// api is the typed client of the AM with the options' endpoint and
// credentials.
func (c *client) api() *amapi.Client {
	return amapi.NewClient(amapi.ClientConfig{URL: c.opts.url, User: c.opts.user, Password: c.opts.password,
		HTTPClient: c.http})
}

// do makes one call of method (call, with the typed client) within the
// -timeout. A fault comes back as *xmlrpc.Fault whose message names the
// method, as the one-line error of the exit status 1 wants.
func (c *client) do(method string, call func(context.Context, *amapi.Client) (any, error)) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.timeout)
	defer cancel()
	reply, err := call(ctx, c.api())
	if err == nil {
		return reply, nil
	}
	var f *xmlrpc.Fault
	if errors.As(err, &f) {
		msg := f.String
		if f.Code == amapi.FaultAuth && c.opts.password == "" {
			msg += " (" + envPassword + " is not set)"
		}
		return nil, &callError{method: method, fault: xmlrpc.Fault{Code: f.Code, String: msg}}
	}
	return nil, err
}

// callError is a fault answered to a call, printed as
// "<Method>: fault <code>: <string>".
type callError struct {
	method string
	fault  xmlrpc.Fault
}

// Error implements error.
func (e *callError) Error() string {
	return fmt.Sprintf("%s: fault %d: %s", e.method, e.fault.Code, e.fault.String)
}

// Unwrap gives the fault to errors.As.
func (e *callError) Unwrap() error { return &e.fault }
