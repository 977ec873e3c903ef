// Package daemon runs the components of a daemon (gims-am, gims-capd)
// through one lifecycle, after akvorado's common/daemon: components start
// in the order given and stop in the reverse order, so that each stops
// while what it uses still works; every long-running goroutine is started
// with Go, so that the daemon knows it, waits for it at shutdown, and stops
// as a whole when one fails.
//
// A daemon stops when the context given to Run ends (the caller passes a
// signal.NotifyContext for SIGINT and SIGTERM: a clean stop), when a
// tracked goroutine fails, or when a component fails to start (the ones
// already started are stopped). Run returns the failure, if any, joined
// with the errors of the stops.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// Component is a part of a daemon with a lifecycle.
type Component interface {
	// Start makes the component work and returns: its long-running
	// goroutines go through Daemon.Go. ctx ends when the daemon begins
	// to stop.
	Start(ctx context.Context) error
	// Stop stops the component and releases what it holds. It is called
	// once, only after a successful Start, while the components started
	// before it still work.
	Stop() error
}

// Hooks is a Component made of two functions; a nil one does nothing.
type Hooks struct {
	// OnStart is the component's Start.
	OnStart func(ctx context.Context) error
	// OnStop is the component's Stop.
	OnStop func() error
}

// Start implements Component.
func (h Hooks) Start(ctx context.Context) error {
	if h.OnStart == nil {
		return nil
	}
	return h.OnStart(ctx)
}

// Stop implements Component.
func (h Hooks) Stop() error {
	if h.OnStop == nil {
		return nil
	}
	return h.OnStop()
}

// Daemon is the lifecycle of one process's components. Build it with New,
// Add the components, then Run.
type Daemon struct {
	logger *slog.Logger
	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	components []named
	failure    error // first tracked goroutine that failed
	ran        bool
}

// named is a component and the name its errors and log lines use.
type named struct {
	name string
	c    Component
}

// New returns a daemon that logs its lifecycle to logger.
func New(logger *slog.Logger) *Daemon {
	d := &Daemon{logger: logger}
	d.ctx, d.cancel = context.WithCancelCause(context.Background())
	return d
}

// Add appends a component: Run starts the components in the order they
// were added.
func (d *Daemon) Add(name string, c Component) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.components = append(d.components, named{name, c})
}

// Go runs f in a goroutine the daemon tracks: Run waits for it after
// stopping the components. f's context ends when the daemon begins to
// stop. If f returns an error (other than the context's own once the
// daemon is stopping), the daemon stops and Run returns that error.
func (d *Daemon) Go(name string, f func(ctx context.Context) error) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		err := f(d.ctx)
		stopping := d.ctx.Err() != nil
		if err == nil || (stopping && (errors.Is(err, context.Canceled) || errors.Is(err, context.Cause(d.ctx)))) {
			return
		}
		d.fail(fmt.Errorf("%s: %w", name, err))
	}()
}

// fail records the first failure and makes the daemon stop.
func (d *Daemon) fail(err error) {
	d.mu.Lock()
	first := d.failure == nil
	if first {
		d.failure = err
	}
	d.mu.Unlock()
	if first {
		d.logger.Error("daemon component failed, stopping", "error", err)
	}
	d.cancel(err)
}

// errStopped is the cause of the daemon's context when Run's context ends.
var errStopped = errors.New("daemon stopping")

// Run starts the components in order, waits until ctx ends or a tracked
// goroutine fails, then stops the started components in reverse order and
// waits for the tracked goroutines. A daemon runs once. Run returns nil
// after a clean stop (ctx ended, every stop succeeded), else the failure
// (a start or a goroutine) joined with the stops' errors.
func (d *Daemon) Run(ctx context.Context) error {
	d.mu.Lock()
	if d.ran {
		d.mu.Unlock()
		return errors.New("daemon already ran")
	}
	d.ran = true
	components := d.components
	d.mu.Unlock()

	stopWatch := context.AfterFunc(ctx, func() { d.cancel(errStopped) })
	defer stopWatch()
	if ctx.Err() != nil {
		// AfterFunc runs in a goroutine of its own: do not start
		// anything before it.
		d.cancel(errStopped)
	}

	var startErr error
	started := 0
	for _, n := range components {
		if d.ctx.Err() != nil {
			break
		}
		if err := n.c.Start(d.ctx); err != nil {
			startErr = fmt.Errorf("unable to start %s: %w", n.name, err)
			d.logger.Error("component failed to start, stopping", "component", n.name, "error", err)
			break
		}
		d.logger.Debug("component started", "component", n.name)
		started++
	}
	if startErr == nil {
		<-d.ctx.Done()
	}
	if context.Cause(d.ctx) == errStopped {
		d.logger.Info("shutting down")
	}
	d.cancel(errStopped)

	var stopErrs []error
	for i := started - 1; i >= 0; i-- {
		n := components[i]
		if err := n.c.Stop(); err != nil {
			d.logger.Error("component failed to stop", "component", n.name, "error", err)
			stopErrs = append(stopErrs, fmt.Errorf("unable to stop %s: %w", n.name, err))
			continue
		}
		d.logger.Debug("component stopped", "component", n.name)
	}
	d.wg.Wait()

	d.mu.Lock()
	failure := d.failure
	d.mu.Unlock()
	if startErr != nil {
		failure = errors.Join(startErr, failure)
	}
	return errors.Join(append([]error{failure}, stopErrs...)...)
}
