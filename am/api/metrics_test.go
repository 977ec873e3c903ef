package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/amapi"
)

// scrape GETs /metrics from h as user (none when empty).
func scrape(t *testing.T, h http.Handler, user, pass string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, MetricsPath, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

// post sends an XML-RPC request document to h as user (none when empty).
func post(t *testing.T, h http.Handler, user, pass, body string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, RPCPath, strings.NewReader(body))
	req.Header.Set("Content-Type", "text/xml")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
	}
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

func TestMetricsAuth(t *testing.T) {
	h := newFuzzHandler(t)
	admin := am.Principal{Name: fuzzUser, Role: am.RoleAdmin}
	if _, err := h.m.AddUser(context.Background(), admin, amapi.UserInput{Name: "bob", Password: "bob-password",
		Role: am.RoleExperimenter}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pos, user, pass string
		want            int
	}{
		{"#0", "", "", http.StatusUnauthorized},
		{"#1", fuzzUser, "wrong", http.StatusUnauthorized},
		{"#2", "bob", "bob-password", http.StatusForbidden},
		{"#3", fuzzUser, fuzzPass, http.StatusOK},
	} {
		code, body := scrape(t, h, tc.user, tc.pass)
		if code != tc.want {
			t.Errorf("%s GET /metrics as %q: HTTP %d, want %d", tc.pos, tc.user, code, tc.want)
		}
		if code != http.StatusOK && strings.Contains(body, "gims_") {
			t.Errorf("%s GET /metrics as %q shows metrics:\n%s", tc.pos, tc.user, body)
		}
	}
	post(t, h, fuzzUser, fuzzPass, call("ListUsers"))
	post(t, h, "", "", call("DeleteUser", str("bob")))
	_, body := scrape(t, h, fuzzUser, fuzzPass)
	for _, want := range []string{
		`gims_api_calls_total{method="ListUsers"} 1`,
		// Refused before the body is read: the method is not known.
		`gims_api_calls_total{method="DeleteUser"} 0`,
		`gims_api_calls_total{method="unknown"} 1`,
		`gims_api_faults_total{code="4",method="unknown"} 1`,
		`gims_api_calls_total{method="GetExperimentStatus"} 0`,
		`gims_experiments{state="running"} 0`,
		`gims_devices{state="reachable"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, body)
		}
	}
}

// TestMetricsBounded is issue 20: calls with random method names, with or
// without credentials, are counted under method "unknown" and add no
// series.
func TestMetricsBounded(t *testing.T) {
	h := newFuzzHandler(t)
	post(t, h, "", "", call("Warmup"))
	post(t, h, fuzzUser, fuzzPass, call("Warmup"))
	// A first multicall: its own duration series exist from then on.
	post(t, h, fuzzUser, fuzzPass, call("system.multicall", "<value><array><data></data></array></value>"))
	_, before := scrape(t, h, fuzzUser, fuzzPass)
	const n = 300
	for i := range n {
		post(t, h, "", "", call(fmt.Sprintf("Random%d", i)))
		post(t, h, fuzzUser, fuzzPass, call(fmt.Sprintf("Svc%d.Random", i)))
		post(t, h, fuzzUser, fuzzPass, call("system.multicall", "<value><array><data>"+
			strct("methodName", str(fmt.Sprintf("Sub%d", i)), "params", "<value><array><data></data></array></value>")+
			"</data></array></value>"))
	}
	_, after := scrape(t, h, fuzzUser, fuzzPass)
	if samples(after) != samples(before) {
		t.Errorf("%d samples after %d calls with random names, %d before:\n%s", samples(after), 3*n, samples(before), after)
	}
	if strings.Contains(after, "Random") || strings.Contains(after, "Warmup") || strings.Contains(after, "Sub1") {
		t.Errorf("a method name sent by a caller became a label:\n%s", after)
	}
	for _, want := range []string{
		fmt.Sprintf(`gims_api_calls_total{method="unknown"} %d`, 3*n+2),
		fmt.Sprintf(`gims_api_faults_total{code="4",method="unknown"} %d`, n+1),
		fmt.Sprintf(`gims_api_faults_total{code="-32601",method="unknown"} %d`, 2*n+1),
		fmt.Sprintf(`gims_api_calls_total{method="system.multicall"} %d`, n+1),
	} {
		if !strings.Contains(after, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, after)
		}
	}
}
