package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gimsproject/gims/capture/device"
	"github.com/gimsproject/gims/capture/job"
	"github.com/gimsproject/gims/daemon"
	"github.com/gimsproject/gims/internal/httpserver"
	"github.com/gimsproject/gims/internal/secretfile"
	"github.com/gimsproject/gims/internal/tlsconfig"
	"github.com/gimsproject/gims/xmlrpc"
)

// tokenEnv is the environment variable holding the bearer token when no
// -token-file is given.
const tokenEnv = "GIMS_DEVICE_TOKEN"

// activationEnv is the environment variable holding the activation code
// of -register when no -activation is given.
const activationEnv = "GIMS_ACTIVATION"

// shutdownTimeout bounds the HTTP server's graceful shutdown.
const shutdownTimeout = 10 * time.Second

// runDaemon runs the capture daemon's device API (SPEC §4) until ctx ends
// (SIGINT, SIGTERM). Its components, in start order: the job manager, the
// HTTP server and the registration with the aggregate manager; at the end
// they stop in reverse order, so the server stops before every job is
// flushed.
func runDaemon(ctx context.Context, o daemonOptions, stderr io.Writer) error {
	token, err := loadToken(o.tokenFile, os.Getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	// One registry for the daemon: the Go runtime and process metrics, the
	// capture counters and the device API's, all served at /metrics
	// behind the bearer token.
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, tlsCfg, err := o.tls.Listen(o.listen)
	if err != nil {
		return err
	}
	defer ln.Close() // in case the server never starts
	jcfg := o.jobs
	// The jobs know the API's address (the port the listener got), to
	// refuse a capture of the API's own traffic.
	jcfg.Logger, jcfg.APIAddr = logger, ln.Addr().String()
	m, err := job.New(jcfg, job.Dependencies{Registry: registry})
	if err != nil {
		return usageError{err}
	}
	dcfg := device.DefaultConfiguration()
	dcfg.Token, dcfg.Version, dcfg.Logger = token, version, logger
	h, err := device.New(dcfg, device.Dependencies{Jobs: m, Registry: registry})
	if err != nil {
		return err
	}
	var reg *registrar
	if o.register != "" {
		activation := strings.TrimSpace(o.activation)
		if activation == "" {
			activation = strings.TrimSpace(os.Getenv(activationEnv))
		}
		if activation == "" {
			return usagef("-register needs an activation code from the AM's admin: -activation CODE or %s", activationEnv)
		}
		if reg, err = newRegistrar(o.register, token, activation, ln.Addr(), logger); err != nil {
			return err
		}
		if err := reg.secure(o.registerCA, o.tls); err != nil {
			return err
		}
	}
	srv, err := httpserver.New(o.http, h, logger)
	if err != nil {
		return usageError{err}
	}
	srv.UseTLS(tlsCfg)

	d := daemon.New(logger)
	d.Add("job manager", daemon.Hooks{
		OnStart: m.Start,
		OnStop: func() error {
			if err := m.Stop(); err != nil {
				return fmt.Errorf("unable to stop jobs: %w", err)
			}
			return nil
		},
	})
	d.Add("HTTP server", daemon.Hooks{
		OnStart: func(context.Context) error {
			d.Go("HTTP server", func(context.Context) error {
				if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
					return err
				}
				return nil
			})
			logger.Info("capture daemon listening", "addr", ln.Addr().String(), "tls", o.tls.Enabled(), "data", o.jobs.DataDir,
				"pcap_dir", o.jobs.PcapDir, "version", version)
			return nil
		},
		OnStop: func() error {
			shutCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			if err := srv.Shutdown(shutCtx); err != nil {
				logger.Warn("HTTP shutdown incomplete", "error", err)
			}
			return nil
		},
	})
	if reg != nil {
		d.Add("registration", daemon.Hooks{OnStart: func(context.Context) error {
			// Registration retries until it succeeds or the daemon stops;
			// it never fails the daemon.
			d.Go("registration", func(ctx context.Context) error {
				_ = reg.run(ctx)
				return nil
			})
			return nil
		}})
	}
	if err := d.Run(ctx); err != nil {
		return err
	}
	logger.Info("capture daemon stopped")
	return nil
}

