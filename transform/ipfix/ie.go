package ipfix

// Information Element identifiers used by the exporter, named as the IANA
// "IPFIX Information Elements" registry names them (RFC 7012, RFC 5102).
const (
	IPFIX_FIELD_octetDeltaCount          uint16 = 1
	IPFIX_FIELD_packetDeltaCount         uint16 = 2
	IPFIX_FIELD_protocolIdentifier       uint16 = 4
	IPFIX_FIELD_tcpControlBits           uint16 = 6
	IPFIX_FIELD_sourceTransportPort      uint16 = 7
	IPFIX_FIELD_sourceIPv4Address        uint16 = 8
	IPFIX_FIELD_destinationTransportPort uint16 = 11
	IPFIX_FIELD_destinationIPv4Address   uint16 = 12
	IPFIX_FIELD_sourceIPv6Address        uint16 = 27
	IPFIX_FIELD_destinationIPv6Address   uint16 = 28
	IPFIX_FIELD_vlanId                   uint16 = 58
	IPFIX_FIELD_flowEndReason            uint16 = 136
	IPFIX_FIELD_flowStartMilliseconds    uint16 = 152
	IPFIX_FIELD_flowEndMilliseconds      uint16 = 153
)

// ReversePEN is the Private Enterprise Number under which RFC 5103 defines
// the reverse Information Elements: a reverse element has the enterprise
// bit set, this PEN, and the element number of its forward counterpart
// (reverseOctetDeltaCount is octetDeltaCount under PEN 29305).
const ReversePEN uint32 = 29305

// enterpriseBit marks an enterprise-specific Information Element in a
// Field Specifier (RFC 7011 §3.2).
const enterpriseBit = 0x8000

// Set IDs (RFC 7011 §3.3.2).
const (
	templateSetID = 2
)

// Protocol constants (RFC 7011 §3.1).
const (
	ipfixVersion     = 10
	msgHeaderLength  = 16
	setHeaderLength  = 4
	maxMessageLength = 65535
)
