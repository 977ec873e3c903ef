package daemon

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// recorder notes the lifecycle events of the test components, in order.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// part is a test component that records its start and stop and may fail
// either.
func part(r *recorder, name string, startErr, stopErr error) Component {
	return Hooks{
		OnStart: func(context.Context) error {
			r.add("start " + name)
			return startErr
		},
		OnStop: func() error {
			r.add("stop " + name)
			return stopErr
		},
	}
}

func newDaemon() *Daemon { return New(slog.New(slog.DiscardHandler)) }

// runAsync runs d and returns the channel of its result.
func runAsync(ctx context.Context, d *Daemon) <-chan error {
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return done
}

// wait returns Run's result, failing the test if it takes too long.
func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func TestOrder(t *testing.T) {
	r := &recorder{}
	d := newDaemon()
	started := make(chan struct{})
	d.Add("a", part(r, "a", nil, nil))
	d.Add("b", part(r, "b", nil, nil))
	d.Add("c", part(r, "c", nil, nil))
	d.Add("ready", Hooks{OnStart: func(context.Context) error { close(started); return nil }})
	ctx, cancel := context.WithCancel(context.Background())
	done := runAsync(ctx, d)
	<-started
	if got, want := r.get(), []string{"start a", "start b", "start c"}; !slices.Equal(got, want) {
		t.Errorf("while running (-got, +want):\n%v\n%v", got, want)
	}
	cancel()
	if err := wait(t, done); err != nil {
		t.Errorf("Run() error after a clean stop:\n%+v", err)
	}
	want := []string{"start a", "start b", "start c", "stop c", "stop b", "stop a"}
	if got := r.get(); !slices.Equal(got, want) {
		t.Errorf("events (-got, +want):\n%v\n%v", got, want)
	}
	if err := d.Run(context.Background()); err == nil || err.Error() != "daemon already ran" {
		t.Errorf("second Run() error = %v", err)
	}
}

func TestStartFailure(t *testing.T) {
	r := &recorder{}
	d := newDaemon()
	boom := errors.New("boom")
	d.Add("a", part(r, "a", nil, nil))
	d.Add("b", part(r, "b", nil, nil))
	d.Add("c", part(r, "c", boom, nil))
	d.Add("d", part(r, "d", nil, nil))
	err := d.Run(context.Background())
	if !errors.Is(err, boom) || err.Error() != "unable to start c: boom" {
		t.Errorf("Run() error = %v, want %q", err, "unable to start c: boom")
	}
	want := []string{"start a", "start b", "start c", "stop b", "stop a"}
	if got := r.get(); !slices.Equal(got, want) {
		t.Errorf("events (-got, +want):\n%v\n%v", got, want)
	}
}

func TestStopErrors(t *testing.T) {
	r := &recorder{}
	d := newDaemon()
	d.Add("a", part(r, "a", nil, errors.New("disk full")))
	d.Add("b", part(r, "b", nil, nil))
	d.Add("c", part(r, "c", nil, errors.New("stuck")))
	ctx, cancel := context.WithCancel(context.Background())
	d.Add("stopper", Hooks{OnStart: func(context.Context) error { cancel(); return nil }})
	err := d.Run(ctx)
	if err == nil || err.Error() != "unable to stop c: stuck\nunable to stop a: disk full" {
		t.Errorf("Run() error = %q", err)
	}
	// Every stop runs, whatever the ones before returned.
	want := []string{"start a", "start b", "start c", "stop c", "stop b", "stop a"}
	if got := r.get(); !slices.Equal(got, want) {
		t.Errorf("events (-got, +want):\n%v\n%v", got, want)
	}
}

func TestCancelledBeforeRun(t *testing.T) {
	r := &recorder{}
	d := newDaemon()
	d.Add("a", part(r, "a", nil, nil))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Run(ctx); err != nil {
		t.Errorf("Run() error:\n%+v", err)
	}
	if got := r.get(); len(got) != 0 {
		t.Errorf("events %v, want none", got)
	}
}

func TestGoroutineFailureStopsAll(t *testing.T) {
	r := &recorder{}
	d := newDaemon()
	boom := errors.New("listener closed")
	fail := make(chan struct{})
	var sawCancel bool
	d.Add("a", Hooks{
		OnStart: func(context.Context) error {
			r.add("start a")
			d.Go("waiter", func(ctx context.Context) error {
				<-ctx.Done()
				sawCancel = true
				return ctx.Err() // the daemon's own stop: not a failure
			})
			return nil
		},
		OnStop: func() error { r.add("stop a"); return nil },
	})
	d.Add("b", Hooks{
		OnStart: func(context.Context) error {
			r.add("start b")
			d.Go("server", func(context.Context) error {
				<-fail
				return boom
			})
			return nil
		},
		OnStop: func() error { r.add("stop b"); return nil },
	})
	done := runAsync(context.Background(), d)
	close(fail)
	err := wait(t, done)
	if !errors.Is(err, boom) || err.Error() != "server: listener closed" {
		t.Errorf("Run() error = %v, want %q", err, "server: listener closed")
	}
	if !sawCancel {
		t.Error("the other goroutine was not cancelled and waited for")
	}
	want := []string{"start a", "start b", "stop b", "stop a"}
	if got := r.get(); !slices.Equal(got, want) {
		t.Errorf("events (-got, +want):\n%v\n%v", got, want)
	}
}

func TestGoroutineFailureDuringStart(t *testing.T) {
	r := &recorder{}
	d := newDaemon()
	d.Add("a", Hooks{
		OnStart: func(ctx context.Context) error {
			r.add("start a")
			d.Go("early", func(context.Context) error {
				return errors.New("gone")
			})
			// The failure is recorded before the daemon's context ends:
			// wait for that, not for the goroutine's return (the daemon
			// records the failure just after it).
			<-ctx.Done()
			return nil
		},
		OnStop: func() error { r.add("stop a"); return nil },
	})
	d.Add("b", part(r, "b", nil, nil))
	err := wait(t, runAsync(context.Background(), d))
	if err == nil || err.Error() != "early: gone" {
		t.Errorf("Run() error = %v, want %q", err, "early: gone")
	}
	// The failure came before b started: b never starts.
	want := []string{"start a", "stop a"}
	if got := r.get(); !slices.Equal(got, want) {
		t.Errorf("events (-got, +want):\n%v\n%v", got, want)
	}
}

func TestGoroutinesWaited(t *testing.T) {
	d := newDaemon()
	var finished bool
	ctx, cancel := context.WithCancel(context.Background())
	d.Add("a", Hooks{OnStart: func(context.Context) error {
		defer cancel() // started: the daemon may stop
		d.Go("slow", func(ctx context.Context) error {
			<-ctx.Done()
			time.Sleep(20 * time.Millisecond) // cleanup after the stop
			finished = true
			return nil
		})
		return nil
	}})
	if err := wait(t, runAsync(ctx, d)); err != nil {
		t.Fatalf("Run() error:\n%+v", err)
	}
	if !finished {
		t.Error("Run returned before its goroutine ended")
	}
}
