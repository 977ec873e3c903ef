package main

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/xmlrpc"
)

// TestDaemonRefusesOwnAPI: over the device API, a job on lo (which
// carries the API) without a filter is fault 3 naming the API's port,
// and one whose filter leaves the port out runs.
func TestDaemonRefusesOwnAPI(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("capturing on lo needs root (CI set: not skipping)")
		}
		t.Skip("capturing on lo needs root")
	}
	d := startGuardDaemon(t, t.TempDir())
	port := strconv.Itoa(d.c.Port)
	var id string
	var f *xmlrpc.Fault
	err := d.call(t, "StartJob", []any{map[string]any{"interface": "lo", "counters": map[string]any{}}}, &id)
	if !errors.As(err, &f) || f.Code != deviceapi.FaultInvalid ||
		!strings.Contains(f.String, `interface "lo" carries this device's own API (port `+port+`)`) {
		t.Errorf("StartJob on lo without a filter: %v, want fault 3 naming port %s", err, port)
	}
	if err := d.call(t, "StartJob", []any{map[string]any{"interface": "lo", "filter": "not port " + port,
		"counters": map[string]any{}}}, &id); err != nil {
		t.Fatalf("StartJob on lo with \"not port %s\": %v", port, err)
	}
	if err := d.call(t, "StopJob", []any{id}, nil); err != nil {
		t.Errorf("StopJob: %v", err)
	}
}
