// Package flow aggregates packets into bidirectional flows (RFC 5103) and
// ends them by idle timeout, active timeout, TCP FIN/RST, lack of resources
// or end of capture, all in packet time.
package flow

import (
	"net/netip"
	"time"
)

// Key identifies a flow. For a biflow the Src side is the source of the
// flow's first packet (RFC 5103 initiator).
type Key struct {
	// Src and Dst hold IPv4 addresses in their first 4 bytes, the rest zero.
	Src, Dst         [16]byte
	SrcPort, DstPort uint16
	VLAN             uint16
	Proto            uint8
	// IPVersion is 4 or 6.
	IPVersion uint8
}

// SrcAddr returns the source address as a netip.Addr.
func (k *Key) SrcAddr() netip.Addr { return addr(k.IPVersion, &k.Src) }

// DstAddr returns the destination address as a netip.Addr.
func (k *Key) DstAddr() netip.Addr { return addr(k.IPVersion, &k.Dst) }

func addr(v uint8, b *[16]byte) netip.Addr {
	if v == 4 {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrFrom16(*b)
}

// EndReason is why a flow record was exported; the values are IPFIX
// flowEndReason (IANA IE 136) codes.
type EndReason uint8

// flowEndReason values (RFC 5102 §5.11.3).
const (
	EndIdleTimeout     EndReason = 0x01
	EndActiveTimeout   EndReason = 0x02
	EndOfFlow          EndReason = 0x03 // TCP FIN or RST seen
	EndForced          EndReason = 0x04 // end of capture or shutdown
	EndLackOfResources EndReason = 0x05 // table full, oldest flow evicted
)

// String returns the name used in results and CSV output.
func (r EndReason) String() string {
	switch r {
	case EndIdleTimeout:
		return "idle"
	case EndActiveTimeout:
		return "active"
	case EndOfFlow:
		return "end"
	case EndForced:
		return "forced"
	case EndLackOfResources:
		return "resources"
	}
	return "unknown"
}

// Record is one exported flow. Forward counters count packets from Key.Src
// to Key.Dst; Rev* counters the other way (zero when biflow is off).
type Record struct {
	Key Key
	// Start and End are the times of the first and last packet of the
	// flow in either direction.
	Start, End time.Time
	// Packets and Bytes count forward packets and their IP octets.
	Packets, Bytes uint64
	// RevPackets and RevBytes count reverse packets and their IP octets.
	RevPackets, RevBytes uint64
	// TCPFlags and RevTCPFlags are the OR of the TCP flags seen per
	// direction.
	TCPFlags, RevTCPFlags uint8
	EndReason             EndReason
}
