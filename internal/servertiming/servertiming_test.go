package servertiming

import (
	"context"
	"maps"
	"testing"
	"time"
)

// clock is a manual clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// TestDeviceSpans checks that overlapping spans count once, as the wall
// time at least one was open, and that closing a span twice counts once.
func TestDeviceSpans(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)}
	tm := New(c.now)
	ctx := With(context.Background(), tm)
	c.advance(5 * time.Millisecond) // AM time
	a := Begin(ctx)
	c.advance(10 * time.Millisecond)
	b := Begin(ctx) // overlaps a
	c.advance(10 * time.Millisecond)
	a()
	a() // twice: no effect
	c.advance(10 * time.Millisecond)
	if got, want := tm.Device(), 30*time.Millisecond; got != want {
		t.Errorf("Device() with a span open = %v, want %v", got, want)
	}
	b()
	w := BeginKind(ctx, KindDB)
	c.advance(7 * time.Millisecond) // AM time, 7 ms of it a write
	w()
	d := Begin(ctx)
	c.advance(3 * time.Millisecond)
	d()
	if got, want := tm.Device(), 33*time.Millisecond; got != want {
		t.Errorf("Device() = %v, want %v", got, want)
	}
	if got, want := tm.Elapsed(), 45*time.Millisecond; got != want {
		t.Errorf("Elapsed() = %v, want %v", got, want)
	}
	if got, want := tm.Spent(KindDB), 7*time.Millisecond; got != want {
		t.Errorf("Spent(KindDB) = %v, want %v", got, want)
	}
	if got, want := tm.Value(), "device;dur=33.000, db;dur=7.000, am;dur=12.000, total;dur=45.000, pool;dur=0.000"; got != want {
		t.Errorf("Value() = %q, want %q", got, want)
	}
	// Without a Timer in the context, Begin measures nothing.
	Begin(context.Background())()
}

// TestParse checks the header parser on what the AM writes and on the
// other shapes the standard allows.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		pos   string
		value string
		want  map[string]time.Duration
	}{
		{"#0", Format(12300*time.Microsecond, time.Millisecond, 16800*time.Microsecond),
			map[string]time.Duration{Device: 12300 * time.Microsecond, DB: time.Millisecond, AM: 4500 * time.Microsecond,
				Total: 16800 * time.Microsecond}},
		{"#1", `cache;desc="Cache Read";dur=23.2, db;dur=53 , app;dur=47.2`,
			map[string]time.Duration{"cache": 23200 * time.Microsecond, "db": 53 * time.Millisecond, "app": 47200 * time.Microsecond}},
		{"#2", "miss, device;dur=x, am;dur=-1, total;DUR=\"2\"", map[string]time.Duration{Total: 2 * time.Millisecond}},
		{"#3", "", map[string]time.Duration{}},
	} {
		if got := Parse(tc.value); !maps.Equal(got, tc.want) {
			t.Errorf("%s: Parse(%q) = %v, want %v", tc.pos, tc.value, got, tc.want)
		}
	}
}
