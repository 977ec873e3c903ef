package ipfix

import "encoding/binary"

// Template IDs of the four templates the exporter may use. IDs of data
// templates start at 256 (RFC 7011 §3.4.1). Uniflow and biflow templates have
// distinct IDs so that a collector never confuses them.
const (
	TemplateIPv4       uint16 = 256 // IPv4, forward direction only
	TemplateIPv6       uint16 = 257 // IPv6, forward direction only
	TemplateIPv4Biflow uint16 = 258 // IPv4 with RFC 5103 reverse elements
	TemplateIPv6Biflow uint16 = 259 // IPv6 with RFC 5103 reverse elements
)

// FieldSpec is one Field Specifier of a template: an Information Element,
// its enterprise number (0 for IANA elements) and its encoded length.
type FieldSpec struct {
	ID           uint16
	EnterpriseID uint32
	Length       uint16
}

// Template is an IPFIX Template Record: an ID and its ordered fields.
type Template struct {
	ID     uint16
	Fields []FieldSpec
}

// RecordLength returns the length in octets of one data record encoded
// with this template (every field has a fixed length).
func (t *Template) RecordLength() int {
	n := 0
	for _, f := range t.Fields {
		n += int(f.Length)
	}
	return n
}

// commonFields follow the addresses in every template, in this order; the
// encoder in encode.go writes them in the same order.
var commonFields = [...]FieldSpec{
	{ID: IPFIX_FIELD_sourceTransportPort, Length: 2},
	{ID: IPFIX_FIELD_destinationTransportPort, Length: 2},
	{ID: IPFIX_FIELD_protocolIdentifier, Length: 1},
	{ID: IPFIX_FIELD_vlanId, Length: 2},
	{ID: IPFIX_FIELD_tcpControlBits, Length: 2}, // RFC 7125: 2 octets
	{ID: IPFIX_FIELD_flowEndReason, Length: 1},
	{ID: IPFIX_FIELD_flowStartMilliseconds, Length: 8},
	{ID: IPFIX_FIELD_flowEndMilliseconds, Length: 8},
	{ID: IPFIX_FIELD_octetDeltaCount, Length: 8},
	{ID: IPFIX_FIELD_packetDeltaCount, Length: 8},
}

// reverseFields are appended in biflow templates (RFC 5103 §6.1).
var reverseFields = [...]FieldSpec{
	{ID: IPFIX_FIELD_octetDeltaCount, EnterpriseID: ReversePEN, Length: 8},
	{ID: IPFIX_FIELD_packetDeltaCount, EnterpriseID: ReversePEN, Length: 8},
	{ID: IPFIX_FIELD_tcpControlBits, EnterpriseID: ReversePEN, Length: 2},
}

// Templates returns the IPv4 and IPv6 templates used for the given biflow
// setting, IPv4 first. The result is freshly built; callers may keep it.
func Templates(biflow bool) [2]Template {
	build := func(id uint16, src, dst uint16, alen uint16) Template {
		fields := []FieldSpec{{ID: src, Length: alen}, {ID: dst, Length: alen}}
		fields = append(fields, commonFields[:]...)
		if biflow {
			fields = append(fields, reverseFields[:]...)
		}
		return Template{ID: id, Fields: fields}
	}
	id4, id6 := TemplateIPv4, TemplateIPv6
	if biflow {
		id4, id6 = TemplateIPv4Biflow, TemplateIPv6Biflow
	}
	return [2]Template{
		build(id4, IPFIX_FIELD_sourceIPv4Address, IPFIX_FIELD_destinationIPv4Address, 4),
		build(id6, IPFIX_FIELD_sourceIPv6Address, IPFIX_FIELD_destinationIPv6Address, 16),
	}
}

// appendTemplateSet appends a Template Set holding the given templates.
// Template records are multiples of 4 octets long, so the set needs no
// padding.
func appendTemplateSet(b []byte, tpls ...Template) []byte {
	start := len(b)
	b = binary.BigEndian.AppendUint16(b, templateSetID)
	b = binary.BigEndian.AppendUint16(b, 0) // length, set below
	for _, t := range tpls {
		b = binary.BigEndian.AppendUint16(b, t.ID)
		b = binary.BigEndian.AppendUint16(b, uint16(len(t.Fields)))
		for _, f := range t.Fields {
			if f.EnterpriseID != 0 {
				b = binary.BigEndian.AppendUint16(b, f.ID|enterpriseBit)
				b = binary.BigEndian.AppendUint16(b, f.Length)
				b = binary.BigEndian.AppendUint32(b, f.EnterpriseID)
				continue
			}
			b = binary.BigEndian.AppendUint16(b, f.ID)
			b = binary.BigEndian.AppendUint16(b, f.Length)
		}
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	return b
}
