package job

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/flow"
)

// Errors returned by the Manager. The device API maps them to the fault
// codes of SPEC §3 in one place; every other error is a fault of the
// device itself.
var (
	// ErrNotFound: no such job or result file (fault 1).
	ErrNotFound = errors.New("not found")
	// ErrState: the job is not in a state that allows the request, such
	// as pausing a done job (fault 2). The message names the state.
	ErrState = errors.New("invalid state transition")
	// ErrInvalid: the job specification or a request argument is wrong
	// (fault 3). The wrapped message says what to change.
	ErrInvalid = errors.New("invalid argument")
	// ErrBusy: the device already runs Configuration.MaxJobs jobs (a refusal,
	// fault 5).
	ErrBusy = errors.New("too many jobs")
)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// FilePrefix marks an interface name that replays a file of the pcap
// directory instead of capturing live.
const FilePrefix = "file:"

// MaxSnaplen is the largest capture length a job may ask for.
const MaxSnaplen = 262144

// Spec describes a capture job: the fields of the device API's StartJob
// (SPEC §4). Absent optional fields of the API are zero here; the device
// API applies the SPEC defaults that differ from Go's zero values
// (promiscuous true, biflow true) before calling StartJob.
type Spec struct {
	// Interface is a libpcap device name, or "file:<name>" for a file of
	// the pcap directory.
	Interface string `json:"interface"`
	// Filter is a BPF expression; empty takes every packet.
	Filter string `json:"filter,omitempty"`
	// Snaplen is the capture length, 1 to 262144; 0 means 65535. File
	// sources keep the file's own.
	Snaplen int `json:"snaplen,omitempty"`
	// Promiscuous puts a live interface in promiscuous mode.
	Promiscuous bool `json:"promiscuous,omitempty"`
	// Counters enables interval counters (counters.csv) when not nil.
	Counters *CountersSpec `json:"counters,omitempty"`
	// Flows enables flow aggregation (flows.ipfix, and the collector when
	// given) when not nil.
	Flows *FlowsSpec `json:"flows,omitempty"`
	// Pcap keeps the (anonymized) packets in packets.pcap.
	Pcap bool `json:"pcap,omitempty"`
	// Key is the 32-byte Crypto-PAn key; nil leaves addresses as captured.
	// It is stored in job.json (mode 0600) and never logged or returned.
	Key []byte `json:"key,omitempty"`
	// ReplaySpeed paces a file source: 0 reads as fast as possible, 1.0
	// follows the packets' timestamps, 2.0 is twice as fast. Only for
	// file sources.
	ReplaySpeed float64 `json:"replay_speed,omitempty"`
	// Experiment is the AM's experiment id, kept for listings.
	Experiment int `json:"experiment,omitempty"`
}

// CountersSpec configures interval counters.
type CountersSpec struct {
	// IntervalMS is the interval length in milliseconds; 0 means 1000.
	IntervalMS int `json:"interval_ms,omitempty"`
}

// FlowsSpec configures flow aggregation and export.
type FlowsSpec struct {
	// ActiveTimeoutS and IdleTimeoutS end flows (seconds); 0 means the
	// defaults, 1800 and 300.
	ActiveTimeoutS int `json:"active_timeout_s,omitempty"`
	IdleTimeoutS   int `json:"idle_timeout_s,omitempty"`
	// Biflow makes bidirectional (RFC 5103) flow records.
	Biflow bool `json:"biflow,omitempty"`
	// Collector is an optional "udp://host:port" or "tcp://host:port"
	// IPFIX collector, fed in addition to flows.ipfix.
	Collector string `json:"collector,omitempty"`
}

// Bounds on the durations a job may ask for; beyond them a value is more
// likely a unit mistake than a wish.
const (
	maxIntervalMS = 24 * 3600 * 1000
	maxTimeoutS   = 7 * 24 * 3600
)

// IsFile tells whether the spec replays a file of the pcap directory.
func (s Spec) IsFile() bool { return strings.HasPrefix(s.Interface, FilePrefix) }

// LogValue implements slog.LogValuer without the key.
func (s Spec) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("interface", s.Interface),
		slog.String("filter", s.Filter),
		slog.Bool("counters", s.Counters != nil),
		slog.Bool("flows", s.Flows != nil),
		slog.Bool("pcap", s.Pcap),
		slog.Bool("anonymized", len(s.Key) > 0),
	}
	if s.Experiment != 0 {
		attrs = append(attrs, slog.Int("experiment", s.Experiment))
	}
	return slog.GroupValue(attrs...)
}

