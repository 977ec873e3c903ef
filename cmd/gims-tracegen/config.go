package main

import (
	"errors"
	"fmt"
	"time"
)

// Limits on the configuration. They keep every computed quantity inside
// int64 arithmetic and every 5-tuple unique (see clientPorts).
const (
	maxPackets  = 1_000_000_000
	maxFlows    = 100_000_000
	maxDuration = 24 * time.Hour
	// defaultSnaplen is written to the file header when no -snaplen is given
	// (libpcap's default since 4.x).
	defaultSnaplen = 262144
	// minSnaplen keeps at least the Ethernet, VLAN and IP headers.
	minSnaplen = 64
)

// Config describes the trace to generate. The same Config always produces a
// byte-identical file.
type Config struct {
	// Packets is the exact number of packets in the trace. Default 1,000,000.
	Packets int
	// Flows is the exact number of flows (TCP connections, UDP
	// request/response pairs and streams, ICMP echo sessions), each with a
	// unique 5-tuple. Default 120,000.
	Flows int
	// Seed selects the pseudo-random sequence. Default 1.
	Seed uint64
	// IPv6Share is the fraction of flows carried over IPv6, in [0,1].
	// Default 0.3.
	IPv6Share float64
	// VLANShare is the fraction of flows whose frames carry an 802.1Q tag,
	// in [0,1]. Default 0.08.
	VLANShare float64
	// Snaplen caps the captured bytes of every packet (caplen < len for
	// longer frames), as truncating captures do. 0 keeps whole frames.
	// Default 0.
	Snaplen int
	// Duration is the simulated time the trace spans. Default 5 minutes.
	Duration time.Duration
	// Start is the timestamp of the start of the trace. It is a constant so
	// the output does not depend on the clock. Default 2024-03-01 12:00 UTC.
	Start time.Time
}

// DefaultConfig returns the configuration used when no flag is given: one
// million packets in 120,000 flows over five minutes, 30% IPv6.
func DefaultConfig() Config {
	return Config{
		Packets:   1_000_000,
		Flows:     120_000,
		Seed:      1,
		IPv6Share: 0.3,
		VLANShare: 0.08,
		Snaplen:   0,
		Duration:  5 * time.Minute,
		Start:     time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

// Validate reports the first problem of the configuration in words a user
// can act on.
func (c Config) Validate() error {
	switch {
	case c.Flows < 1 || c.Flows > maxFlows:
		return fmt.Errorf("flows must be between 1 and %d, not %d", maxFlows, c.Flows)
	case c.Packets < 1 || c.Packets > maxPackets:
		return fmt.Errorf("packets must be between 1 and %d, not %d", maxPackets, c.Packets)
	case !(c.IPv6Share >= 0 && c.IPv6Share <= 1):
		return fmt.Errorf("ipv6 share must be between 0 and 1, not %v", c.IPv6Share)
	case !(c.VLANShare >= 0 && c.VLANShare <= 1):
		return fmt.Errorf("vlan share must be between 0 and 1, not %v", c.VLANShare)
	case c.Snaplen != 0 && (c.Snaplen < minSnaplen || c.Snaplen > defaultSnaplen):
		return fmt.Errorf("snaplen must be 0 (no truncation) or between %d and %d, not %d",
			minSnaplen, defaultSnaplen, c.Snaplen)
	case c.Duration < time.Second || c.Duration > maxDuration:
		return fmt.Errorf("duration must be between 1s and %v, not %v", maxDuration, c.Duration)
	case c.Start.IsZero():
		return errors.New("start time must be set")
	}
	return nil
}
