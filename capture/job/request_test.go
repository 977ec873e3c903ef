package job

import (
	"errors"
	"sync"
	"testing"
)

// TestStartJobRequestID: a StartJob repeated with the same request id
// (the AM did not get the answer) returns the same job, also when the
// calls overlap; StopJob takes the request id, and a request cancelled
// before it arrives is refused.
func TestStartJobRequestID(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, dir)
	spec := Spec{Interface: "file:tcpreplay__test.pcap", Counters: &CountersSpec{}, ReplaySpeed: 0.01,
		RequestID: "req:test:e1:a1:p0"}
	ids := make([]string, 4)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := m.StartJob(spec)
			if err != nil {
				t.Errorf("StartJob %d: %v", i, err)
			}
			ids[i] = id
		}()
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("the same request started several jobs: %v", ids)
		}
	}
	if n := len(m.List()); n != 1 {
		t.Fatalf("%d jobs after 4 starts of one request, want 1", n)
	}
	if got := m.List()[0].RequestID; got != spec.RequestID {
		t.Errorf("ListJobs request id %q, want %q", got, spec.RequestID)
	}
	// StopJob by request id stops it; again is still a success.
	for range 2 {
		if err := m.StopJob(spec.RequestID); err != nil {
			t.Fatalf("StopJob(request id): %v", err)
		}
	}
	if st := status(t, m, ids[0]); st.State != StateDone {
		t.Errorf("job after StopJob(request id): %s, want done", st.State)
	}
	// The same request once more still names the (done) job: nothing new
	// starts.
	if id, err := m.StartJob(spec); err != nil || id != ids[0] || len(m.List()) != 1 {
		t.Errorf("StartJob of a stopped request = %q, %v with %d jobs; want the same job, no new one", id, err, len(m.List()))
	}
	// A request cancelled before it arrives is refused when it does.
	late := spec
	late.RequestID = "req:test:e1:a2:p0"
	if err := m.StopJob(late.RequestID); err != nil {
		t.Fatalf("StopJob of an unknown request: %v", err)
	}
	if _, err := m.StartJob(late); !errors.Is(err, ErrState) {
		t.Errorf("StartJob of a cancelled request = %v, want ErrState", err)
	}
	if n := len(m.List()); n != 1 {
		t.Errorf("%d jobs, want 1", n)
	}
	// Bad request ids are refused; a job id that is not one stays fault 1.
	bad := spec
	bad.RequestID = "req:no spaces"
	if _, err := m.StartJob(bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("StartJob with request id %q = %v, want ErrInvalid", bad.RequestID, err)
	}
	if err := m.StopJob("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("StopJob(nope) = %v, want ErrNotFound", err)
	}
}
