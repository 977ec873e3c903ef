// Command gims-capd is the GIMS capture daemon: the device API at /RPC2,
// result files at /files/ and Prometheus metrics at /metrics, all behind
// a bearer token. With -r it is the offline flow meter of SPEC §7: it runs
// a pcap/pcapng file through the capture path and exits.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gimsproject/gims/capture"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit statuses (SPEC §7).
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// usageError is a bad argument or filter: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func main() {
	// A child started to compile a BPF filter does that and exits.
	capture.ServeFilterChild()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// run parses the command line, runs the chosen mode and maps its error to
// an exit status, printing one line on stderr for it.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, errHelp) {
		return exitOK
	}
	if err == nil {
		if opts.offline.input != "" {
			err = runOffline(ctx, opts.offline, stderr)
		} else if opts.daemon.simulate > 0 {
			err = runSimulated(ctx, opts.daemon, stderr)
		} else {
			err = runDaemon(ctx, opts.daemon, stderr)
		}
	}
	var usage usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "gims-capd: %v\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "gims-capd: %v\n", err)
		return exitRuntime
	}
}
