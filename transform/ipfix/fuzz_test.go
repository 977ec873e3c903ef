package ipfix

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
	"time"

	"github.com/gimsproject/gims/transform/flow"
)

// FuzzRoundTrip builds records from fuzz input, exports them, parses the
// messages with calmh/ipfix and checks that the same values come back.
func FuzzRoundTrip(f *testing.F) {
	f.Add(true, true, []byte{10, 0, 0, 1}, []byte{192, 0, 2, 1}, uint16(1234), uint16(80), uint8(6), uint16(10),
		int64(1709290000123), int64(1709290001456), uint64(10), uint64(1500), uint64(5), uint64(300), uint8(0x1b), uint8(0x12), uint8(3), uint8(1), uint16(0))
	f.Add(false, false, []byte("\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"), []byte("\xfe\x80"), uint16(53), uint16(5353), uint8(17), uint16(0),
		int64(0), int64(-5), uint64(1<<63), uint64(1<<64-1), uint64(0), uint64(0), uint8(0), uint8(0xff), uint8(0), uint8(40), uint16(300))
	f.Add(true, true, []byte{}, []byte{}, uint16(0), uint16(0), uint8(1), uint16(4095),
		int64(1<<62), int64(1<<62), uint64(1), uint64(64), uint64(1), uint64(64), uint8(0), uint8(0), uint8(5), uint8(200), uint16(1400))
	f.Fuzz(func(t *testing.T, v6, biflow bool, src, dst []byte, sport, dport uint16, proto uint8, vlan uint16,
		startMs, endMs int64, pkts, bytes, rpkts, rbytes uint64, flags, rflags, reason, count uint8, maxSize uint16) {
		var r flow.Record
		r.Key.IPVersion = 4
		if v6 {
			r.Key.IPVersion = 6
		}
		copy(r.Key.Src[:], src)
		copy(r.Key.Dst[:], dst)
		r.Key.SrcPort, r.Key.DstPort, r.Key.Proto, r.Key.VLAN = sport, dport, proto, vlan
		r.Start, r.End = time.UnixMilli(startMs), time.UnixMilli(endMs)
		r.Packets, r.Bytes, r.RevPackets, r.RevBytes = pkts, bytes, rpkts, rbytes
		r.TCPFlags, r.RevTCPFlags, r.EndReason = flags, rflags, flow.EndReason(reason)

		// Several copies, interleaved with a record of the other IP
		// version, over messages of varied sizes.
		other := mkRecord("198.51.100.1", "203.0.113.9", 1, 2, 6)
		if !v6 {
			other = mkRecord("2001:db8::1", "2001:db8::2", 1, 2, 17)
		}
		var recs []flow.Record
		for i := 0; i < int(count%50)+1; i++ {
			recs = append(recs, r)
			if i%3 == 2 {
				recs = append(recs, other)
			}
		}
		cfg := DefaultConfiguration()
		cfg.Biflow = biflow
		cfg.MaxMessageSize = minMessageSize + int(maxSize)%(maxMessageLength-minMessageSize+1)
		cfg.Now = func() time.Time { return time.Unix(1709290000, 0) }
		tr := &memTransport{dgram: true}
		exportAll(t, cfg, tr, recs)

		d := newDecoder()
		var got []flow.Record
		for _, msg := range tr.messages() {
			info := d.checkMessage(t, msg, cfg.MaxMessageSize)
			if info.hdr.SequenceNumber != uint32(len(got)) {
				t.Fatalf("sequence number %d, want %d", info.hdr.SequenceNumber, len(got))
			}
			got = append(got, info.records...)
		}
		if len(got) != len(recs) {
			t.Fatalf("decoded %d records, want %d", len(got), len(recs))
		}
		for i := range recs {
			if want := normalize(recs[i], biflow); !reflect.DeepEqual(got[i], want) {
				t.Fatalf("record %d:\n got %+v\nwant %+v", i, got[i], want)
			}
		}
	})
}

// fuzzRecordLen is how many fuzz octets make one record in
// FuzzFileRoundTrip.
const fuzzRecordLen = 1 + 16 + 16 + 2 + 2 + 1 + 2 + 8 + 8 + 8*4 + 3

// fuzzRecords decodes fuzz input into distinct flow records, and tells
// after which of them the exporter is flushed (a message ends early).
func fuzzRecords(in []byte) (recs []flow.Record, flushAfter []bool) {
	for ; len(in) >= fuzzRecordLen && len(recs) < 2000; in = in[fuzzRecordLen:] {
		b := in[:fuzzRecordLen]
		var r flow.Record
		r.Key.IPVersion = 4
		if b[0]&1 != 0 {
			r.Key.IPVersion = 6
		}
		copy(r.Key.Src[:], b[1:17])
		copy(r.Key.Dst[:], b[17:33])
		if r.Key.IPVersion == 4 {
			// What the flow table makes: IPv4 in the first 4 octets.
			clear(r.Key.Src[4:])
			clear(r.Key.Dst[4:])
		}
		be := binary.BigEndian
		r.Key.SrcPort, r.Key.DstPort = be.Uint16(b[33:]), be.Uint16(b[35:])
		r.Key.Proto, r.Key.VLAN = b[37], be.Uint16(b[38:])
		start := int64(be.Uint64(b[40:]))
		if b[0]&2 == 0 {
			start %= 1 << 46 // mostly plausible times, sometimes anything
		}
		r.Start = time.UnixMilli(start).Add(time.Duration(b[0]>>5) * 100 * time.Microsecond)
		r.End = r.Start.Add(time.Duration(be.Uint64(b[48:]) % uint64(400*24*time.Hour)))
		r.Packets, r.Bytes = be.Uint64(b[56:]), be.Uint64(b[64:])
		r.RevPackets, r.RevBytes = be.Uint64(b[72:]), be.Uint64(b[80:])
		if b[0]&4 != 0 {
			r.RevPackets, r.RevBytes = 0, 0 // one-way flow
		}
		r.TCPFlags, r.RevTCPFlags, r.EndReason = b[88], b[89], flow.EndReason(b[90])
		recs = append(recs, r)
		flushAfter = append(flushAfter, b[0]&8 != 0)
	}
	return recs, flushAfter
}

