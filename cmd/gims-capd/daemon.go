package main

import (
	"context"
	"io"
)

// runDaemon runs the capture daemon's device API (SPEC §4).
func runDaemon(ctx context.Context, o daemonOptions, stderr io.Writer) error {
	return usagef("daemon mode is not built yet; use -r FILE for the offline flow meter")
}
