package am

import (
	"testing"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// TestKeptStatusesBounded: the answers kept stay under maxKeptStatuses,
// the newest always among them, and a polled (running) experiment's
// answer is kept over the others.
func TestKeptStatusesBounded(t *testing.T) {
	m := &Manager{statuses: map[int64]*statusEntry{}}
	running := &db.Experiment{ID: 0, State: StateRunning}
	m.keepStatus(running, 1, time.Unix(1, 0), amapi.Status{}, amapi.Status{})
	for id := int64(1); id <= 2*maxKeptStatuses; id++ {
		m.keepStatus(&db.Experiment{ID: id, State: StateDone}, 1, time.Time{}, amapi.Status{ID: id}, amapi.Status{})
		if _, ok := m.statuses[id]; !ok {
			t.Fatalf("experiment %d: its answer was not kept", id)
		}
	}
	if n := len(m.statuses); n > maxKeptStatuses {
		t.Errorf("%d answers kept, at most %d wanted", n, maxKeptStatuses)
	}
	if _, ok := m.statuses[0]; !ok {
		t.Error("the running experiment's answer was forgotten before done ones")
	}
}
