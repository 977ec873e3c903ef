package job

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLease: a running job that no call names for the lease pauses
// itself and says so in its errors; one whose status is polled (as the
// AM's monitor does) keeps running.
func TestLease(t *testing.T) {
	const lease = 300 * time.Millisecond
	m := newManager(t, "", func(c *Configuration) { c.Lease = lease })
	spec := Spec{Interface: "file:zeek__http-get.pcap", ReplaySpeed: 0.001}
	orphan, err := m.StartJob(spec)
	if err != nil {
		t.Fatalf("StartJob() error:\n%+v", err)
	}
	polled, err := m.StartJob(spec)
	if err != nil {
		t.Fatalf("StartJob() error:\n%+v", err)
	}
	// state reads a job's state without a call that would renew its lease.
	state := func(id string) State {
		m.mu.Lock()
		j := m.jobs[id]
		m.mu.Unlock()
		j.mu.Lock()
		defer j.mu.Unlock()
		return j.p.State
	}
	waitFor(t, 10*time.Second, "the orphan job to pause", func() (bool, string) {
		if st := status(t, m, polled); st.State != StateRunning {
			t.Fatalf("the polled job is %s, want running (its lease renewed)", st.State)
		}
		s := state(orphan)
		return s == StatePaused, string(s)
	})
	// The polled job outlives the lease many times over.
	for range 9 {
		if st := status(t, m, polled); st.State != StateRunning {
			t.Fatalf("the polled job is %s, want running (its lease renewed)", st.State)
		}
		time.Sleep(lease / 3)
	}
	st := status(t, m, orphan)
	want := "paused: no call from the aggregate manager for 300ms (lease)"
	if st.State != StatePaused || !slices.Contains(st.Errors, want) {
		t.Errorf("orphan job: state %s, errors %q; want paused and %q", st.State, st.Errors, want)
	}
	// The AM can resume it; the lease runs again from that call.
	if err := m.ResumeJob(orphan); err != nil {
		t.Fatalf("ResumeJob() error:\n%+v", err)
	}
	if s := state(orphan); s != StateRunning {
		t.Errorf("after ResumeJob: %s, want running", s)
	}
	if n := strings.Count(strings.Join(status(t, m, orphan).Errors, "\n"), "(lease)"); n != 1 {
		t.Errorf("the lease error shows %d times, want once", n)
	}
}

// TestLeaseZero: Lease 0 never pauses a job.
func TestLeaseZero(t *testing.T) {
	m := newManager(t, "", func(c *Configuration) { c.Lease = 0 })
	id, err := m.StartJob(Spec{Interface: "file:zeek__http-get.pcap", ReplaySpeed: 0.001})
	if err != nil {
		t.Fatalf("StartJob() error:\n%+v", err)
	}
	time.Sleep(500 * time.Millisecond)
	if st := status(t, m, id); st.State != StateRunning {
		t.Errorf("state %s, want running (no lease)", st.State)
	}
}
