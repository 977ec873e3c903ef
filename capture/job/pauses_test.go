package job

import (
	"testing"
	"time"
)

func TestPausesCover(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	var w pauses
	if w.covers(at(0)) {
		t.Fatal("a source never paused covers packets")
	}
	w.set(true, at(10))
	w.set(false, at(20))
	w.set(false, at(30)) // a second resume does not move the end
	for _, tc := range []struct {
		ts   int
		want bool
	}{{9, false}, {10, true}, {19, true}, {20, false}, {25, false}} {
		if got := w.covers(at(tc.ts)); got != tc.want {
			t.Errorf("after a pause 10–20 s: covers(%d s) = %v, want %v", tc.ts, got, tc.want)
		}
	}
	w.set(true, at(40))
	if !w.covers(at(100)) || w.covers(at(15)) {
		t.Error("an open pause from 40 s: want packets after it dropped and the old window forgotten")
	}
}
