package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gimsproject/gims/internal/servertiming"
)

// TestServerTiming calls the API over HTTP, an experiment running on two
// simulated capture devices (the real device API and capture path), and
// checks each answer's Server-Timing header: present, device time above
// zero for the calls that wait on the devices (pause, start, stop) and
// zero for the status (answered from memory), device ≤ total, am =
// total − device, and database write time (within am) for the transitions. /metrics then has the AM's own time per method.
func TestServerTiming(t *testing.T) {
	h, id := runningStatusHandler(t, 2)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		pos    string
		method string
		device bool // waits on the devices
	}{
		{"#0", "GetExperimentStatus", false},
		{"#1", "PauseExperiment", true},
		{"#2", "GetExperimentStatus", false},
		{"#3", "StartExperiment", true},
		{"#4", "StopExperiment", true},
		{"#5", "GetExperimentStatus", false},
	} {
		req, err := http.NewRequest(http.MethodPost, srv.URL+RPCPath, strings.NewReader(call(tc.method, num(int(id)))))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/xml")
		req.SetBasicAuth(benchUser, benchPass)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.pos, tc.method, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || strings.Contains(string(body), "faultCode") {
			t.Fatalf("%s %s: HTTP %d: %.300s", tc.pos, tc.method, resp.StatusCode, body)
		}
		value := resp.Header.Get(servertiming.Header)
		got := servertiming.Parse(value)
		device, okD := got[servertiming.Device]
		own, okA := got[servertiming.AM]
		total, okT := got[servertiming.Total]
		db, okW := got[servertiming.DB]
		pool, okP := got[servertiming.Pool]
		if !okD || !okA || !okT || !okW || !okP {
			t.Fatalf("%s %s: Server-Timing %q: want device, db, am, total and pool", tc.pos, tc.method, value)
		}
		if pool > device+5*time.Microsecond {
			t.Errorf("%s %s: Server-Timing %q: pool is part of device", tc.pos, tc.method, value)
		}
		if tc.device && db <= 0 { // the transitions are recorded
			t.Errorf("%s %s: Server-Timing %q: no database write time", tc.pos, tc.method, value)
		}
		if db > own+5*time.Microsecond {
			t.Errorf("%s %s: Server-Timing %q: db is part of am", tc.pos, tc.method, value)
		}
		if tc.device && device <= 0 {
			t.Errorf("%s %s: Server-Timing %q: device time 0, the call waits on the devices", tc.pos, tc.method, value)
		}
		if !tc.device && device != 0 {
			t.Errorf("%s %s: Server-Timing %q: device time above 0, the call is answered from memory", tc.pos, tc.method,
				value)
		}
		if device > total || total <= 0 {
			t.Errorf("%s %s: Server-Timing %q: want 0 < device ≤ total", tc.pos, tc.method, value)
		}
		if diff := total - device - own; diff < -5*time.Microsecond || diff > 5*time.Microsecond { // rounding
			t.Errorf("%s %s: Server-Timing %q: am is not total − device", tc.pos, tc.method, value)
		}
	}
	code, text := scrape(t, h, fuzzUser, fuzzPass)
	if code != http.StatusOK {
		t.Fatalf("/metrics: HTTP %d", code)
	}
	for _, want := range []string{
		`gims_api_am_seconds_count{method="StartExperiment"} 1`,
		`gims_api_device_seconds_count{method="StartExperiment"} 1`,
		`gims_api_am_seconds_count{method="GetExperimentStatus"} 3`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics has no line %q", want)
		}
	}
	if !strings.Contains(text, `gims_api_device_seconds_bucket{method="GetExperimentStatus",le="0.001"} 3`) {
		t.Errorf("/metrics: GetExperimentStatus waited on devices:\n%s", grepLines(text, "gims_api_device_seconds"))
	}
}

// grepLines returns the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
