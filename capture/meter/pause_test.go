package meter

import (
	"testing"
	"time"
)

// TestPauseWindow: packets are judged by their timestamps against the
// current or last pause.
func TestPauseWindow(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	m := &Meter{}
	if m.pausedAt(at(0).UnixNano()) || m.paused() {
		t.Fatal("a meter never paused drops packets")
	}
	m.SetPaused(true, at(10))
	if !m.paused() {
		t.Error("not paused after SetPaused(true)")
	}
	m.SetPaused(false, at(20))
	m.SetPaused(false, at(30)) // a second resume does not move the end
	if m.paused() {
		t.Error("paused after SetPaused(false)")
	}
	for _, tc := range []struct {
		ts   int
		want bool
	}{{9, false}, {10, true}, {19, true}, {20, false}, {25, false}} {
		if got := m.pausedAt(at(tc.ts).UnixNano()); got != tc.want {
			t.Errorf("after a pause 10–20 s: pausedAt(%d s) = %v, want %v", tc.ts, got, tc.want)
		}
	}
	m.SetPaused(true, at(40))
	if !m.pausedAt(at(100).UnixNano()) || m.pausedAt(at(15).UnixNano()) {
		t.Error("an open pause from 40 s: want packets after it dropped and the old window forgotten")
	}
}
