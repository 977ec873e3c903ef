package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/db"
)

// TestFlagsDefaults checks that the flags start from the components'
// DefaultConfiguration.
func TestFlagsDefaults(t *testing.T) {
	o, err := parseFlags(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("parseFlags() error:\n%+v", err)
	}
	wantAM, wantDB := am.DefaultConfiguration(), db.DefaultConfiguration()
	if o.am.PollInterval != wantAM.PollInterval || o.am.PullInterval != wantAM.PullInterval ||
		o.am.RefreshInterval != wantAM.RefreshInterval || o.am.DeviceTimeout != wantAM.DeviceTimeout ||
		o.am.BcryptCost != wantAM.BcryptCost || o.am.AuditRetention != wantAM.AuditRetention || o.am.DataDir != "data" {
		t.Errorf("am configuration %+v, want the defaults %+v with DataDir data", o.am, wantAM)
	}
	if o.db.BusyTimeout != wantDB.BusyTimeout || o.db.MaxOpenConns != wantDB.MaxOpenConns || o.db.Path != "gims.db" {
		t.Errorf("db configuration %+v, want the defaults %+v with Path gims.db", o.db, wantDB)
	}
	o, err = parseFlags([]string{"-poll-interval", "250ms", "-bcrypt-cost", "4"}, &bytes.Buffer{})
	if err != nil || o.am.PollInterval != 250*time.Millisecond || o.am.BcryptCost != 4 {
		t.Errorf("parseFlags() = %+v, %v", o.am, err)
	}
}

// TestInvalidFlags checks that every invalid value is refused with exit
// status 2 and one line naming the flag, before anything is opened.
func TestInvalidFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-poll-interval", "-5s"}, "gims-am: -poll-interval must be positive, got -5s\n"},
		{[]string{"-retention", "-1h"}, "gims-am: -retention must be zero or more, got -1h0m0s\n"},
		{[]string{"-audit-retention", "-1s"}, "gims-am: -audit-retention must be zero or more, got -1s\n"},
		{[]string{"-pull-interval", "0s"}, "gims-am: -pull-interval must be positive, got 0s\n"},
		{[]string{"-refresh-interval", "-1m"}, "gims-am: -refresh-interval must be positive, got -1m0s\n"},
		{[]string{"-device-timeout", "0s"}, "gims-am: -device-timeout must be positive, got 0s\n"},
		{[]string{"-bcrypt-cost", "3"}, "gims-am: -bcrypt-cost must be between 4 and 31, got 3\n"},
		{[]string{"-bcrypt-cost", "32"}, "gims-am: -bcrypt-cost must be between 4 and 31, got 32\n"},
		{[]string{"-data", ""}, "gims-am: -data must be set (the folder of result files)\n"},
		{[]string{"-db", ""}, "gims-am: -db must be set (the SQLite file)\n"},
		{[]string{"-log-level", "loud"}, `gims-am: -log-level "loud": slog: level string "loud": unknown name` + "\n"},
		{[]string{"-poll-interval", "soon"}, `gims-am: invalid value "soon" for flag -poll-interval: parse error` + "\n"},
		{[]string{"-http-read-timeout", "0s"}, "gims-am: -http-read-timeout must be positive, got 0s\n"},
		{[]string{"-http-max-client-connections", "500"},
			"gims-am: -http-max-client-connections must be between 1 and 256, got 500\n"},
		{[]string{"-filter-max-terms", "0"}, "gims-am: -filter-max-terms must be positive, got 0\n"},
		{[]string{"-filter-max-memory", "1000"}, "gims-am: -filter-max-memory must be between 67108864 and 1099511627776, got 1000\n"},
		{[]string{"-rate-limit", "0"}, "gims-am: -rate-limit must be positive, got 0\n"},
		{[]string{"-device-timeout", "1m"}, "gims-am: -http-write-timeout 2m0s must be at least 3 × -device-timeout (1m0s)\n"},
		{[]string{"-admin-rate-burst", "-1"}, "gims-am: -admin-rate-burst must be positive, got -1\n"},
		{[]string{"-nope"}, "gims-am: flag provided but not defined: -nope\n"},
		{[]string{"-listen", "0.0.0.0:8080"}, "gims-am: refusing to listen on 0.0.0.0:8080 in plain HTTP: secrets would cross the network in the clear; give -tls-cert and -tls-key, or -insecure-plaintext\n"},
		{[]string{"-tls-key", "am.key"}, "gims-am: -tls-cert must be set when a key is given\n"},
		{[]string{"extra"}, `gims-am: unexpected argument "extra"` + "\n"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"-db", filepath.Join(dir, "am.db"), "-data", filepath.Join(dir, "data")}, tc.args...)
			var stderr bytes.Buffer
			if code := run(context.Background(), args, func(string) string { return "" }, &stderr); code != 2 {
				t.Errorf("run() = %d, want 2; stderr:\n%s", code, stderr.String())
			}
			if got := stderr.String(); got != tc.want {
				t.Errorf("stderr:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestInvalidFlagsBinary runs the built daemon with an invalid interval:
// exit status 2, one line on stderr, and nothing created.
func TestInvalidFlagsBinary(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(bins["gims-am"], "-listen", "127.0.0.1:0", "-db", filepath.Join(dir, "am.db"),
		"-data", filepath.Join(dir, "data"), "-poll-interval", "-5s")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit %v, want status 2; stderr:\n%s", err, stderr.String())
	}
	if got, want := stderr.String(), "gims-am: -poll-interval must be positive, got -5s\n"; got != want {
		t.Errorf("stderr:\n got %q\nwant %q", got, want)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "*")); len(matches) != 0 {
		t.Errorf("refused flags created %v", matches)
	}
}
