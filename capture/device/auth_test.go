package device

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/xmlrpc"
)

// TestAuthorizationMatrix calls every device method as every kind of
// caller: only the AM's bearer token gets through; nothing changes for
// the others.
func TestAuthorizationMatrix(t *testing.T) {
	d := newTestDevice(t)
	var id string
	d.mustCall(t, "StartJob", &id, map[string]any{"interface": testPcap, "replay_speed": 0.01})
	methods := []struct {
		name string
		args []any
	}{
		{"Capabilities", nil},
		{"StartJob", []any{map[string]any{"interface": testPcap}}},
		{"PauseJob", []any{id}},
		{"ResumeJob", []any{id}},
		{"StopJob", []any{id}},
		{"DeleteJob", []any{id}},
		{"JobStatus", []any{id}},
		{"JobResults", []any{id, map[string]any{"kind": "files"}}},
		{"ListJobs", nil},
		{"system.listMethods", nil},
		{"system.methodHelp", []any{"StartJob"}},
	}
	var listed []string
	d.mustCall(t, "system.listMethods", &listed)
	if len(listed) != len(methods)+1 { // + system.multicall, tested in TestMulticallNeedsToken
		t.Errorf("system.listMethods = %v: the matrix must cover every method", listed)
	}
	basic := http.Header{}
	basic.Set("Authorization", "Basic YWRtaW46YWRtaW4tcGFzc3dvcmQ=") // an AM user's credentials
	callers := []struct {
		name   string
		header http.Header
	}{
		{"none", http.Header{}},
		{"wrong token", bearer("not-the-token")},
		{"token prefix", bearer(testToken[:len(testToken)-1])},
		{"AM user password", basic},
	}
	for _, m := range methods {
		for _, c := range callers {
			t.Run(m.name+"/"+c.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				err := xmlrpc.Call(ctx, nil, d.url+deviceapi.RPCPath, c.header, m.name, m.args, nil)
				if f, ok := xmlrpc.AsFault(err); !ok || f.Code != deviceapi.FaultAuth {
					t.Errorf("%s as %s = %v, want fault %d", m.name, c.name, err, deviceapi.FaultAuth)
				}
			})
		}
	}
	var st deviceapi.JobStatus
	d.mustCall(t, "JobStatus", &st, id)
	var jobs []deviceapi.JobSummary
	d.mustCall(t, "ListJobs", &jobs)
	if st.State != "running" || len(jobs) != 1 {
		t.Errorf("refused calls changed the device: job %s, %d jobs", st.State, len(jobs))
	}
	// The token itself passes for every method (the outcome past
	// authentication is each method's own).
	for _, m := range methods {
		if m.name == "StartJob" || m.name == "StopJob" {
			continue
		}
		if err := d.call(t, m.name, nil, m.args...); err != nil {
			if f, ok := xmlrpc.AsFault(err); ok && f.Code == deviceapi.FaultAuth {
				t.Errorf("%s with the token: %v", m.name, err)
			}
		}
	}
}
