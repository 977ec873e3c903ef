package ipfix

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/gimsproject/gims/transform/flow"
)

// The streaming decoder of ReadFlows: templates are compiled to a list
// of (field, offset, length) and each data record is decoded straight
// into a FlowRow, with no allocation per record (calmh/ipfix builds a
// value per field, an interface each: about half of an ingest).

// rowField is what a template field fills in a FlowRow.
type rowField uint8

const (
	fieldSkip rowField = iota
	fieldSrc
	fieldDst
	fieldSrcPort
	fieldDstPort
	fieldProto
	fieldVLAN
	fieldBytes
	fieldPackets
	fieldRevBytes
	fieldRevPackets
	fieldEndReason
	fieldStart
	fieldEnd
)

// compiledField is one field of a compiled template; length 0xffff is a
// variable-length field (RFC 7011 §7).
type compiledField struct {
	what   rowField
	length uint16
}

// compiledTemplate is a template as the decoder walks its records.
type compiledTemplate struct {
	fields []compiledField
	// min is the least length of a record (variable-length fields count
	// their one-byte length prefix).
	min int
}

// rowFieldOf maps an information element to the FlowRow field it fills;
// lengths that its abstract type does not allow are skipped.
func rowFieldOf(id uint16, pen uint32, length uint16) rowField {
	uintOK := length >= 1 && length <= 8
	switch {
	case pen == ReversePEN && uintOK && id == IPFIX_FIELD_octetDeltaCount:
		return fieldRevBytes
	case pen == ReversePEN && uintOK && id == IPFIX_FIELD_packetDeltaCount:
		return fieldRevPackets
	case pen != 0:
		return fieldSkip
	}
	switch id {
	case IPFIX_FIELD_sourceIPv4Address:
		if length == 4 {
			return fieldSrc
		}
	case IPFIX_FIELD_destinationIPv4Address:
		if length == 4 {
			return fieldDst
		}
	case IPFIX_FIELD_sourceIPv6Address:
		if length == 16 {
			return fieldSrc
		}
	case IPFIX_FIELD_destinationIPv6Address:
		if length == 16 {
			return fieldDst
		}
	case IPFIX_FIELD_flowStartMilliseconds:
		if length == 8 {
			return fieldStart
		}
	case IPFIX_FIELD_flowEndMilliseconds:
		if length == 8 {
			return fieldEnd
		}
	}
	if !uintOK {
		return fieldSkip
	}
	switch id {
	case IPFIX_FIELD_sourceTransportPort:
		return fieldSrcPort
	case IPFIX_FIELD_destinationTransportPort:
		return fieldDstPort
	case IPFIX_FIELD_protocolIdentifier:
		return fieldProto
	case IPFIX_FIELD_vlanId:
		return fieldVLAN
	case IPFIX_FIELD_octetDeltaCount:
		return fieldBytes
	case IPFIX_FIELD_packetDeltaCount:
		return fieldPackets
	case IPFIX_FIELD_flowEndReason:
		return fieldEndReason
	}
	return fieldSkip
}

// errMalformed is returned, wrapped, for a message that breaks RFC 7011's
// framing.
var errMalformed = errors.New("malformed IPFIX message")

// flowDecoder decodes messages of one exporter's stream.
type flowDecoder struct {
	templates map[uint64]*compiledTemplate // by observation domain << 16 | template ID
}

// message decodes one message (header included) and calls fn with each
// flow record.
func (d *flowDecoder) message(msg []byte, fn func(FlowRow)) (int, error) {
	if len(msg) < msgHeaderLength || binary.BigEndian.Uint16(msg) != ipfixVersion ||
		int(binary.BigEndian.Uint16(msg[2:])) != len(msg) {
		return 0, fmt.Errorf("%w: bad header", errMalformed)
	}
	domain := uint64(binary.BigEndian.Uint32(msg[12:])) << 16
	n := 0
	for b := msg[msgHeaderLength:]; len(b) > 0; {
		if len(b) < 4 {
			return n, fmt.Errorf("%w: %d bytes after the last set", errMalformed, len(b))
		}
		id, l := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		if l < 4 || l > len(b) {
			return n, fmt.Errorf("%w: set length %d", errMalformed, l)
		}
		body := b[4:l]
		b = b[l:]
		switch {
		case id == templateSetID:
			if err := d.templateSet(domain, body); err != nil {
				return n, err
			}
		case id >= 256:
			t := d.templates[domain|uint64(id)]
			if t == nil {
				continue // no template (yet): RFC 7011 §8 lets it be dropped
			}
			for len(body) >= t.min && t.min > 0 {
				var r FlowRow
				var ok bool
				if body, ok = t.decode(body, &r); !ok {
					return n, fmt.Errorf("%w: record longer than its set", errMalformed)
				}
				fn(r)
				n++
			}
		}
	}
	return n, nil
}

