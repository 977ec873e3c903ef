package xmlrpc

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestPythonClient drives a real HTTP server from Python's standard
// xmlrpc.client (testdata/pyclient.py): every type, ints beyond 2^31,
// faults, introspection, MultiCall and Basic auth from the URL.
func TestPythonClient(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3 is required in CI (make deps installs it): %v", err)
		}
		t.Skipf("python3 not installed (make deps installs it): %v", err)
	}
	s, _, err := newTestServer(DefaultConfiguration())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	url := strings.Replace(ts.URL, "http://", "http://user:pass@", 1) + "/RPC2"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "testdata/pyclient.py", url).CombinedOutput()
	if err != nil {
		t.Fatalf("pyclient.py: %v\n%s", err, out)
	}
	if strings.TrimSpace(string(out)) != "OK" {
		t.Errorf("pyclient.py output:\n%s", out)
	}
}