// loadToken reads the bearer token from file (trimmed), else from
// GIMS_DEVICE_TOKEN; having none is a usage error, and so is a token file
// the group or others may read (the operator's file: refused, not
// changed, as ssh refuses an open key).
func loadToken(file string, getenv func(string) string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", usagef("unable to read the token file: %v", err)
		}
		if err := secretfile.Check(file); err != nil {
			return "", usageError{fmt.Errorf("-token-file: %w", err)}
		}
		token := strings.TrimSpace(string(b))
		if token == "" {
			return "", usagef("token file %s is empty", file)
		}
		return token, nil
	}
	if token := strings.TrimSpace(getenv(tokenEnv)); token != "" {
		return token, nil
	}
	return "", usagef("daemon mode needs a token: -token-file FILE or %s", tokenEnv)
}

// registration is the struct of the AM's RegisterDevice (SPEC §3).
type registration struct {
	Name       string `xmlrpc:"name"`
	Hostname   string `xmlrpc:"hostname"`
	Port       int    `xmlrpc:"port"`
	Token      string `xmlrpc:"token"`
	Activation string `xmlrpc:"activation"`
	// TLS and CertSHA256 say that the device serves HTTPS and with which
	// certificate (SPEC §10); absent for plain HTTP.
	TLS        bool   `xmlrpc:"tls,omitempty"`
	CertSHA256 string `xmlrpc:"cert_sha256,omitempty"`
}

// registrar announces the daemon to the aggregate manager, retrying with
// exponential backoff until the AM accepts, refuses for good (a bad
// credential or activation code, a bad argument, a name taken by another
// device) or the context ends.
type registrar struct {
	url     string // the AM's XML-RPC URL
	shown   string // url without its password, for logs
	reg     registration
	logger  *slog.Logger
	client  *http.Client
	initial time.Duration // first retry delay
	max     time.Duration // longest retry delay
}

// newRegistrar prepares the registration of a daemon listening on addr.
func newRegistrar(rawURL, token, activation string, addr net.Addr, logger *slog.Logger) (*registrar, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("-register %q: want an http:// or https:// URL of the aggregate manager", rawURL)
	}
	_, portStr, err := net.SplitHostPort(addr.String())
	if err != nil {
		return nil, fmt.Errorf("unable to read the listening port: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("unable to read the listening port: %w", err)
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("unable to learn the host name: %w", err)
	}
	return &registrar{
		url:     rawURL,
		shown:   u.Redacted(),
		reg:     registration{Name: host, Hostname: host, Port: port, Token: token, Activation: activation},
		logger:  logger,
		client:  &http.Client{Timeout: 30 * time.Second},
		initial: time.Second,
		max:     time.Minute,
	}, nil
}

// secure sets how the registrar verifies the AM of an https URL (the CA
// in caFile, else the system's roots) and announces the device's own TLS:
// its certificate's fingerprint, which the admin compares at approval.
func (r *registrar) secure(caFile string, own tlsconfig.Configuration) error {
	cfg, err := tlsconfig.Client{CAFile: caFile}.Config()
	if err != nil {
		return usagef("-register-ca: %v", err)
	}
	r.client.Transport = &http.Transport{TLSClientConfig: cfg, Proxy: http.ProxyFromEnvironment}
	if own.Enabled() {
		pair, err := tls.LoadX509KeyPair(own.CertFile, own.KeyFile)
		if err != nil {
			return fmt.Errorf("unable to load the TLS certificate: %w", err)
		}
		r.reg.TLS, r.reg.CertSHA256 = true, tlsconfig.Fingerprint(pair.Certificate[0])
	}
	return nil
}

// Fault codes of the AM (SPEC §3) after which registering again cannot
// succeed.
const (
	faultInvalid  = 3
	faultAuth     = 4
	faultConflict = 6
)

// run calls RegisterDevice until it succeeds (nil), the AM refuses for
// good (the fault), or ctx ends (its error).
func (r *registrar) run(ctx context.Context) error {
	delay := r.initial
	for attempt := 1; ; attempt++ {
		err := xmlrpc.Call(ctx, r.client, r.url, nil, "RegisterDevice", []any{r.reg}, nil)
		if err == nil {
			r.logger.Info("registered with the aggregate manager", "am", r.shown, "name", r.reg.Name, "attempts", attempt)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if f, ok := xmlrpc.AsFault(err); ok && (f.Code == faultInvalid || f.Code == faultAuth || f.Code == faultConflict) {
			r.logger.Error("registration refused; not retrying (check the URL's user, the activation code, "+
				"or whether a device of this name exists)", "am", r.shown, "name", r.reg.Name, "error", err)
			return err
		}
		r.logger.Warn("registration failed, retrying", "am", r.shown, "attempt", attempt,
			"retry_in", delay, "error", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, r.max)
	}
}
