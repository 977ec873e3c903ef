package deviceapi

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// FilePrefix marks an interface name that replays a file of the device's
// pcap directory instead of capturing live.
const FilePrefix = "file:"

// MaxSnaplen is the largest capture length a job may ask for.
const MaxSnaplen = 262144

// SPEC defaults of the members of JobSpec that are zero when absent.
const (
	DefaultSnaplen        = 65535
	DefaultIntervalMS     = 1000
	DefaultActiveTimeoutS = 1800
	DefaultIdleTimeoutS   = 300
)

// Values of JobSpec.Payload and JobSpec.MAC (SPEC §8), and their
// defaults when a job has a key.
const (
	PayloadStrip = "strip" // keep headers through the transport header, cut the rest
	PayloadZero  = "zero"  // keep the length, zero the payload
	PayloadKeep  = "keep"  // keep payloads as captured
	MACKeyed     = "keyed" // a keyed permutation of the address bits
	MACZero      = "zero"  // 00:00:00:00:00:00
	MACKeep      = "keep"  // MACs as captured

	DefaultPayload = PayloadStrip
	DefaultMAC     = MACKeyed
)

// CheckSanitization applies the defaults to the payload and MAC modes of
// an anonymized job or experiment (empty means the default) and checks
// them. Errors match ErrInvalid.
func CheckSanitization(payload, mac string) (string, string, error) {
	if payload == "" {
		payload = DefaultPayload
	}
	if mac == "" {
		mac = DefaultMAC
	}
	if payload != PayloadStrip && payload != PayloadZero && payload != PayloadKeep {
		return payload, mac, invalidf("payload must be %s, %s or %s, got %q", PayloadStrip, PayloadZero, PayloadKeep, payload)
	}
	if mac != MACKeyed && mac != MACZero && mac != MACKeep {
		return payload, mac, invalidf("mac must be %s, %s or %s, got %q", MACKeyed, MACZero, MACKeep, mac)
	}
	return payload, mac, nil
}

// Bounds on the durations a job may ask for; beyond them a value is more
// likely a unit mistake than a wish.
const (
	maxIntervalMS = 24 * 3600 * 1000
	maxTimeoutS   = 7 * 24 * 3600
)

// Bounds of JobSpec.RotateMB and RotateS: parts of at most a terabyte,
// or of at most a week.
const (
	MaxRotateMB = 1000000
	MaxRotateS  = 7 * 24 * 3600
)

// RotateBytes is RotateMB in bytes: a megabyte is 10^6 bytes, as for
// tcpdump -C.
func (s *JobSpec) RotateBytes() int64 { return int64(s.RotateMB) * 1000000 }

// RequestIDPrefix starts every StartJob request id, so that StopJob tells
// one from a job id (16 hex digits).
const RequestIDPrefix = "req:"

// maxRequestID bounds a request id's length.
const maxRequestID = 128

// ValidRequestID tells whether s is a StartJob request id: RequestIDPrefix
// and 1 to 124 more letters, digits, '.', '_', '-' or ':'.
func ValidRequestID(s string) bool {
	rest, ok := strings.CutPrefix(s, RequestIDPrefix)
	if !ok || rest == "" || len(s) > maxRequestID {
		return false
	}
	for _, c := range rest {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-', c == ':':
		default:
			return false
		}
	}
	return true
}

// ErrInvalid is matched (errors.Is) by every error of Check and
// CheckSettings: the specification is wrong. The error's text is the
// reason alone, saying what to change (such as "snaplen must be between 1
// and 262144, got 0"), so that each side files it under its own sentinel:
// the device answers fault 3 "invalid argument: <reason>", and the
// aggregate manager does the same with its own.
var ErrInvalid = errors.New("invalid argument")

// invalidError is why a specification is refused; it matches ErrInvalid.
type invalidError struct{ reason string }

func (e *invalidError) Error() string        { return e.reason }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalidError{reason: fmt.Sprintf(format, args...)}
}

