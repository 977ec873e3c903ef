package capture

import (
	"bufio"
	"bytes"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/pcapgo"
)

// TestPcapWriterMatchesPcapgo writes the same packets with PcapWriter,
// into a bufio.Writer (records built in its buffer, and records larger
// than the room left or than the whole buffer) and into a plain writer,
// and with pcapgo's nanosecond writer: the bytes must be the same, and so
// must the errors for a capture length that does not match the data or
// exceeds the wire length.
func TestPcapWriterMatchesPcapgo(t *testing.T) {
	ts := time.Date(2026, 12, 1, 18, 0, 0, 123456789, time.UTC)
	var packets [][]byte
	for _, n := range []int{0, 1, 60, 1500, 4000, 9000, 60, 17, 65535, 3} {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i*7 + n)
		}
		packets = append(packets, p)
	}
	var want bytes.Buffer
	ref := pcapgo.NewWriterNanos(&want)
	var plain, viaBuf, plainRec, viaBufRec bytes.Buffer
	bw := bufio.NewWriterSize(&viaBuf, 4096)
	bwRec := bufio.NewWriterSize(&viaBufRec, 4096)
	writers := []*PcapWriter{NewPcapRecordWriter(&plain), NewPcapRecordWriter(bw)}
	// WriteRecord, the meter's call, writes the same records.
	recWriters := []*PcapWriter{NewPcapRecordWriter(&plainRec), NewPcapRecordWriter(bwRec)}
	for i, p := range packets {
		ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * 1001 * time.Millisecond), CaptureLength: len(p), Length: len(p) + i}
		if err := ref.WritePacket(ci, p); err != nil {
			t.Fatal(err)
		}
		for _, w := range writers {
			if err := w.WritePacket(ci, p); err != nil {
				t.Fatalf("packet %d: %v", i, err)
			}
		}
		for _, w := range recWriters {
			if err := w.WriteRecord(ci.Timestamp, ci.Length, p); err != nil {
				t.Fatalf("packet %d: WriteRecord: %v", i, err)
			}
		}
	}
	for _, w := range []*bufio.Writer{bw, bwRec} {
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	for name, got := range map[string][]byte{"plain writer": plain.Bytes(), "bufio.Writer": viaBuf.Bytes(),
		"WriteRecord, plain writer": plainRec.Bytes(), "WriteRecord, bufio.Writer": viaBufRec.Bytes()} {
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%s: %d bytes differ from pcapgo's %d", name, len(got), want.Len())
		}
	}
	for _, ci := range []gopacket.CaptureInfo{
		{Timestamp: ts, CaptureLength: 5, Length: 10}, // not len(data)
		{Timestamp: ts, CaptureLength: 4, Length: 3},  // more than the wire length
	} {
		data := make([]byte, 4)
		refErr := ref.WritePacket(ci, data)
		for _, w := range writers {
			err := w.WritePacket(ci, data)
			if err == nil || refErr == nil || err.Error() != refErr.Error() {
				t.Errorf("%+v: error %v, pcapgo's %v", ci, err, refErr)
			}
		}
	}
	// WriteRecord takes the capture length from the data: more than the
	// wire length is WritePacket's error.
	ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: 4, Length: 3}
	refErr := ref.WritePacket(ci, make([]byte, 4))
	for _, w := range recWriters {
		err := w.WriteRecord(ci.Timestamp, ci.Length, make([]byte, 4))
		if err == nil || refErr == nil || err.Error() != refErr.Error() {
			t.Errorf("WriteRecord, %+v: error %v, pcapgo's %v", ci, err, refErr)
		}
	}
}
