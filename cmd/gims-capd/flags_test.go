package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/gimsproject/gims/capture/job"
	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/flow"
)

// TestFlagsDefaults checks that the flags start from the components'
// DefaultConfiguration.
func TestFlagsDefaults(t *testing.T) {
	o, err := parseFlags(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("parseFlags() error:\n%+v", err)
	}
	if got, want := o.offline.counters, counters.DefaultConfiguration(); got != want {
		t.Errorf("counters %+v, want %+v", got, want)
	}
	if got, want := o.offline.flows, flow.DefaultConfiguration(); got != want {
		t.Errorf("flows %+v, want %+v", got, want)
	}
	want := job.DefaultConfiguration()
	if got := o.daemon.jobs; got.MaxJobs != want.MaxJobs || got.CheckpointInterval != want.CheckpointInterval || got.Lease != want.Lease ||
		got.DataDir != "gims-capd-data" || got.PcapDir != "" || got.MinFree != job.DefaultMinFree {
		t.Errorf("jobs %+v, want %+v with DataDir gims-capd-data", got, want)
	}
	if o, err := parseFlags([]string{"-lease", "0"}, &bytes.Buffer{}); err != nil || o.daemon.jobs.Lease != 0 {
		t.Errorf("parseFlags(-lease 0) = %v, %v; want 0 (never)", o.daemon.jobs.Lease, err)
	}
	o, err = parseFlags([]string{"-biflow=false", "-idle-timeout", "10s"}, &bytes.Buffer{})
	if err != nil || o.offline.flows.Biflow || o.offline.flows.IdleTimeout.String() != "10s" {
		t.Errorf("parseFlags() = %+v, %v", o.offline.flows, err)
	}
}

// TestInvalidFlags checks that every invalid value is refused with exit
// status 2 and one line naming the flag, in both modes, before anything
// is opened.
func TestInvalidFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"negative counter interval", []string{"-counter-interval", "-5s"},
			"gims-capd: -counter-interval must be positive, got -5s\n"},
		{"zero active timeout", []string{"-active-timeout", "0s"},
			"gims-capd: -active-timeout must be positive, got 0s\n"},
		{"negative idle timeout", []string{"-idle-timeout", "-1s"},
			"gims-capd: -idle-timeout must be positive, got -1s\n"},
		{"offline negative idle timeout", []string{"-r", samplePcap, "-idle-timeout", "-1s"},
			"gims-capd: -idle-timeout must be positive, got -1s\n"},
		{"no data folder", []string{"-data", ""},
			"gims-capd: -data must be set (the folder of jobs and results)\n"},
		{"zero header timeout", []string{"-http-read-header-timeout", "0s"},
			"gims-capd: -http-read-header-timeout must be positive, got 0s\n"},
		{"zero connections", []string{"-http-max-connections", "0"},
			"gims-capd: -http-max-connections must be positive, got 0\n"},
		{"negative lease", []string{"-lease", "-1m"},
			"gims-capd: -lease must be zero or more, got -1m0s\n"},
		{"zero filter timeout", []string{"-filter-timeout", "0s"},
			"gims-capd: -filter-timeout must be positive, got 0s\n"},
		{"plain HTTP on all interfaces", []string{"-listen", ":8081"},
			"gims-capd: refusing to listen on :8081 in plain HTTP: secrets would cross the network in the clear; give -tls-cert and -tls-key, or -insecure-plaintext\n"},
		{"certificate without key", []string{"-tls-cert", "dev.crt"},
			"gims-capd: -tls-key must be set when a certificate is given\n"},
		{"client CA without TLS", []string{"-tls-client-ca", "ca.crt"},
			"gims-capd: -tls-cert must be set to verify client certificates\n"},
		{"negative min free", []string{"-min-free", "-1"},
			"gims-capd: -min-free must be zero or more, got -1\n"},
		{"min free without a number", []string{"-min-free", "lots"},
			`gims-capd: invalid value "lots" for flag -min-free: "lots" is not a size (bytes, or a number with a unit like 512MiB, 1GiB, 10GB)` + "\n"},
		{"min free unknown unit", []string{"-min-free", "1XB"},
			`gims-capd: invalid value "1XB" for flag -min-free: "1XB" is not a size (bytes, or a number with a unit like 512MiB, 1GiB, 10GB)` + "\n"},
		{"min free too large", []string{"-min-free", "9000000TiB"},
			`gims-capd: invalid value "9000000TiB" for flag -min-free: "9000000TiB" is too large` + "\n"},
		{"negative simulate", []string{"-simulate", "-1"},
			"gims-capd: -simulate -1: want 0 (a real device) to 10000 simulated devices\n"},
		{"simulate with register", []string{"-simulate", "2", "-register", "http://127.0.0.1:8080/RPC2"},
			"gims-capd: -simulate and -register do not go together: add simulated devices with AddDevice\n"},
		{"no simulated packets", []string{"-simulate", "2", "-simulate-pps", "0"},
			"gims-capd: -simulate-pps 0: want 1 to 1000000 packets per second\n"},
		{"unparsable duration", []string{"-counter-interval", "often"},
			`gims-capd: invalid value "often" for flag -counter-interval: parse error` + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(context.Background(), tc.args, &stderr); code != exitUsage {
				t.Errorf("run() = %d, want %d; stderr:\n%s", code, exitUsage, stderr.String())
			}
			if got := stderr.String(); got != tc.want {
				t.Errorf("stderr:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestInvalidFlagsBinary runs the built daemon with an invalid value:
// exit status 2 and one line on stderr.
func TestInvalidFlagsBinary(t *testing.T) {
	dir := t.TempDir()
	code, stderr := runCapd(t, nil, "-listen", "127.0.0.1:0", "-data", filepath.Join(dir, "data"),
		"-counter-interval", "-5s")
	if code != exitUsage || stderr != "gims-capd: -counter-interval must be positive, got -5s\n" {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestMinFreeFlag checks the sizes -min-free takes.
func TestMinFreeFlag(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		want int64
	}{
		{"0", 0}, {"1048576", 1 << 20}, {"512MiB", 512 << 20}, {"1GiB", 1 << 30}, {"1gib", 1 << 30},
		{"1.5 GiB", 3 << 29}, {"10GB", 10e9}, {"64kB", 64000}, {"100B", 100}, {"2TiB", 2 << 40},
	} {
		o, err := parseFlags([]string{"-min-free", tc.arg}, &bytes.Buffer{})
		if err != nil || o.daemon.jobs.MinFree != tc.want {
			t.Errorf("-min-free %s: %d, %v; want %d", tc.arg, o.daemon.jobs.MinFree, err, tc.want)
		}
	}
	for n, want := range map[int64]string{0: "0", 1 << 30: "1GiB", 512 << 20: "512MiB", 1000: "1000", 3 << 10: "3KiB"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
		if back, err := parseSize(formatSize(n)); err != nil || back != n {
			t.Errorf("parseSize(formatSize(%d)) = %d, %v", n, back, err)
		}
	}
}
