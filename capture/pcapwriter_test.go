package capture

import (
	"bufio"
	"bytes"
	"errors"
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
	var plain, viaBuf, viaOB, plainRec, viaBufRec, viaOBRec bytes.Buffer
	bw := bufio.NewWriterSize(&viaBuf, 4096)
	bwRec := bufio.NewWriterSize(&viaBufRec, 4096)
	ob, obRec := NewOutputBuffer(&viaOB, 4096), NewOutputBuffer(&viaOBRec, 4096)
	writers := []*PcapWriter{NewPcapRecordWriter(&plain), NewPcapRecordWriter(bw), NewPcapRecordWriter(ob)}
	// WriteRecord, the meter's call, writes the same records.
	recWriters := []*PcapWriter{NewPcapRecordWriter(&plainRec), NewPcapRecordWriter(bwRec), NewPcapRecordWriter(obRec)}
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
	for _, w := range []interface{ Flush() error }{bw, bwRec, ob, obRec} {
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	for name, got := range map[string][]byte{"plain writer": plain.Bytes(), "bufio.Writer": viaBuf.Bytes(),
		"OutputBuffer": viaOB.Bytes(), "WriteRecord, plain writer": plainRec.Bytes(),
		"WriteRecord, bufio.Writer": viaBufRec.Bytes(), "WriteRecord, OutputBuffer": viaOBRec.Bytes()} {
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

// failingWriter takes limit bytes, then writes part of what it is given
// and fails.
type failingWriter struct {
	bytes.Buffer
	limit int
}

var errDiskFull = errors.New("disk full")

func (f *failingWriter) Write(p []byte) (int, error) {
	if room := f.limit - f.Len(); len(p) > room {
		n, _ := f.Buffer.Write(p[:max(room, 0)])
		return n, errDiskFull
	}
	return f.Buffer.Write(p)
}

// TestOutputBufferMatchesBufio runs the same writes, flushes and resets
// through an OutputBuffer and a bufio.Writer of the same size, into
// writers that fail after the same number of bytes: every call must
// return the same, and the same bytes must arrive.
func TestOutputBufferMatchesBufio(t *testing.T) {
	for _, limit := range []int{0, 100, 4095, 4096, 5000, 20000, 1 << 20} {
		var fo, fb failingWriter
		fo.limit, fb.limit = limit, limit
		ob, bw := NewOutputBuffer(&fo, 4096), bufio.NewWriterSize(&fb, 4096)
		for i, n := range []int{10, 4000, 100, 5000, 0, 4096, 17, 9000, 3} {
			p := bytes.Repeat([]byte{byte(i + 1)}, n)
			on, oerr := ob.Write(p)
			bn, berr := bw.Write(p)
			if on != bn || oerr != berr || ob.Buffered() != bw.Buffered() || ob.Available() != bw.Available() {
				t.Fatalf("limit %d, write %d of %d bytes: OutputBuffer %d, %v (%d buffered), bufio %d, %v (%d buffered)",
					limit, i, n, on, oerr, ob.Buffered(), bn, berr, bw.Buffered())
			}
			if i%3 == 2 {
				if oerr, berr := ob.Flush(), bw.Flush(); oerr != berr {
					t.Fatalf("limit %d, flush after write %d: OutputBuffer %v, bufio %v", limit, i, oerr, berr)
				}
			}
		}
		if oerr, berr := ob.Flush(), bw.Flush(); oerr != berr || !bytes.Equal(fo.Bytes(), fb.Bytes()) {
			t.Fatalf("limit %d: final flush OutputBuffer %v, bufio %v; %d and %d bytes written", limit, oerr, berr, fo.Len(), fb.Len())
		}
		var after bytes.Buffer
		ob.Reset(&after)
		if _, err := ob.Write([]byte("x")); err != nil || ob.Flush() != nil || after.String() != "x" {
			t.Fatalf("limit %d: after Reset: %v, %q", limit, err, after.String())
		}
	}
}