// String describes the spec without the key, so that printing a Spec by
// mistake does not leak it.
func (s Spec) String() string {
	return fmt.Sprintf("job{interface=%q filter=%q anonymized=%t}", s.Interface, s.Filter, len(s.Key) > 0)
}

// check validates everything that needs no system resource, and fills the
// defaults.
func (s *Spec) check() error {
	if s.Interface == "" {
		return invalidf("interface is required")
	}
	if s.IsFile() {
		name := strings.TrimPrefix(s.Interface, FilePrefix)
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
			return invalidf("interface %q: a file source names a file of the pcap directory, without a path", s.Interface)
		}
	} else if s.ReplaySpeed != 0 {
		return invalidf("replay_speed applies only to file: interfaces, not %q", s.Interface)
	}
	if s.Snaplen == 0 {
		s.Snaplen = 65535
	}
	if s.Snaplen < 1 || s.Snaplen > MaxSnaplen {
		return invalidf("snaplen must be between 1 and %d, got %d", MaxSnaplen, s.Snaplen)
	}
	if len(s.Key) != 0 && len(s.Key) != 32 {
		return invalidf("key must be exactly 32 bytes (the Crypto-PAn key), got %d", len(s.Key))
	}
	if math.IsNaN(s.ReplaySpeed) || math.IsInf(s.ReplaySpeed, 0) || s.ReplaySpeed < 0 {
		return invalidf("replay_speed must be 0 (as fast as possible) or a positive factor, got %v", s.ReplaySpeed)
	}
	if c := s.Counters; c != nil {
		if c.IntervalMS == 0 {
			c.IntervalMS = 1000
		}
		if c.IntervalMS < 1 || c.IntervalMS > maxIntervalMS {
			return invalidf("counters interval_ms must be between 1 and %d, got %d", maxIntervalMS, c.IntervalMS)
		}
	}
	if f := s.Flows; f != nil {
		def := flow.DefaultConfiguration()
		if f.ActiveTimeoutS == 0 {
			f.ActiveTimeoutS = int(def.ActiveTimeout / time.Second)
		}
		if f.IdleTimeoutS == 0 {
			f.IdleTimeoutS = int(def.IdleTimeout / time.Second)
		}
		if f.ActiveTimeoutS < 1 || f.ActiveTimeoutS > maxTimeoutS {
			return invalidf("flows active_timeout_s must be between 1 and %d, got %d", maxTimeoutS, f.ActiveTimeoutS)
		}
		if f.IdleTimeoutS < 1 || f.IdleTimeoutS > maxTimeoutS {
			return invalidf("flows idle_timeout_s must be between 1 and %d, got %d", maxTimeoutS, f.IdleTimeoutS)
		}
		if f.Collector != "" {
			if err := checkCollector(f.Collector); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkCollector checks a collector URL before anything is dialed.
func checkCollector(raw string) error {
	fail := func(why string) error {
		return invalidf("flows collector %q: %s (want udp://host:port or tcp://host:port)", raw, why)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fail("not a URL")
	}
	if u.Scheme != "udp" && u.Scheme != "tcp" {
		return fail(fmt.Sprintf("unsupported scheme %q", u.Scheme))
	}
	if u.Opaque != "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fail("only host and port are allowed")
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return fail("no host:port")
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fail(fmt.Sprintf("bad port %q", port))
	}
	return nil
}

// countersConfig and flowConfig turn a checked spec into the transforms'
// configurations.
func (s *Spec) countersConfig() *counters.Configuration {
	if s.Counters == nil {
		return nil
	}
	return &counters.Configuration{Interval: time.Duration(s.Counters.IntervalMS) * time.Millisecond}
}

func (s *Spec) flowConfig() *flow.Configuration {
	if s.Flows == nil {
		return nil
	}
	c := flow.DefaultConfiguration()
	c.ActiveTimeout = time.Duration(s.Flows.ActiveTimeoutS) * time.Second
	c.IdleTimeout = time.Duration(s.Flows.IdleTimeoutS) * time.Second
	c.Biflow = s.Flows.Biflow
	return &c
}
