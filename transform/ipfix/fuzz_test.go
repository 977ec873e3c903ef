package ipfix

import (
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
		cfg := DefaultConfig()
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
