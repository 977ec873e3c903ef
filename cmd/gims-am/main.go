// Command gims-am is the GIMS aggregate manager (SPEC §1–§3): the XML-RPC
// API at /RPC2, result downloads at /files/, Prometheus metrics at
// /metrics and the web GUI at /, over a SQLite database.
//
//	gims-am -listen 127.0.0.1:8080 -db gims.db -data data [-init-admin NAME]
//
// With -init-admin it creates that admin (password from
// GIMS_ADMIN_PASSWORD) unless the user exists, and goes on serving.
// SIGINT or SIGTERM stop it cleanly; running experiments go on on their
// capture daemons and are followed again at the next start.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/am/api"
	"github.com/gimsproject/gims/am/schedule"
	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/daemon"
	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/internal/check"
	"github.com/gimsproject/gims/internal/httpserver"
	"github.com/gimsproject/gims/internal/tlsconfig"
	"github.com/gimsproject/gims/web"
)

// version is stamped by the Makefile (-ldflags -X main.version=…).
var version = "dev"

// adminPasswordEnv holds the password of -init-admin.
const adminPasswordEnv = "GIMS_ADMIN_PASSWORD"

// options are the command-line flags: the components' configurations,
// filled from their DefaultConfiguration, and the daemon's own settings.
type options struct {
	listen, initAdmin string
	level             slog.Level
	db                db.Configuration
	am                am.Configuration
	http              httpserver.Configuration
	api               api.Configuration
	// tls is the transport security of the server (SPEC §10).
	tls tlsconfig.Configuration
	// deviceTLS is how the AM calls devices served over HTTPS.
	deviceTLS tlsconfig.Client
	// pprofListen is -pprof-listen: a loopback address serving the Go
	// profiler (net/http/pprof), to profile the AM at scale; empty: none.
	pprofListen string
}

func main() {
	// A child started to compile a BPF filter does that and exits.
	capture.ServeFilterChild()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stderr))
}

// usageError marks errors of the command line (exit status 2).
type usageError struct{ error }

