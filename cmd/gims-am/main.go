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
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/am/api"
	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/web"
)

// version is stamped by the Makefile (-ldflags -X main.version=…).
var version = "dev"

// adminPasswordEnv holds the password of -init-admin.
const adminPasswordEnv = "GIMS_ADMIN_PASSWORD"

// options are the command-line flags.
type options struct {
	listen, dbPath, dataDir, initAdmin, logLevel string
	poll, pull, refresh, deviceTimeout           time.Duration
	bcryptCost                                   int
}

func main() {
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

// parseFlags reads the command line.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("gims-am", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address of the API, GUI and metrics")
	fs.StringVar(&o.dbPath, "db", "gims.db", "SQLite database file (created if missing)")
	fs.StringVar(&o.dataDir, "data", "data", "folder of the result files pulled from the devices")
	fs.StringVar(&o.initAdmin, "init-admin", "", "create this admin (password from $"+adminPasswordEnv+") unless it exists")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&o.poll, "poll-interval", time.Second, "how often running experiments' devices are polled")
	fs.DurationVar(&o.pull, "pull-interval", 10*time.Second, "how often results are pulled while running (storage remote)")
	fs.DurationVar(&o.refresh, "refresh-interval", 30*time.Second, "how often device capabilities are refreshed")
	fs.DurationVar(&o.deviceTimeout, "device-timeout", 10*time.Second, "timeout of every call to a capture device")
	fs.IntVar(&o.bcryptCost, "bcrypt-cost", bcrypt.DefaultCost, "cost of new password hashes (4 to 31; tests use 4)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, usageError{err}
	}
	if o.bcryptCost < bcrypt.MinCost || o.bcryptCost > bcrypt.MaxCost {
		return o, usageError{fmt.Errorf("-bcrypt-cost must be between %d and %d", bcrypt.MinCost, bcrypt.MaxCost)}
	}
	if fs.NArg() > 0 {
		return o, usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return o, nil
}

// serve runs the aggregate manager until ctx ends.
func serve(ctx context.Context, o options, getenv func(string) string, stderr io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return usageError{fmt.Errorf("-log-level %q: %v", o.logLevel, err)}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	dcfg := db.DefaultConfiguration()
	dcfg.Path = o.dbPath
	store, err := db.Open(ctx, dcfg)
	if err != nil {
		return err
	}
	defer store.Close()
	mcfg := am.DefaultConfiguration()
	mcfg.DataDir, mcfg.PollInterval, mcfg.PullInterval, mcfg.RefreshInterval = o.dataDir, o.poll, o.pull, o.refresh
	mcfg.DeviceTimeout, mcfg.BcryptCost, mcfg.Logger = o.deviceTimeout, o.bcryptCost, logger
	m, err := am.New(mcfg, am.Dependencies{DB: store})
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
	acfg := api.DefaultConfiguration()
	acfg.Logger = logger
	h, err := api.New(acfg, m)
	if err != nil {
		return err
	}
	gcfg := web.DefaultConfiguration()
	gcfg.Logger = logger
	gui, err := web.New(gcfg, m)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("unable to listen: %w", err)
	}
	if err := m.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	defer m.Stop()
	srv := &http.Server{Handler: routes(h, gui), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	logger.Info("gims-am serving", "version", version, "address", ln.Addr().String(), "db", o.dbPath, "data", o.dataDir)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server stopped: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
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