// templateSet compiles the templates of a template set.
func (d *flowDecoder) templateSet(domain uint64, b []byte) error {
	for len(b) >= 4 {
		id, count := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		b = b[4:]
		if id < 256 {
			return fmt.Errorf("%w: template ID %d", errMalformed, id)
		}
		t := &compiledTemplate{fields: make([]compiledField, 0, count)}
		for range count {
			if len(b) < 4 {
				return fmt.Errorf("%w: template %d is cut short", errMalformed, id)
			}
			ie, length := binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])
			b = b[4:]
			var pen uint32
			if ie&enterpriseBit != 0 {
				if len(b) < 4 {
					return fmt.Errorf("%w: template %d is cut short", errMalformed, id)
				}
				pen, ie = binary.BigEndian.Uint32(b), ie&^enterpriseBit
				b = b[4:]
			}
			f := compiledField{what: rowFieldOf(ie, pen, length), length: length}
			if length == 0xffff {
				f.what = fieldSkip
				t.min++
			} else {
				t.min += int(length)
			}
			t.fields = append(t.fields, f)
		}
		if count == 0 {
			delete(d.templates, domain|uint64(id)) // a withdrawal
			continue
		}
		d.templates[domain|uint64(id)] = t
	}
	return nil
}

// decode decodes one record at the start of b into r and returns the
// rest of b; false if b is shorter than the record.
func (t *compiledTemplate) decode(b []byte, r *FlowRow) ([]byte, bool) {
	for _, f := range t.fields {
		l := int(f.length)
		if f.length == 0xffff {
			if len(b) < 1 {
				return b, false
			}
			l, b = int(b[0]), b[1:]
			if l == 255 {
				if len(b) < 2 {
					return b, false
				}
				l, b = int(binary.BigEndian.Uint16(b)), b[2:]
			}
		}
		if len(b) < l {
			return b, false
		}
		v := b[:l]
		b = b[l:]
		switch f.what {
		case fieldSkip:
		case fieldSrc:
			r.Src = addrOf(v)
		case fieldDst:
			r.Dst = addrOf(v)
		case fieldStart:
			r.Start = time.UnixMilli(int64(binary.BigEndian.Uint64(v))).UTC()
		case fieldEnd:
			r.End = time.UnixMilli(int64(binary.BigEndian.Uint64(v))).UTC()
		default:
			var u uint64
			for _, c := range v {
				u = u<<8 | uint64(c)
			}
			switch f.what {
			case fieldSrcPort:
				r.SrcPort = uint16(u)
			case fieldDstPort:
				r.DstPort = uint16(u)
			case fieldProto:
				r.Proto = uint8(u)
			case fieldVLAN:
				r.VLAN = uint16(u)
			case fieldBytes:
				r.Bytes = u
			case fieldPackets:
				r.Packets = u
			case fieldRevBytes:
				r.RevBytes = u
			case fieldRevPackets:
				r.RevPackets = u
			case fieldEndReason:
				r.EndReason = flow.EndReason(u).String()
			}
		}
	}
	return b, true
}

func addrOf(v []byte) netip.Addr {
	if len(v) == 4 {
		return netip.AddrFrom4([4]byte(v))
	}
	return netip.AddrFrom16([16]byte(v)).Unmap()
}

// ReadFlows calls fn with every flow record of an IPFIX file written by
// the exporter (through NewFileTransport), in file order, and returns how
// many it read. A missing file has none; a partial last message (being
// written) is left out.
func ReadFlows(path string, fn func(FlowRow)) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("unable to read flows: %w", err)
	}
	defer f.Close()
	d := flowDecoder{templates: map[uint64]*compiledTemplate{}}
	n := 0
	_, err = WalkMessages(f, func(buf []byte) error {
		k, err := d.message(buf, fn)
		n += k
		if err != nil {
			return fmt.Errorf("unable to parse %s: %w", path, err)
		}
		return nil
	})
	return n, err
}