// Check applies the SPEC defaults to the members of s that are zero when
// absent (snaplen, the counter interval, the flow timeouts) and checks
// everything that needs no device: the interface is named (a file source
// names a file without a path, and only a file source has a replay
// speed), then what CheckSettings checks. The device still has to find
// the interface and compile the filter for its link type. Errors match
// ErrInvalid.
func (s *JobSpec) Check() error {
	if s.Interface == "" {
		return invalidf("interface is required")
	}
	if strings.HasPrefix(s.Interface, FilePrefix) {
		name := strings.TrimPrefix(s.Interface, FilePrefix)
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
			return invalidf("interface %q: a file source names a file of the pcap directory, without a path", s.Interface)
		}
	} else if s.ReplaySpeed != 0 {
		return invalidf("replay_speed applies only to file: interfaces, not %q", s.Interface)
	}
	if s.RequestID != "" && !ValidRequestID(s.RequestID) {
		return invalidf("request_id %q: want %q and at most %d letters, digits, '.', '_', '-' or ':'",
			s.RequestID, RequestIDPrefix, maxRequestID-len(RequestIDPrefix))
	}
	return s.CheckSettings()
}

// CheckSettings is Check without the interface, which it ignores: what
// the aggregate manager checks of a configuration before it is paired with
// the interfaces it runs on. It applies the same defaults and checks the
// snaplen, the key's length, the replay speed's sign, the counter
// interval, the flow timeouts, the collector URL (nothing is dialed), and
// the payload and MAC modes (defaults with a key, refused without one),
// that max_storage_bytes is not negative, and the rotation bounds
// (rotate_mb 0 to MaxRotateMB, rotate_s 0 to MaxRotateS, and one of them
// only with pcap or flows). Errors match ErrInvalid.
func (s *JobSpec) CheckSettings() error {
	if s.Snaplen == 0 {
		s.Snaplen = DefaultSnaplen
	}
	if s.Snaplen < 1 || s.Snaplen > MaxSnaplen {
		return invalidf("snaplen must be between 1 and %d, got %d", MaxSnaplen, s.Snaplen)
	}
	if len(s.Key) != 0 && len(s.Key) != 32 {
		return invalidf("key must be exactly 32 bytes (the Crypto-PAn key), got %d", len(s.Key))
	}
	if len(s.Key) == 0 {
		if s.Payload != "" || s.MAC != "" {
			return invalidf("payload and mac apply only to an anonymized job (with a key)")
		}
	} else {
		var err error
		if s.Payload, s.MAC, err = CheckSanitization(s.Payload, s.MAC); err != nil {
			return err
		}
	}
	if s.MaxStorageBytes < 0 {
		return invalidf("max_storage_bytes must be 0 (no bound) or a positive number of bytes, got %d", s.MaxStorageBytes)
	}
	if s.RotateMB < 0 || s.RotateMB > MaxRotateMB {
		return invalidf("rotate_mb must be 0 (no size bound) or a number of megabytes up to %d, got %d", MaxRotateMB, s.RotateMB)
	}
	if s.RotateS < 0 || s.RotateS > MaxRotateS {
		return invalidf("rotate_s must be 0 (no time bound) or a number of seconds up to %d, got %d", MaxRotateS, s.RotateS)
	}
	if (s.RotateMB > 0 || s.RotateS > 0) && !s.Pcap && s.Flows == nil {
		return invalidf("rotate_mb and rotate_s split the pcap and flows files: they need pcap or flows")
	}
	if math.IsNaN(s.ReplaySpeed) || math.IsInf(s.ReplaySpeed, 0) || s.ReplaySpeed < 0 {
		return invalidf("replay_speed must be 0 (as fast as possible) or a positive factor, got %v", s.ReplaySpeed)
	}
	if c := s.Counters; c != nil {
		if c.IntervalMS == 0 {
			c.IntervalMS = DefaultIntervalMS
		}
		if c.IntervalMS < 1 || c.IntervalMS > maxIntervalMS {
			return invalidf("counters interval_ms must be between 1 and %d, got %d", maxIntervalMS, c.IntervalMS)
		}
	}
	if f := s.Flows; f != nil {
		if f.ActiveTimeoutS == 0 {
			f.ActiveTimeoutS = DefaultActiveTimeoutS
		}
		if f.IdleTimeoutS == 0 {
			f.IdleTimeoutS = DefaultIdleTimeoutS
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
