package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gimsproject/gims/internal/daemontest"
	"github.com/gimsproject/gims/xmlrpc"
)

// bins holds the binaries TestMain builds: gims-am and gims-capd.
var bins map[string]string

func TestMain(m *testing.M) {
	b, dir, err := daemontest.Build("..", []string{"gims-am", "gims-capd"}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins = b
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Credentials of the test AM's admin and the capture daemon's token.
const (
	adminName   = "admin"
	adminPass   = "admin-password-1"
	deviceToken = "load-test-token"
)

// daemons starts a capture daemon and an AM that knows it as device
// "local", and returns the AM with its admin URL.
func daemons(t *testing.T) (am *daemontest.Proc, url string) {
	t.Helper()
	dir := t.TempDir()
	pcaps := filepath.Join(dir, "pcaps")
	if err := os.MkdirAll(pcaps, 0o755); err != nil {
		t.Fatal(err)
	}
	capd := daemontest.Start(t, bins["gims-capd"], []string{"GIMS_DEVICE_TOKEN=" + deviceToken},
		daemontest.CapdListening,
		"-listen", "127.0.0.1:0", "-data", filepath.Join(dir, "capd"), "-pcap-dir", pcaps)
	am = daemontest.Start(t, bins["gims-am"], []string{"GIMS_ADMIN_PASSWORD=" + adminPass},
		daemontest.AMListening,
		"-listen", "127.0.0.1:0", "-db", filepath.Join(dir, "am.db"), "-data", filepath.Join(dir, "am"),
		"-init-admin", adminName, "-poll-interval", "1s", "-pull-interval", "2s",
		// Throughput, not the per-user and per-address limits (cmd/gims-am's
		// abuse tests): every client comes from 127.0.0.1.
		"-rate-limit", "1e9", "-rate-burst", "1000000000", "-admin-rate-limit", "1e9", "-admin-rate-burst", "1000000000",
		"-rate-concurrent", "100000", "-admin-rate-concurrent", "100000",
		"-http-max-connections", "4096", "-http-max-client-connections", "4096")
	url = "http://" + adminName + ":" + adminPass + "@" + am.Addr + "/RPC2"
	host, port, _ := strings.Cut(capd.Addr, ":")
	var p int
	fmt.Sscan(port, &p)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := xmlrpc.Call(ctx, nil, url, nil, "AddDevice", []any{map[string]any{"name": "local",
		"location": "test", "type": "gims-capd", "hostname": host, "port": p, "description": "gims-load test",
		"token": deviceToken, "policy": map[string]any{"require_anonymization": false}}}, nil); err != nil {
		t.Fatalf("AddDevice: %v\n%s", err, am.Log())
	}
	return am, url
}
