package schedule

import (
	"log/slog"
	"time"

	"github.com/gimsproject/gims/internal/check"
)

// Configuration configures a Scheduler.
type Configuration struct {
	// Interval is the longest the scheduler waits between two looks at
	// the schedules (default 1 s): a schedule configured meanwhile is
	// seen within it. Run boundaries are waited for exactly.
	Interval time.Duration
	// LateAfter is how late a start may be before its run is noted as
	// started late (default 2 s).
	LateAfter time.Duration
	// RetryInterval is how soon a transition the devices refused is
	// tried again, within its run's window (default 5 s).
	RetryInterval time.Duration
	// Logger receives the scheduler's events (default: discard; required).
	Logger *slog.Logger
}

// DefaultConfiguration returns the documented defaults.
func DefaultConfiguration() Configuration {
	return Configuration{
		Interval:      time.Second,
		LateAfter:     2 * time.Second,
		RetryInterval: 5 * time.Second,
		Logger:        slog.New(slog.DiscardHandler),
	}
}

// Validate names the field that is wrong, the rule and the value given.
func (c Configuration) Validate() error {
	return check.First(
		check.Positive("Interval", c.Interval),
		check.Positive("LateAfter", c.LateAfter),
		check.Positive("RetryInterval", c.RetryInterval),
		check.Set("Logger", c.Logger != nil, "set"),
	)
}

// Clock is the scheduler's time: the system's (SystemClock) in the
// daemon, a fake one in tests.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// After sends the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// After implements Clock.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
