// Package packet decodes captured frames into the few fields the transforms
// need, and rewrites IP addresses in place for anonymization. It is pure Go
// (no cgo) so that transforms and tests can use it without libpcap.
package packet

import (
	"errors"
	"net/netip"
	"time"
)

// Summary is what the transforms need to know about one packet. A Decoder
// fills it in place, so a single Summary is reused for every packet and the
// hot path does not allocate.
type Summary struct {
	// Timestamp is the capture time of the packet.
	Timestamp time.Time
	// WireLen is the packet's length on the wire (pcap "len").
	WireLen int
	// CapLen is the number of bytes captured (pcap "caplen").
	CapLen int

	// VLAN is the outermost 802.1Q/802.1ad VLAN identifier; 0 when untagged.
	VLAN uint16

	// IPVersion is 4 or 6 for IP packets and 0 otherwise; every field
	// below is valid iff IPVersion != 0.
	IPVersion uint8
	// Src and Dst are the outermost IP header's addresses. An IPv4 address
	// is held in the first 4 bytes and the other 12 are zero.
	Src, Dst [16]byte
	// IPLen is the IP packet's length as its header states it (IPv4 total
	// length; IPv6 payload length + 40): the octets IPFIX counts.
	IPLen int
	// Proto is the transport protocol (IPv4 protocol, or the IPv6 upper
	// layer after extension headers).
	Proto uint8

	// HasPorts is true when SrcPort and DstPort are valid: TCP, UDP, SCTP
	// and UDP-Lite with their header captured in a non-fragment or first
	// fragment. For ICMP and ICMPv6, HasPorts is true, SrcPort is 0 and
	// DstPort is type<<8 | code, as NetFlow and IPFIX meters report them.
	HasPorts         bool
	SrcPort, DstPort uint16
	// TCPFlags is the TCP header's flag byte (FIN=0x01 ... CWR=0x80);
	// valid iff Proto == 6 and HasPorts.
	TCPFlags uint8

	// Fragment is true when the packet is an IP fragment (IPv4 MF set or
	// offset non-zero; IPv6 fragment header present).
	Fragment bool
	// FragOffset is the fragment offset in bytes; valid iff Fragment.
	FragOffset uint16
	// MoreFragments is the MF bit; valid iff Fragment.
	MoreFragments bool
	// FragID is the IPv4 identification or IPv6 fragment identification;
	// valid iff Fragment.
	FragID uint32

	// Truncated is true when the capture cut the packet short of what its
	// headers state (snaplen or a broken trace).
	Truncated bool
	// Malformed is true when a header could not be decoded; the fields
	// decoded before the fault stay valid.
	Malformed bool

	// l3 is the offset of the IP header in the frame when the Decoder's
	// fast path took it (an IPv4 header without options or an IPv6 header
	// without extension headers, its transport decoded by hand), 0
	// otherwise: Sanitizer.SanitizeDecoded starts from there instead of
	// parsing the frame again.
	l3 uint16
	// sanKeep and sanAt, when the fast path took the frame and its
	// transport is one Sanitizer.SanitizeDecodedTo rewrites (TCP with no
	// options or with NOP, NOP, timestamps; UDP that is not a tunnel and
	// has no bytes after an empty datagram; ICMP or ICMPv6 echo), are how
	// many bytes of the frame the sanitizer keeps and the offset of the
	// transport checksum it updates (0: none); sanKeep is 0 otherwise.
	// The decoder finds them where it reads those headers anyway (10
	// instructions a packet): the sanitizer found them again from the
	// frame, which cost it 40 more.
	sanKeep, sanAt uint8

	// rw records where the IP headers are in the frame, for Anonymize.
	rw rewriteInfo
}

// SrcAddr returns Src as a netip.Addr (the zero Addr when not IP).
func (s *Summary) SrcAddr() netip.Addr { return addrOf(s.IPVersion, &s.Src) }

// DstAddr returns Dst as a netip.Addr (the zero Addr when not IP).
func (s *Summary) DstAddr() netip.Addr { return addrOf(s.IPVersion, &s.Dst) }

func addrOf(v uint8, b *[16]byte) netip.Addr {
	switch v {
	case 4:
		return netip.AddrFrom4([4]byte(b[:4]))
	case 6:
		return netip.AddrFrom16(*b)
	}
	return netip.Addr{}
}

// DefaultSnaplen is the capture length used when none is given.
const DefaultSnaplen = 65535

// ErrTimeout is returned by a live packet source's ZeroCopyReadPacketData
// when no packet arrived within the read timeout; readers use it to do
// periodic work (advance timeouts, check for cancellation).
var ErrTimeout = errors.New("capture: read timeout")
