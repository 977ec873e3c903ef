package ipfix

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/calmh/ipfix"

	"github.com/gimsproject/gims/transform/flow"
)

// memTransport records messages in memory.
type memTransport struct {
	mu     sync.Mutex
	dgram  bool
	msgs   [][]byte
	fail   bool // refuse messages while set
	closed bool
}

func (m *memTransport) WriteMessage(msg []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return fmt.Errorf("refused")
	}
	m.msgs = append(m.msgs, append([]byte(nil), msg...))
	return nil
}

func (m *memTransport) Datagram() bool { return m.dgram }

func (m *memTransport) Close() error {
	m.closed = true
	return nil
}

func (m *memTransport) messages() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]byte(nil), m.msgs...)
}

// fixedClock returns a settable clock.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fixedClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// mkRecord builds a record from text addresses.
func mkRecord(src, dst string, sport, dport uint16, proto uint8) flow.Record {
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	var r flow.Record
	r.Key.IPVersion = 6
	if s.Is4() {
		r.Key.IPVersion = 4
		a, b := s.As4(), d.As4()
		copy(r.Key.Src[:], a[:])
		copy(r.Key.Dst[:], b[:])
	} else {
		r.Key.Src, r.Key.Dst = s.As16(), d.As16()
	}
	r.Key.SrcPort, r.Key.DstPort, r.Key.Proto = sport, dport, proto
	return r
}

// sampleRecords returns n varied records, alternating IPv4 and IPv6 in
// runs so that messages hold several data sets.
func sampleRecords(n int) []flow.Record {
	base := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	out := make([]flow.Record, n)
	for i := range out {
		var r flow.Record
		if (i/3)%2 == 0 {
			r = mkRecord(fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), "192.0.2.7", uint16(40000+i), 443, 6)
		} else {
			r = mkRecord(fmt.Sprintf("2001:db8::%x", i+1), "2001:db8:ffff::1", 53, uint16(1024+i), 17)
		}
		r.Key.VLAN = uint16(i % 4095)
		r.Start = base.Add(time.Duration(i) * time.Second).Add(123 * time.Millisecond)
		r.End = r.Start.Add(time.Duration(i%7)*time.Second + 456*time.Millisecond)
		r.Packets = uint64(i + 1)
		r.Bytes = uint64(i+1) * 1500
		r.RevPackets = uint64(i % 5)
		r.RevBytes = uint64(i%5) * 40
		r.TCPFlags = uint8(0x02 | i%0x40)
		r.RevTCPFlags = uint8(0x12 | i%0x20)
		r.EndReason = flow.EndReason(i%5 + 1)
		out[i] = r
	}
	return out
}

// normalize returns r as it comes back from IPFIX: times in milliseconds,
// reverse counters zero without biflow.
func normalize(r flow.Record, biflow bool) flow.Record {
	r.Start = time.UnixMilli(int64(millis(r.Start)))
	r.End = time.UnixMilli(int64(millis(r.End)))
	if r.Key.IPVersion == 4 {
		clear(r.Key.Src[4:])
		clear(r.Key.Dst[4:])
	}
	if !biflow {
		r.RevBytes, r.RevPackets, r.RevTCPFlags = 0, 0, 0
	}
	return r
}

// decoder parses messages of one transport session with calmh/ipfix.
type decoder struct {
	s  *ipfix.Session
	in *ipfix.Interpreter
}

func newDecoder() *decoder {
	s := ipfix.NewSession()
	return &decoder{s: s, in: ipfix.NewInterpreter(s)}
}