// FuzzFileRoundTrip exports distinct records made of fuzz input into an
// RFC 5655 file as a capture job does (the file transport over a
// bufio.Writer, flushed at fuzzed points; the file is in memory), then reads the file back: it must be a
// sequence of well-framed messages within the size limit, the first one
// with the templates and no other, sequence numbers counting the records
// before each message, and calmh/ipfix must decode every record field by
// field, in order.
func FuzzFileRoundTrip(f *testing.F) {
	seed := func(recs ...flow.Record) []byte {
		var b []byte
		for i, r := range recs {
			var e [fuzzRecordLen]byte
			if r.Key.IPVersion == 6 {
				e[0] |= 1
			}
			if i%3 == 2 {
				e[0] |= 8
			}
			copy(e[1:], r.Key.Src[:])
			copy(e[17:], r.Key.Dst[:])
			be := binary.BigEndian
			be.PutUint16(e[33:], r.Key.SrcPort)
			be.PutUint16(e[35:], r.Key.DstPort)
			e[37] = r.Key.Proto
			be.PutUint16(e[38:], r.Key.VLAN)
			be.PutUint64(e[40:], uint64(r.Start.UnixMilli()))
			be.PutUint64(e[48:], uint64(r.End.Sub(r.Start)))
			be.PutUint64(e[56:], r.Packets)
			be.PutUint64(e[64:], r.Bytes)
			be.PutUint64(e[72:], r.RevPackets)
			be.PutUint64(e[80:], r.RevBytes)
			e[88], e[89], e[90] = r.TCPFlags, r.RevTCPFlags, uint8(r.EndReason)
			b = append(b, e[:]...)
		}
		return b
	}
	f.Add(true, uint16(0), seed(sampleRecords(40)...))
	f.Add(false, uint16(300), seed(sampleRecords(7)...))
	huge := mkRecord("255.255.255.255", "0.0.0.0", 65535, 0, 255)
	huge.Packets, huge.Bytes, huge.RevPackets, huge.RevBytes = 1<<64-1, 1<<63, 1<<64-1, 1
	huge.Start, huge.End = time.UnixMilli(1<<45), time.UnixMilli(1<<45+1)
	huge.TCPFlags, huge.RevTCPFlags, huge.EndReason, huge.Key.VLAN = 0xff, 0xff, 0xff, 0xffff
	f.Add(true, uint16(1), seed(huge, mkRecord("2001:db8::1", "ff02::1", 0, 0x8000, 58), huge))
	f.Add(true, uint16(0), []byte{})
	f.Fuzz(func(t *testing.T, biflow bool, maxSize uint16, in []byte) {
		recs, flushAfter := fuzzRecords(in)
		cfg := DefaultConfiguration()
		cfg.Biflow = biflow
		if maxSize != 0 {
			cfg.MaxMessageSize = minMessageSize + int(maxSize)%(maxMessageLength-minMessageSize+1)
		}
		cfg.Now = func() time.Time { return time.Unix(1709290000, 0) }
		var file bytes.Buffer
		buf := bufio.NewWriterSize(&file, 1<<16)
		e, err := New(cfg, NewFileTransport(buf))
		if err != nil {
			t.Fatalf("New() error:\n%+v", err)
		}
		for i := range recs {
			if err := e.Add(&recs[i]); err != nil {
				t.Fatalf("Add(%d) error:\n%+v", i, err)
			}
			if flushAfter[i] {
				if err := e.Flush(); err != nil {
					t.Fatalf("Flush() error:\n%+v", err)
				}
			}
		}
		if err := e.Close(); err != nil {
			t.Fatalf("Close() error:\n%+v", err)
		}
		if st := e.Stats(); st.RecordsSent != uint64(len(recs)) || st.RecordsLost != 0 {
			t.Fatalf("Stats() = %+v, want %d records sent, none lost", st, len(recs))
		}
		data := file.Bytes()
		limit := maxMessageLength
		if cfg.MaxMessageSize != 0 {
			limit = cfg.MaxMessageSize
		}

		d := newDecoder()
		var got []flow.Record
		for n := 0; len(data) > 0; n++ {
			if len(data) < msgHeaderLength {
				t.Fatalf("%d trailing octets after %d messages", len(data), n)
			}
			l := int(binary.BigEndian.Uint16(data[2:]))
			if l < msgHeaderLength || l > len(data) {
				t.Fatalf("message %d: length %d, %d octets left", n, l, len(data))
			}
			info := d.checkMessage(t, data[:l], limit)
			if (len(info.templates) > 0) != (n == 0) {
				t.Fatalf("message %d has templates %v; want them in the first message only", n, info.templates)
			}
			if info.hdr.SequenceNumber != uint32(len(got)) {
				t.Fatalf("message %d: sequence number %d, want %d", n, info.hdr.SequenceNumber, len(got))
			}
			got = append(got, info.records...)
			data = data[l:]
		}
		if len(got) != len(recs) {
			t.Fatalf("read %d records back, want %d", len(got), len(recs))
		}
		for i := range recs {
			if want := normalize(recs[i], biflow); !reflect.DeepEqual(got[i], want) {
				t.Fatalf("record %d:\n got %+v\nwant %+v", i, got[i], want)
			}
		}
	})
}
