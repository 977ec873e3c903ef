package device

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/xmlrpc"
)

// TestDeleteJob: a running job is fault 2; a done one goes with its
// folder, and is then unknown (fault 1).
func TestDeleteJob(t *testing.T) {
	d := newTestDevice(t)
	spec := fullSpec()
	spec["replay_speed"] = 0.0001
	var id string
	d.mustCall(t, "StartJob", &id, spec)
	wantFault := func(code int, args ...any) {
		t.Helper()
		var f *xmlrpc.Fault
		if err := d.call(t, "DeleteJob", nil, args...); !errors.As(err, &f) || f.Code != code {
			t.Fatalf("DeleteJob(%v) = %v, want fault %d", args, err, code)
		}
	}
	wantFault(deviceapi.FaultState, id)
	d.mustCall(t, "StopJob", nil, id)
	d.waitDone(t, id)
	p, err := d.m.FilePath(id, "counters.csv")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(p)
	var ok bool
	d.mustCall(t, "DeleteJob", &ok, id)
	if !ok {
		t.Error("DeleteJob = false")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("job folder %s: %v, want gone", dir, err)
	}
	var list []deviceapi.JobSummary
	d.mustCall(t, "ListJobs", &list)
	if len(list) != 0 {
		t.Errorf("ListJobs = %+v, want none", list)
	}
	wantFault(deviceapi.FaultNotFound, id)
}
