package job

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gimsproject/gims/deviceapi"
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
	// (fault 3). The wrapped message says what to change; the checks
	// that need no device are deviceapi's, whose errors it wraps.
	ErrInvalid = errors.New("invalid argument")
	// ErrBusy: the device already runs Configuration.MaxJobs jobs, or
	// its data folder has less free space than Configuration.MinFree
	// (then ErrNoSpace too): a refusal, fault 5.
	ErrBusy = errors.New("too many jobs")
	// ErrNotAllowed: the device's owner does not allow the job, such as
	// a flows collector outside Configuration.Collectors (fault 4).
	ErrNotAllowed = errors.New("not allowed by this device")
)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Spec describes a capture job: the fields of the device API's StartJob
// (SPEC §4), as job.json keeps them. Absent optional fields of the API are
// zero here; SpecOf applies the SPEC defaults that differ from Go's zero
// values (promiscuous true, biflow true) before StartJob.
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
	// Payload and MAC are the sanitization modes of a job with a key
	// (SPEC §8: deviceapi.PayloadStrip... and deviceapi.MACKeyed...). A
	// job.json written before they existed has neither: such a job
	// resumes with the defaults, strip and keyed (Sanitization).
	Payload string `json:"payload,omitempty"`
	MAC     string `json:"mac,omitempty"`
	// ReplaySpeed paces a file source: 0 reads as fast as possible, 1.0
	// follows the packets' timestamps, 2.0 is twice as fast. Only for
	// file sources.
	ReplaySpeed float64 `json:"replay_speed,omitempty"`
	// MaxStorageBytes bounds the size of the job's result files
	// (deviceapi.JobSpec.MaxStorageBytes): at it the job stops itself,
	// done, with the reason in its errors. 0 means no bound, and so does
	// its absence from a job.json written before it existed.
	MaxStorageBytes int64 `json:"max_storage_bytes,omitempty"`
	// RotateMB and RotateS split packets.pcap and flows.ipfix into parts
	// (deviceapi.JobSpec.RotateMB): packets-00001.pcap… and
	// flows-00001.ipfix…, each a complete file. A part's time is the
	// capture's: the packets' timestamps (for a live capture, the clock
	// when they were captured, and the daemon's clock when none come; for
	// a file source, only the timestamps, so a replay splits the same at
	// any speed). 0 leaves that bound out.
	RotateMB int `json:"rotate_mb,omitempty"`
	RotateS  int `json:"rotate_s,omitempty"`
	// Experiment is the AM's experiment id, kept for listings.
	Experiment int `json:"experiment,omitempty"`
	// RequestID is the StartJob request id (deviceapi.JobSpec.RequestID)
	// that made the job: kept, so that a StartJob repeated after a
	// restart still finds it.
	RequestID string `json:"request_id,omitempty"`
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

// IsFile tells whether the spec replays a file of the pcap directory.
func (s Spec) IsFile() bool { return strings.HasPrefix(s.Interface, deviceapi.FilePrefix) }

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
	if len(s.Key) > 0 {
		payload, mac := s.Sanitization()
		attrs = append(attrs, slog.String("payload", payload), slog.String("mac", mac))
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

// check applies the defaults and validates everything that needs no
// system resource, by the device API's own checks (deviceapi.JobSpec.Check).
func (s *Spec) check() error {
	w := s.wire()
	if err := w.Check(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	s.Snaplen = w.Snaplen
	s.Payload, s.MAC = w.Payload, w.MAC
	if s.Counters != nil {
		s.Counters.IntervalMS = w.Counters.IntervalMS
	}
	if s.Flows != nil {
		s.Flows.ActiveTimeoutS, s.Flows.IdleTimeoutS = w.Flows.ActiveTimeoutS, w.Flows.IdleTimeoutS
	}
	return nil
}

// wire is the spec as the device API's StartJob takes it.
func (s *Spec) wire() deviceapi.JobSpec {
	prom := s.Promiscuous
	w := deviceapi.JobSpec{
		Interface: s.Interface, Filter: s.Filter, Snaplen: s.Snaplen, Promiscuous: &prom,
		Pcap: s.Pcap, Key: s.Key, Payload: s.Payload, MAC: s.MAC, ReplaySpeed: s.ReplaySpeed, Experiment: s.Experiment,
		RequestID: s.RequestID, MaxStorageBytes: s.MaxStorageBytes, RotateMB: s.RotateMB, RotateS: s.RotateS,
	}
	if c := s.Counters; c != nil {
		w.Counters = &deviceapi.CountersSpec{IntervalMS: c.IntervalMS}
	}
	if f := s.Flows; f != nil {
		biflow := f.Biflow
		w.Flows = &deviceapi.FlowsSpec{ActiveTimeoutS: f.ActiveTimeoutS, IdleTimeoutS: f.IdleTimeoutS,
			Biflow: &biflow, Collector: f.Collector}
	}
	return w
}

// SpecOf is the job specification of the device API's StartJob struct,
// with the SPEC defaults that differ from Go's zero values (promiscuous
// and biflow true).
func SpecOf(w *deviceapi.JobSpec) Spec {
	spec := Spec{
		Interface:   w.Interface,
		Filter:      w.Filter,
		Snaplen:     w.Snaplen,
		Promiscuous: w.IsPromiscuous(),
		Pcap:        w.Pcap,
		Key:         w.Key,
		Payload:     w.Payload,
		MAC:         w.MAC,
		ReplaySpeed: w.ReplaySpeed,
		Experiment:  w.Experiment,
		RequestID:   w.RequestID,

		MaxStorageBytes: w.MaxStorageBytes,
		RotateMB:        w.RotateMB,
		RotateS:         w.RotateS,
	}
	if c := w.Counters; c != nil {
		spec.Counters = &CountersSpec{IntervalMS: c.IntervalMS}
	}
	if f := w.Flows; f != nil {
		spec.Flows = &FlowsSpec{
			ActiveTimeoutS: f.ActiveTimeoutS,
			IdleTimeoutS:   f.IdleTimeoutS,
			Biflow:         f.IsBiflow(),
			Collector:      f.Collector,
		}
	}
	return spec
}

// Sanitization returns the effective payload and MAC modes of a job with
// a key: the spec's, or the defaults when they are empty (a job.json
// written before they existed). Without a key it returns "", "".
func (s *Spec) Sanitization() (payload, mac string) {
	if len(s.Key) == 0 {
		return "", ""
	}
	payload, mac = s.Payload, s.MAC
	if payload == "" {
		payload = deviceapi.DefaultPayload
	}
	if mac == "" {
		mac = deviceapi.DefaultMAC
	}
	return payload, mac
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
