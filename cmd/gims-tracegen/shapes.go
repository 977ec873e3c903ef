package main

import (
	"fmt"
	"strings"
)

// shapeNames lists the named shapes of traffic, in the order the trace
// suite (bench/suite.sh) generates them.
func shapeNames() []string {
	return []string{"mix", "clustered", "ports", "ipv6", "icmp", "tiny"}
}

// ShapeConfig returns the configuration of a named shape of traffic. The
// shapes make the trace suite of the offline benchmark: each stresses one
// part of a flow meter that the default mix does not.
//
//   - mix: the default configuration (DefaultConfig).
//   - clustered: 400,000 packets over 20,000 flows whose addresses are all
//     in one IPv4 /16 and one IPv6 /48, differing only in their last 16
//     bits, as on a campus tap; a flow table whose index does not mix
//     every bit of the key slows down on it.
//   - ports: 400,000 packets over 40,000 flows between 4 clients and 2
//     servers (and the resolver): thousands of port pairs per host pair;
//     no pings, which a meter keys by host pair and type alone.
//   - ipv6: 400,000 packets over 48,000 flows, 90 % of them over IPv6.
//   - icmp: 400,000 packets over 60,000 flows, 80 % of the short flows
//     pings.
//   - tiny: 1,000,000 packets over 120,000 flows of 60-byte frames
//     (Config.Tiny, IPv4, no VLAN tags): the most packets per byte.
func ShapeConfig(name string) (Config, error) {
	c := DefaultConfig()
	switch name {
	case "mix":
	case "clustered":
		c.Packets, c.Flows = 400_000, 20_000
		c.Clustered = true
	case "ports":
		c.Packets, c.Flows = 400_000, 40_000
		c.Clients, c.Servers = 4, 2
		c.TCPShare, c.DNSShare = 0.45, 0.55
	case "ipv6":
		c.Packets, c.Flows = 400_000, 48_000
		c.IPv6Share = 0.9
	case "icmp":
		c.Packets, c.Flows = 400_000, 60_000
		c.TCPShare, c.DNSShare = 0.1, 0.1
	case "tiny":
		c.Tiny = true
		c.IPv6Share, c.VLANShare = 0, 0
	default:
		return c, fmt.Errorf("unknown shape %q (known: %s)", name, strings.Join(shapeNames(), ", "))
	}
	return c, nil
}