// run parses args and serves until ctx ends; it returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil {
		err = serve(ctx, o, getenv, stderr)
	}
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "gims-am: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// parseFlags reads the command line over the components' default
// configurations and validates the result: a bad value is a usage error
// naming its flag.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{listen: "127.0.0.1:8080", db: db.DefaultConfiguration(), am: am.DefaultConfiguration(),
		http: httpserver.DefaultConfiguration(), api: api.DefaultConfiguration(), tls: tlsconfig.DefaultConfiguration()}
	// Users without a client certificate log in with their password.
	o.tls.ClientCertOptional = true
	o.db.Path = "gims.db"
	o.am.DataDir = "data"
	o.am.Filters.Isolate = true // main calls capture.ServeFilterChild
	logLevel := "info"
	fs := flag.NewFlagSet("gims-am", flag.ContinueOnError)
	// Errors are reported by run as one line; -h prints the flags.
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.listen, "listen", o.listen, "address of the API, GUI and metrics")
	fs.StringVar(&o.db.Path, "db", o.db.Path, "SQLite database file (created if missing)")
	fs.StringVar(&o.am.DataDir, "data", o.am.DataDir, "folder of the result files pulled from the devices")
	fs.StringVar(&o.initAdmin, "init-admin", "", "create this admin (password from $"+adminPasswordEnv+") unless it exists")
	fs.StringVar(&logLevel, "log-level", logLevel, "debug, info, warn or error")
	fs.DurationVar(&o.am.PollInterval, "poll-interval", o.am.PollInterval, "how often running experiments' devices are polled")
	fs.DurationVar(&o.am.PullInterval, "pull-interval", o.am.PullInterval, "how often results are pulled while running (storage remote)")
	fs.DurationVar(&o.am.RefreshInterval, "refresh-interval", o.am.RefreshInterval, "how often device capabilities are refreshed")
	fs.DurationVar(&o.am.DeviceTimeout, "device-timeout", o.am.DeviceTimeout, "timeout of every call to a capture device")
	fs.IntVar(&o.am.DeviceConcurrency, "device-concurrency", o.am.DeviceConcurrency, "calls to capture devices one transition, poll or pull has in flight at once")
	fs.DurationVar(&o.am.Retention, "retention", o.am.Retention, "delete the result files of done experiments this long after their end, on the AM and the devices (0: keep them)")
	fs.DurationVar(&o.am.AuditRetention, "audit-retention", o.am.AuditRetention, "delete audit log entries older than this (0: keep them forever)")
	fs.IntVar(&o.am.BcryptCost, "bcrypt-cost", o.am.BcryptCost, "cost of new password hashes (4 to 31; tests use 4)")
	o.http.RegisterFlags(fs)
	o.am.Filters.RegisterFlags(fs)
	o.api.RegisterFlags(fs)
	o.tls.AddFlags(fs)
	fs.StringVar(&o.deviceTLS.CAFile, "device-ca", "", "verify the certificates of devices served over HTTPS against this PEM CA `file` (default: the system's)")
	fs.StringVar(&o.deviceTLS.CertFile, "device-cert", "", "PEM client certificate `file` presented to the devices (with -device-key)")
	fs.StringVar(&o.deviceTLS.KeyFile, "device-key", "", "PEM private key `file` of -device-cert")
	fs.StringVar(&o.pprofListen, "pprof-listen", "", "serve the Go profiler (/debug/pprof/) on this loopback `address`, without authentication (default: off)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return o, err
		}
		return o, usageError{err}
	}
	if fs.NArg() > 0 {
		return o, usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if err := o.level.UnmarshalText([]byte(logLevel)); err != nil {
		return o, usageError{fmt.Errorf("-log-level %q: %v", logLevel, err)}
	}
	// An invalid value is reported under the flag the user typed.
	if err := o.db.Validate(); err != nil {
		return o, usageError{check.Flags(err, map[string]string{"Path": "db"})}
	}
	if err := o.am.Validate(); err != nil {
		return o, usageError{check.Flags(err, map[string]string{"DataDir": "data", "PollInterval": "poll-interval",
			"PullInterval": "pull-interval", "RefreshInterval": "refresh-interval", "DeviceTimeout": "device-timeout", "DeviceConcurrency": "device-concurrency",
			"BcryptCost": "bcrypt-cost", "Retention": "retention", "AuditRetention": "audit-retention", "Filters.MaxBytes": "filter-max-bytes", "Filters.MaxTerms": "filter-max-terms",
			"Filters.Timeout": "filter-timeout", "Filters.MaxMemoryBytes": "filter-max-memory"})}
	}
	if err := o.api.Validate(); err != nil {
		return o, usageError{check.Flags(err, api.Flags())}
	}
	if err := o.http.Validate(); err != nil {
		return o, usageError{check.Flags(err, httpserver.Flags())}
	}
	// A transition calls every device and may undo on every device:
	// its answer must fit in the write timeout.
	if o.http.WriteTimeout < 3*o.am.DeviceTimeout {
		return o, usageError{fmt.Errorf("-http-write-timeout %s must be at least 3 × -device-timeout (%s)",
			o.http.WriteTimeout, o.am.DeviceTimeout)}
	}
	if err := o.tls.ValidateFlags(o.listen); err != nil {
		return o, usageError{err}
	}
	if o.pprofListen != "" && !tlsconfig.IsLoopback(o.pprofListen) {
		return o, usageError{fmt.Errorf("-pprof-listen %s: the profiler has no authentication; give a loopback address", o.pprofListen)}
	}
	if err := o.deviceTLS.Validate(); err != nil {
		return o, usageError{check.Flags(err, map[string]string{"CertFile": "device-cert", "KeyFile": "device-key"})}
	}
	return o, nil
}

