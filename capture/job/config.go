package job

import (
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/internal/check"
)

// Configuration configures a Manager. Start from DefaultConfiguration and
// set DataDir: New refuses invalid values (see Validate).
type Configuration struct {
	// DataDir holds one directory per job, DataDir/jobs/<id>/, with the
	// job's state (job.json) and its result files. Required.
	DataDir string
	// PcapDir is where "file:<name>" sources are looked up. Empty disables
	// file sources.
	PcapDir string
	// MapFiles reads the pcap files of file sources through a memory
	// mapping (capture.Source.MapFile) instead of read(2). Default false:
	// which costs less depends on the host. On round 7's host the mapping
	// cost 1.2–2.2 times the run, and on round 8's it saved 5–23 %
	// (bench/RESULTS.md, "Issue 14, round 7" and "round 8"); read(2)
	// never costs double.
	MapFiles bool
	// Logger receives job lifecycle events. Default: discard; required.
	Logger *slog.Logger
	// Now is the clock for timestamps, elapsed and interrupted times.
	// Default time.Now; required. Replay pacing always follows the wall
	// clock.
	Now func() time.Time
	// MaxJobs bounds the jobs that are running or paused at once; StartJob
	// beyond it fails with ErrBusy. Default 32; at least 1.
	MaxJobs int
	// CheckpointInterval is how often a running job's job.json is
	// rewritten, which bounds how much running time and how many counted
	// packets a crash forgets (the files keep every packet written).
	// Default 1s: a small file, rewritten in place of the old one. It
	// must be positive.
	CheckpointInterval time.Duration
	// Filters bounds the compilation of the jobs' BPF filters (size,
	// terms, time, memory; see capture.FilterConfiguration). Default
	// capture.DefaultFilterConfiguration; gims-capd compiles in a child.
	Filters capture.FilterConfiguration
	// Capture selects the engine of live jobs and sizes its ring
	// (gims-capd -capture-engine, -ring-mb): default
	// capture.DefaultEngineConfiguration, the afpacket engine (a
	// TPACKET_V3 ring of 64 MiB per job) with libpcap for what it
	// cannot open.
	Capture capture.EngineConfiguration
	// Collectors are the networks a job's flows collector may be in: the
	// device's owner decides where the device sends flows, so that an
	// experimenter cannot make it connect anywhere (and learn which ports
	// are open). A collector named by host name must resolve only into
	// them; the job then dials the address it resolved to. Default:
	// loopback only (127.0.0.0/8, ::1/128); empty refuses every collector.
	Collectors []netip.Prefix
	// MinFree is the free space, in bytes, a job leaves in the file
	// system of DataDir (gims-capd's -min-free): when it falls under it,
	// every running job stops itself (done, files flushed and closed,
	// the reason in its errors), and StartJob refuses new jobs (ErrBusy,
	// fault 5). Checked every flushInterval, so a job writes at most
	// about a second of results past it. Default 1 GiB; 0 disables.
	MinFree int64
	// Lease is the dead-man switch of captures orphaned by a lost
	// aggregate manager (SPEC §9): a running job that no device API call
	// has named (JobStatus, PauseJob, ResumeJob, StopJob, JobResults, a
	// file download) for that long pauses itself and says so in its
	// errors. The AM's monitor polls each running job's status every
	// poll interval, which renews it. Default 10m; 0 never pauses; not
	// negative.
	Lease time.Duration
	// Policy is the device owner's own limit on jobs (gims-capd -policy,
	// SPEC §9): StartJob refuses a job that breaks one of its rules
	// (ErrNotAllowed, fault 4, naming the rule), a job asking for no
	// storage bound or a larger one than Policy.MaxStorageBytes gets that
	// one, and a running job stops itself after Policy.MaxDurationS of
	// running time (pauses excluded), the reason in its errors. Default:
	// the zero Policy, which imposes nothing. New fills its absent
	// members (deviceapi.Policy.Normalize).
	Policy deviceapi.Policy
	// APIAddr is the address the daemon's own API listens on (ip:port,
	// as its listener reports it), so that a live job on an interface
	// that carries it is refused (ErrInvalid, fault 3, naming the port)
	// unless its filter leaves out the API's traffic (SPEC §9): a
	// capture there would record the API's bearer tokens and feed on
	// its own result downloads. Empty: no such check.
	APIAddr string
	// NoSync writes job.json without flushing it to the disk (fsync): a
	// crash of the machine, not only of the daemon, may then lose a job's
	// last state. For simulated devices (gims-capd -simulate), a thousand
	// of which share one disk and need no durability. Default false.
	NoSync bool
}

// Defaults of Configuration.
const (
	DefaultMaxJobs            = 32
	DefaultCheckpointInterval = time.Second
	DefaultMinFree            = 1 << 30
	DefaultLease              = 10 * time.Minute
)

// flushInterval is how often buffered outputs reach the files: a SIGKILL
// loses at most about that much of a job's results.
const flushInterval = time.Second

// DefaultConfiguration returns the default configuration (DataDir still has to be
// set).
func DefaultConfiguration() Configuration {
	return Configuration{
		Logger:             slog.New(slog.DiscardHandler),
		Now:                time.Now,
		MaxJobs:            DefaultMaxJobs,
		CheckpointInterval: DefaultCheckpointInterval,
		Filters:            capture.DefaultFilterConfiguration(),
		Capture:            capture.DefaultEngineConfiguration(),
		Collectors:         DefaultCollectors(),
		MinFree:            DefaultMinFree,
		Lease:              DefaultLease,
	}
}

// DefaultCollectors is the default of Configuration.Collectors: loopback.
func DefaultCollectors() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// Validate names the field that is wrong, the rule and the value given.
func (c Configuration) Validate() error {
	return check.First(
		check.Set("DataDir", c.DataDir != "", "set (the folder of jobs and results)"),
		check.Set("Logger", c.Logger != nil, "set"),
		check.Set("Now", c.Now != nil, "set"),
		check.Positive("MaxJobs", c.MaxJobs),
		check.Positive("CheckpointInterval", c.CheckpointInterval),
		check.Nested("Filters", c.Filters.Validate()),
		check.Nested("Capture", c.Capture.Validate()),
		check.Set("Collectors", !slices.ContainsFunc(c.Collectors, func(p netip.Prefix) bool { return !p.IsValid() }),
			"valid networks"),
		check.NotNegative("MinFree", c.MinFree),
		check.NotNegative("Lease", c.Lease),
		check.Nested("Policy", c.Policy.Normalize()),
		check.Set("APIAddr", c.APIAddr == "" || validAddrPort(c.APIAddr), "empty or ip:port"),
	)
}

// validAddrPort tells whether s is an ip:port.
func validAddrPort(s string) bool {
	_, err := netip.ParseAddrPort(s)
	return err == nil
}
