// Command gims-load is the load test of the aggregate manager (make load):
// many concurrent XML-RPC clients against a running gims-am with several
// live experiments on one capture device.
//
// It adds a few experimenter accounts, creates and starts the live
// experiments (counters and flows, each with its own BPF filter on a UDP
// port of 127.0.0.1, where it sends datagrams so that their counters
// move), then runs the clients for the duration. Each client loops over
// weighted-random calls: GetExperimentStatus 40 %, GetExperimentResults
// 25 % (counters, flows, files), ListExperiments 10 %,
// GetExperimentSettings 10 % and 15 % a whole lifecycle of a short-lived
// experiment of its own (create, configure, start, pause, start, stop).
// At the end it stops the live experiments and prints, per method, the
// calls, calls/s, p50/p99/max latency and errors as a markdown table.
//
// Any fault, transport error or unexpected reply (a live experiment not
// running, a device unreachable, a lifecycle call leaving the wrong
// state) is an error; gims-load exits 1 when there was one.
//
//	gims-load -url http://admin:pw@127.0.0.1:8080/RPC2 -device local
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errHelp is returned by parseFlags for -h.
var errHelp = errors.New("help requested")

// parseFlags reads the command line into a Config.
func parseFlags(args []string, stderr io.Writer) (Config, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("gims-load", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.URL, "url", "", "XML-RPC `URL` of the AM with an admin's credentials (http://admin:pw@127.0.0.1:8080/RPC2)")
	fs.StringVar(&cfg.Device, "device", "", "AM device the experiments capture on (`name` or name:interface)")
	fs.StringVar(&cfg.Interface, "interface", cfg.Interface, "capture interface of a bare -device name")
	fs.IntVar(&cfg.Clients, "clients", cfg.Clients, "concurrent XML-RPC clients")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long the clients run")
	fs.IntVar(&cfg.Experiments, "experiments", cfg.Experiments, "live experiments the clients read")
	fs.IntVar(&cfg.Experimenters, "experimenters", cfg.Experimenters, "experimenter accounts made for the run (at most experiments-1)")
	fs.IntVar(&cfg.LifecycleSlots, "lifecycle-slots", 0, "short-lived experiments in flight at most (0: 32 - experiments - 2, the device's job limit)")
	fs.IntVar(&cfg.PacketRate, "pps", cfg.PacketRate, "UDP datagrams per second sent on 127.0.0.1 to the live experiments")
	fs.DurationVar(&cfg.CallTimeout, "call-timeout", cfg.CallTimeout, "timeout of each call")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of gims-load itself to this `file` (it shares the machine with the AM)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "usage: gims-load -url URL -device NAME [flags]")
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return cfg, errHelp
		}
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.URL == "" || cfg.Device == "" {
		return cfg, errors.New("-url and -device are required")
	}
	return cfg, nil
}

// run is main with its outputs: the report on stdout, progress and
// errors on stderr. It returns the exit status: 0, 1 (errors during the
// run, or the run failed) or 2 (usage).
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "gims-load: %v (-h for help)\n", err)
		return 2
	}
	cfg.Progress = stderr
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			fmt.Fprintf(stderr, "gims-load: -cpuprofile: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "gims-load: -cpuprofile: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := Run(ctx, cfg)
	if rep.Clients > 0 {
		if werr := rep.WriteTable(stdout); werr != nil {
			fmt.Fprintf(stderr, "gims-load: %v\n", werr)
			return 1
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "gims-load: %v\n", err)
		return 1
	}
	if rep.Errors() > 0 {
		fmt.Fprintf(stderr, "gims-load: %d calls failed\n", rep.Errors())
		return 1
	}
	return 0
}
