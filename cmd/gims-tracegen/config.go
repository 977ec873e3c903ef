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
	// Clients is the number of client hosts, in [1,4096]; flows are spread
	// over them round robin, so with few clients every host pair carries
	// many flows, each on its own client port. Default 4096.
	Clients int
	// Servers is the number of server hosts (besides the DNS resolver), in
	// [1,762]; popular ones are picked more often. Default 762.
	Servers int
	// TCPShare and DNSShare are the fractions of the short flows that are
	// TCP connections and DNS exchanges; the rest are pings. Defaults 0.4
	// and 0.52.
	TCPShare, DNSShare float64
	// Clustered puts every address in one IPv4 /16 (10.1.0.0/16) and one
	// IPv6 /48 (2001:db8:1::/48), clients and servers alike, differing
	// only in their last 16 bits, as on a campus tap. Default false.
	Clustered bool
	// Tiny shrinks every packet to the Ethernet minimum: TCP without
	// options and with at most 6 bytes of payload, UDP and ICMP with at
	// most 18, so IPv4 frames without a VLAN tag are 60 bytes (IPv6 and
	// tagged frames are as short as their headers allow). Payloads are
	// cut, so DNS messages are not well formed and no response is
	// fragmented. Default false.
	Tiny bool
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
		Clients:   maxClients,
		Servers:   maxServers,
		TCPShare:  0.4,
		DNSShare:  0.52,
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
	case c.Clients < 1 || c.Clients > maxClients:
		return fmt.Errorf("clients must be between 1 and %d, not %d", maxClients, c.Clients)
	case c.Flows > c.Clients*clientPorts:
		return fmt.Errorf("%d clients have ports for at most %d flows, not %d",
			c.Clients, c.Clients*clientPorts, c.Flows)
	case c.Servers < 1 || c.Servers > maxServers:
		return fmt.Errorf("servers must be between 1 and %d, not %d", maxServers, c.Servers)
	case !(c.TCPShare >= 0 && c.TCPShare <= 1):
		return fmt.Errorf("tcp share must be between 0 and 1, not %v", c.TCPShare)
	case !(c.DNSShare >= 0 && c.DNSShare <= 1-c.TCPShare+1e-9):
		return fmt.Errorf("dns share must be between 0 and 1 - tcp share (%v), not %v", 1-c.TCPShare, c.DNSShare)
	}
	return nil
}