// record converts a data record back into a flow.Record using the field
// names of calmh/ipfix's IANA and RFC 5103 dictionary.
func (d *decoder) record(dr ipfix.DataRecord) (flow.Record, error) {
	var r flow.Record
	for j, f := range d.in.Interpret(dr) {
		var ok bool
		switch f.Name {
		case "sourceIPv4Address", "destinationIPv4Address", "sourceIPv6Address", "destinationIPv6Address":
			var ip *net.IP
			if ip, ok = f.Value.(*net.IP); ok {
				dst := &r.Key.Src
				if f.Name[0] == 'd' {
					dst = &r.Key.Dst
				}
				copy(dst[:], *ip)
				r.Key.IPVersion = 4
				if len(*ip) == 16 {
					r.Key.IPVersion = 6
				}
			}
		case "sourceTransportPort":
			r.Key.SrcPort, ok = f.Value.(uint16)
		case "destinationTransportPort":
			r.Key.DstPort, ok = f.Value.(uint16)
		case "protocolIdentifier":
			r.Key.Proto, ok = f.Value.(uint8)
		case "vlanId":
			r.Key.VLAN, ok = f.Value.(uint16)
		case "octetDeltaCount":
			r.Bytes, ok = f.Value.(uint64)
		case "packetDeltaCount":
			r.Packets, ok = f.Value.(uint64)
		case "reverseOctetDeltaCount":
			r.RevBytes, ok = f.Value.(uint64)
		case "reversePacketDeltaCount":
			r.RevPackets, ok = f.Value.(uint64)
		case "tcpControlBits", "reverseTcpControlBits":
			var v uint16
			if v, ok = f.Value.(uint16); ok {
				if f.Name[0] == 'r' {
					r.RevTCPFlags = uint8(v)
				} else {
					r.TCPFlags = uint8(v)
				}
			}
		case "flowEndReason":
			var v uint8
			v, ok = f.Value.(uint8)
			r.EndReason = flow.EndReason(v)
		case "flowStartMilliseconds", "flowEndMilliseconds":
			// calmh/ipfix overflows on times after 2262: read the raw
			// milliseconds, after checking it did interpret the type.
			if _, ok = f.Value.(time.Time); ok && len(dr.Fields[j]) == 8 {
				t := time.UnixMilli(int64(binary.BigEndian.Uint64(dr.Fields[j])))
				if f.Name == "flowStartMilliseconds" {
					r.Start = t
				} else {
					r.End = t
				}
			}
		default:
			return r, fmt.Errorf("unexpected field %q (%d/%d)", f.Name, f.EnterpriseID, f.FieldID)
		}
		if !ok {
			return r, fmt.Errorf("field %s: unexpected value %#v", f.Name, f.Value)
		}
	}
	return r, nil
}

// msgInfo is what checkMessage learns from one message.
type msgInfo struct {
	hdr       ipfix.MessageHeader
	templates []uint16
	records   []flow.Record
}

// checkMessage checks the framing of msg (header, set lengths, padding)
// independently of calmh/ipfix, then parses it with calmh/ipfix.
func (d *decoder) checkMessage(t testing.TB, msg []byte, maxSize int) msgInfo {
	t.Helper()
	if len(msg) > maxSize {
		t.Fatalf("message of %d octets exceeds max %d", len(msg), maxSize)
	}
	if len(msg) < msgHeaderLength || binary.BigEndian.Uint16(msg) != 10 ||
		int(binary.BigEndian.Uint16(msg[2:])) != len(msg) {
		t.Fatalf("bad message header % x (length %d)", msg[:min(16, len(msg))], len(msg))
	}
	for off := msgHeaderLength; off < len(msg); {
		if len(msg)-off < setHeaderLength {
			t.Fatalf("trailing %d octets after sets", len(msg)-off)
		}
		id, l := binary.BigEndian.Uint16(msg[off:]), int(binary.BigEndian.Uint16(msg[off+2:]))
		if l%4 != 0 || l < setHeaderLength || off+l > len(msg) {
			t.Fatalf("set %d at %d: bad length %d (message %d)", id, off, l, len(msg))
		}
		if id >= 256 {
			rl := recordLength(4, id == TemplateIPv4Biflow || id == TemplateIPv6Biflow)
			if id == TemplateIPv6 || id == TemplateIPv6Biflow {
				rl = recordLength(6, id == TemplateIPv6Biflow)
			}
			if pad := (l - setHeaderLength) % rl; pad > 3 || (pad > 0 && l%4 != 0) {
				t.Fatalf("set %d: %d octets of padding", id, pad)
			}
		}
		off += l
	}
	m, err := d.s.ParseBuffer(msg)
	if err != nil {
		t.Fatalf("calmh/ipfix: %v", err)
	}
	info := msgInfo{hdr: m.Header}
	for _, tr := range m.TemplateRecords {
		info.templates = append(info.templates, tr.TemplateID)
	}
	for _, dr := range m.DataRecords {
		r, err := d.record(dr)
		if err != nil {
			t.Fatalf("record of template %d: %v", dr.TemplateID, err)
		}
		info.records = append(info.records, r)
	}
	return info
}
