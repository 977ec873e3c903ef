package device

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/xmlrpc"
)

// scrape GETs /metrics with header and returns the status and body.
func (d *testDevice) scrape(t *testing.T, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, d.url+MetricsPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(body)
}

// samples counts the sample lines of an exposition.
func samples(text string) int {
	n := 0
	for _, line := range strings.Split(text, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			n++
		}
	}
	return n
}

// TestMetrics scrapes /metrics with and without the token, and checks
// that a short file job's packets are the daemon's packet counter.
func TestMetrics(t *testing.T) {
	d := newTestDevice(t)
	basic := http.Header{}
	basic.Set("Authorization", "Basic YWRtaW46YWRtaW4tcGFzc3dvcmQ=")
	for _, tc := range []struct {
		pos    string
		header http.Header
		want   int
	}{
		{"#0", http.Header{}, http.StatusUnauthorized},
		{"#1", basic, http.StatusUnauthorized},
		{"#2", bearer("not-the-token"), http.StatusForbidden},
		{"#3", bearer(testToken[:len(testToken)-1]), http.StatusForbidden},
		{"#4", bearer(testToken), http.StatusOK},
	} {
		code, body := d.scrape(t, tc.header)
		if code != tc.want {
			t.Errorf("%s GET /metrics: HTTP %d, want %d", tc.pos, code, tc.want)
		}
		if code != http.StatusOK && strings.Contains(body, "gims_") {
			t.Errorf("%s GET /metrics without the token shows metrics:\n%s", tc.pos, body)
		}
	}
	var id string
	d.mustCall(t, "StartJob", &id, map[string]any{"interface": testPcap})
	st := d.waitDone(t, id)
	if st.Packets == 0 {
		t.Fatal("the job captured nothing")
	}
	_, body := d.scrape(t, bearer(testToken))
	for _, want := range []string{
		fmt.Sprintf("gims_capd_packets_total %d\n", st.Packets),
		fmt.Sprintf("gims_capd_bytes_total %d\n", st.Bytes),
		`gims_capd_drops_total{kind="kernel"} 0`,
		`gims_capd_drops_total{kind="interface"} 0`,
		`gims_capd_drops_total{kind="sanitized"} 0`,
		`gims_capd_jobs{state="done"} 1`,
		`gims_capd_jobs{state="running"} 0`,
		`gims_capd_api_calls_total{method="StartJob"} 1`,
		`gims_capd_api_calls_total{method="ListJobs"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s:\n%s", strings.TrimSpace(want), body)
		}
	}
}

// TestMetricsBounded is issue 20 on the device: calls with random method
// names, with the token or without, add no series.
func TestMetricsBounded(t *testing.T) {
	d := newTestDevice(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	call := func(method string, header http.Header) {
		err := xmlrpc.Call(ctx, nil, d.url+deviceapi.RPCPath, header, method, nil, nil)
		if _, ok := xmlrpc.AsFault(err); !ok {
			t.Fatalf("%s: %v, want a fault", method, err)
		}
	}
	call("Warmup", http.Header{})
	call("Warmup", bearer(testToken))
	_, before := d.scrape(t, bearer(testToken))
	const n = 200
	for i := range n {
		call(fmt.Sprintf("Random%d", i), http.Header{})
		call(fmt.Sprintf("Device.Random%d", i), bearer(testToken))
	}
	_, after := d.scrape(t, bearer(testToken))
	// The Go runtime's metrics are not in this registry: the samples
	// are the device's own.
	if samples(after) != samples(before) {
		t.Errorf("%d samples after %d calls with random names, %d before:\n%s", samples(after), 2*n, samples(before), after)
	}
	if strings.Contains(after, "Random") || strings.Contains(after, "Warmup") {
		t.Errorf("a method name sent by a caller became a label:\n%s", after)
	}
	for _, want := range []string{
		fmt.Sprintf(`gims_capd_api_calls_total{method="unknown"} %d`, 2*n+2),
		fmt.Sprintf(`gims_capd_api_faults_total{code="4",method="unknown"} %d`, n+1),
		fmt.Sprintf(`gims_capd_api_faults_total{code="-32601",method="unknown"} %d`, n+1),
	} {
		if !strings.Contains(after, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, after)
		}
	}
}
