package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/capture/device"
	"github.com/gimsproject/gims/capture/job"
	"github.com/gimsproject/gims/capture/sim"
	"github.com/gimsproject/gims/daemon"
	"github.com/gimsproject/gims/internal/httpserver"
)

// simInterface is the interface every simulated device offers.
const simInterface = "sim0"

// maxSimulate bounds -simulate: the devices one process may run.
const maxSimulate = 10000

// simDevice is one simulated device: its job manager, its API server and
// its listener.
type simDevice struct {
	index int
	jobs  *job.Manager
	srv   *httpserver.Server
	ln    net.Listener
}

// runSimulated runs o.simulate simulated capture devices (SPEC §11) in
// this process until ctx ends: device i listens on the -listen port + i
// (with port 0, on a free port each, logged one line per device),
// keeps its jobs and results in -data/dev-NNNN, and is the full device API
// (the real job manager and server, the daemon's token) with one
// interface, sim0, whose packets a shared sim.Pacer generates through the
// real capture path. All devices start before the daemon reports
// listening, and they stop together (every job flushed).
func runSimulated(ctx context.Context, o daemonOptions, stderr io.Writer) error {
	token, err := loadToken(o.tokenFile, os.Getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	host, portStr, err := net.SplitHostPort(o.listen)
	if err != nil {
		return usagef("-listen %q: want HOST:PORT", o.listen)
	}
	first, err := strconv.Atoi(portStr)
	if err != nil || first < 0 || first+o.simulate-1 > 65535 {
		return usagef("-listen %q with -simulate %d: ports %s…%d do not fit in 1…65535", o.listen, o.simulate, portStr,
			first+o.simulate-1)
	}
	scfg := sim.DefaultConfiguration()
	scfg.PPS = o.simulatePPS
	pacer, err := sim.NewPacer(scfg)
	if err != nil {
		return usageError{err}
	}
	var seq atomic.Uint32 // job seeds: distinct addresses per job
	devs := make([]*simDevice, 0, o.simulate)
	defer func() {
		for _, d := range devs {
			d.ln.Close() // in case the server never starts
		}
	}()
	for i := range o.simulate {
		port := 0 // port 0: each device on a free port of its own (tests)
		if first > 0 {
			port = first + i
		}
		d, err := newSimDevice(i, net.JoinHostPort(host, strconv.Itoa(port)), o, token, logger, pacer, &seq)
		if err != nil {
			return err
		}
		devs = append(devs, d)
	}

	dm := daemon.New(logger)
	dm.Add("job managers", daemon.Hooks{
		OnStart: func(ctx context.Context) error {
			for _, d := range devs {
				if err := d.jobs.Start(ctx); err != nil {
					return fmt.Errorf("simulated device %d: %w", d.index, err)
				}
			}
			return nil
		},
		OnStop: func() error {
			// Every device flushes its jobs at once.
			var wg sync.WaitGroup
			errs := make([]error, len(devs))
			for i, d := range devs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = d.jobs.Stop()
				}()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				return fmt.Errorf("unable to stop jobs: %w", err)
			}
			return nil
		},
	})
	dm.Add("HTTP servers", daemon.Hooks{
		OnStart: func(context.Context) error {
			for _, d := range devs {
				if first == 0 {
					logger.Info("simulated device listening", "device", d.index, "addr", d.ln.Addr().String())
				}
				dm.Go("HTTP server", func(context.Context) error {
					if err := d.srv.Serve(d.ln); !errors.Is(err, http.ErrServerClosed) {
						return fmt.Errorf("simulated device %d: %w", d.index, err)
					}
					return nil
				})
			}
			logger.Info("simulated capture devices listening", "devices", len(devs), "first", devs[0].ln.Addr().String(),
				"last", devs[len(devs)-1].ln.Addr().String(), "pps_per_job", scfg.PPS, "data", o.jobs.DataDir,
				"version", version)
			return nil
		},
		OnStop: func() error {
			shutCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			var wg sync.WaitGroup
			for _, d := range devs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := d.srv.Shutdown(shutCtx); err != nil {
						logger.Warn("HTTP shutdown incomplete", "device", d.index, "error", err)
					}
				}()
			}
			wg.Wait()
			return nil
		},
	})
	if err := dm.Run(ctx); err != nil {
		return err
	}
	logger.Info("simulated capture devices stopped")
	return nil
}

// newSimDevice builds simulated device i listening on addr.
func newSimDevice(i int, addr string, o daemonOptions, token string, logger *slog.Logger, pacer *sim.Pacer,
	seq *atomic.Uint32) (*simDevice, error) {
	ln, tlsCfg, err := o.tls.Listen(addr)
	if err != nil {
		return nil, fmt.Errorf("simulated device %d: %w", i, err)
	}
	dlog := logger.With("device", i)
	jcfg := o.jobs
	jcfg.DataDir = filepath.Join(o.jobs.DataDir, fmt.Sprintf("dev-%04d", i))
	jcfg.Logger, jcfg.APIAddr = dlog, ln.Addr().String()
	// A thousand devices share this machine's disk: their job states are
	// written without fsync, every 10 s while running.
	jcfg.NoSync, jcfg.CheckpointInterval = true, simCheckpoint
	// A registry of the device's own: each device's /metrics shows its
	// own capture and API counters.
	registry := prometheus.NewRegistry()
	m, err := job.New(jcfg, job.Dependencies{Registry: registry, Synthetic: []job.Synthetic{{
		Interface: job.Interface{Name: simInterface, LinkType: "EN10MB",
			Description: fmt.Sprintf("simulated traffic, %d packets/s per job", o.simulatePPS)},
		Open: func(snaplen int) *capture.Source {
			// Device i's jobs: clients in 10.<i>.<job>.x.
			return pacer.Source(uint32(i)<<16|(seq.Add(1)&0xffff), snaplen)
		},
	}}})
	if err != nil {
		ln.Close()
		return nil, usageError{err}
	}
	dcfg := device.DefaultConfiguration()
	dcfg.Token, dcfg.Version, dcfg.Logger = token, version, dlog
	h, err := device.New(dcfg, device.Dependencies{Jobs: m, Registry: registry})
	if err != nil {
		ln.Close()
		return nil, err
	}
	srv, err := httpserver.New(o.http, h, dlog)
	if err != nil {
		ln.Close()
		return nil, usageError{err}
	}
	srv.UseTLS(tlsCfg)
	return &simDevice{index: i, jobs: m, srv: srv, ln: ln}, nil
}

// simCheckpoint is how often a simulated device's running job rewrites
// its job.json.
const simCheckpoint = 10 * time.Second

// simulateDefaultPPS is -simulate-pps's default (SPEC §11).
const simulateDefaultPPS = 100