// serve runs the aggregate manager until ctx ends: the manager's loops and
// the HTTP server are the daemon's components, stopped in reverse order.
func serve(ctx context.Context, o options, getenv func(string) string, stderr io.Writer) error {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: o.level}))
	o.db.Logger = logger
	store, err := db.Open(ctx, o.db)
	if err != nil {
		return err
	}
	defer store.Close()
	// One registry for the daemon: the Go runtime and process metrics, the
	// manager's and the API's, all served at /metrics.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	o.am.Logger = logger
	deviceTLS, err := o.deviceTLS.Config()
	if err != nil {
		return usageError{err}
	}
	m, err := am.New(o.am, am.Dependencies{DB: store, Registry: reg, DeviceTLS: deviceTLS})
	if err != nil {
		return usageError{err}
	}
	if o.initAdmin != "" {
		pass := getenv(adminPasswordEnv)
		if pass == "" {
			return usageError{fmt.Errorf("-init-admin needs the password in $%s", adminPasswordEnv)}
		}
		if _, err := m.InitAdmin(ctx, o.initAdmin, pass); err != nil {
			return usageError{err}
		}
	}
	acfg := o.api
	acfg.Logger = logger
	h, err := api.New(acfg, api.Dependencies{Manager: m, Registry: reg})
	if err != nil {
		return err
	}
	gcfg := web.DefaultConfiguration()
	gcfg.Logger = logger
	gui, err := web.New(gcfg, m)
	if err != nil {
		return err
	}
	ln, tlsCfg, err := o.tls.Listen(o.listen)
	if err != nil {
		return err
	}
	defer ln.Close() // in case the server never starts
	srv, err := httpserver.New(o.http, routes(h, gui), logger)
	if err != nil {
		return err
	}
	srv.UseTLS(tlsCfg)

	scfg := schedule.DefaultConfiguration()
	scfg.Logger = logger
	sched, err := schedule.New(scfg, schedule.Dependencies{DB: store, Experiments: m})
	if err != nil {
		return err
	}

	d := daemon.New(logger)
	d.Add("aggregate manager", daemon.Hooks{
		OnStart: m.Start,
		OnStop:  func() error { m.Stop(); return nil },
	})
	// The scheduler starts once the manager follows experiments, and
	// stops before it.
	d.Add("scheduler", daemon.Hooks{
		OnStart: sched.Start,
		OnStop:  func() error { sched.Stop(); return nil },
	})
	d.Add("HTTP server", daemon.Hooks{
		OnStart: func(context.Context) error {
			d.Go("HTTP server", func(context.Context) error {
				if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
					return err
				}
				return nil
			})
			logger.Info("gims-am serving", "version", version, "address", ln.Addr().String(), "tls", o.tls.Enabled(), "db", o.db.Path, "data", o.am.DataDir)
			return nil
		},
		OnStop: func() error {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		},
	})
	if o.pprofListen != "" {
		if err := servePprof(d, o.pprofListen, logger); err != nil {
			return err
		}
	}
	return d.Run(ctx)
}

// servePprof adds the profiler's server on addr to the daemon.
func servePprof(d *daemon.Daemon, addr string, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("-pprof-listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	d.Add("profiler", daemon.Hooks{
		OnStart: func(context.Context) error {
			d.Go("profiler", func(context.Context) error {
				if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
					return err
				}
				return nil
			})
			logger.Info("profiler serving", "address", ln.Addr().String())
			return nil
		},
		OnStop: func() error { return srv.Close() },
	})
	return nil
}

// routes mounts the API, the downloads and the metrics on the API
// handler; everything else is the web GUI's.
func routes(h *api.Handler, gui http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(api.RPCPath, h)
	mux.Handle("/files/", h)
	mux.Handle(api.MetricsPath, h)
	mux.Handle("/", gui)
	return mux
}
