package capture

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/gimsproject/gims/packet"
)

// DataLink returns the LINKTYPE_ value to write in a capture file for a
// link type as gopacket reports it. gopacket v1.1.19 holds link types in a
// byte, so values above 255 arrive truncated; the one we decode,
// LINKTYPE_LINUX_SLL2 (276), is mapped back.
func DataLink(lt layers.LinkType) uint32 {
	if lt == packet.LinkTypeLinuxSLL2 {
		return 276
	}
	return uint32(lt)
}

// NewPcapWriter writes a nanosecond-resolution pcap file header with the
// true link type (see DataLink) and returns a writer for the packets.
// pcapgo.Writer.WriteFileHeader cannot express link types above 255.
func NewPcapWriter(w io.Writer, snaplen int, lt layers.LinkType) (*PcapWriter, error) {
	if snaplen <= 0 {
		snaplen = DefaultSnaplen
	}
	var hdr [24]byte
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b23c4d) // nanosecond magic
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], uint32(snaplen))
	binary.LittleEndian.PutUint32(hdr[20:], DataLink(lt))
	if _, err := w.Write(hdr[:]); err != nil {
		return nil, fmt.Errorf("write pcap header: %w", err)
	}
	return NewPcapRecordWriter(w), nil
}

// PcapWriter writes the packet records of a nanosecond-resolution pcap
// file: the bytes and the errors of pcapgo.NewWriterNanos's WritePacket,
// at a fraction of its cost on small packets. Into a bufio.Writer or an
// OutputBuffer with room for the record, it builds the record in the
// buffer itself, one copy of the packet and one call, where pcapgo makes two writes and
// copies the header twice (a fifth of gims-capd -r -w's instructions on
// 60-byte frames).
type PcapWriter struct {
	w   io.Writer
	bw  *bufio.Writer // w, when it is a bufio.Writer
	ob  *OutputBuffer // w, when it is an OutputBuffer
	hdr [pcapRecordHeader]byte
}

// NewPcapRecordWriter returns a writer of packet records to w, which has
// its file header already (a nanosecond pcap file being appended to).
func NewPcapRecordWriter(w io.Writer) *PcapWriter {
	bw, _ := w.(*bufio.Writer)
	ob, _ := w.(*OutputBuffer)
	return &PcapWriter{w: w, bw: bw, ob: ob}
}

// WritePacket writes one packet record; ci.CaptureLength must be
// len(data), and at most ci.Length. A zero timestamp is written as the
// current time, as pcapgo does.
func (p *PcapWriter) WritePacket(ci gopacket.CaptureInfo, data []byte) error {
	if ci.CaptureLength != len(data) {
		return fmt.Errorf("capture length %d does not match data length %d", ci.CaptureLength, len(data))
	}
	if ci.CaptureLength > ci.Length {
		return fmt.Errorf("invalid capture info %+v:  capture length > length", ci)
	}
	t := ci.Timestamp
	if t.IsZero() {
		t = time.Now()
	}
	n := pcapRecordHeader + len(data)
	if p.bw != nil && p.bw.Available() >= n {
		b := p.bw.AvailableBuffer()[:n]
		putRecordHeader(b, t, ci)
		copy(b[pcapRecordHeader:], data)
		_, err := p.bw.Write(b)
		return err
	}
	putRecordHeader(p.hdr[:], t, ci)
	if _, err := p.w.Write(p.hdr[:]); err != nil {
		return fmt.Errorf("error writing packet header: %v", err)
	}
	_, err := p.w.Write(data)
	return err
}

// WriteRecord writes one packet record of data, with the timestamp ts,
// the wire length length and the capture length len(data): the record
// and the errors of WritePacket for that capture info, whose copies cost
// more than the record on small packets. The meter's packet sink calls it
// for every packet written (capture/meter.RecordWriter).
func (p *PcapWriter) WriteRecord(ts time.Time, length int, data []byte) error {
	if ob := p.ob; ob != nil && ob.err == nil {
		// The record in the buffer's free space, if it fits (the
		// OutputBuffer's reserve, inline).
		n := len(data)
		if b := ob.buf[ob.n:]; pcapRecordHeader+n <= len(b) && n <= length {
			// The zero Time, which WritePacket writes as the current
			// time, is Unix zeroTimeUnix, nanosecond 0.
			if sec, nsec := ts.Unix(), ts.Nanosecond(); sec != zeroTimeUnix || nsec != 0 {
				h := (*[pcapRecordHeader]byte)(b)
				binary.LittleEndian.PutUint64(h[0:8], uint64(uint32(sec))|uint64(nsec)<<32)
				binary.LittleEndian.PutUint64(h[8:16], uint64(uint32(n))|uint64(uint32(length))<<32)
				copy(b[pcapRecordHeader:], data)
				ob.n += pcapRecordHeader + n
				return nil
			}
		}
	}
	return p.writeRecord(ts, length, data)
}

// zeroTimeUnix is the Unix time of the zero time.Time.
const zeroTimeUnix = -62135596800

// writeRecord is WriteRecord through the buffer's reserve (flushing it
// first), a bufio.Writer's free space, or WritePacket.
func (p *PcapWriter) writeRecord(ts time.Time, length int, data []byte) error {
	n := pcapRecordHeader + len(data)
	if p.ob != nil && len(data) <= length && !ts.IsZero() {
		if b := p.ob.reserve(n); b != nil {
			putRecordHeader(b, ts, gopacket.CaptureInfo{CaptureLength: len(data), Length: length})
			copy(b[pcapRecordHeader:], data)
			return nil
		}
	}
	if p.bw == nil || len(data) > length || ts.IsZero() || p.bw.Available() < n {
		return p.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(data), Length: length}, data)
	}
	b := p.bw.AvailableBuffer()[:n]
	putRecordHeader(b, ts, gopacket.CaptureInfo{CaptureLength: len(data), Length: length})
	copy(b[pcapRecordHeader:], data)
	_, err := p.bw.Write(b) // the bytes are in place: copy skips itself
	return err
}

// putRecordHeader puts a pcap record header with a nanosecond timestamp
// in b.
func putRecordHeader(b []byte, t time.Time, ci gopacket.CaptureInfo) {
	_ = b[15]
	binary.LittleEndian.PutUint32(b[0:4], uint32(t.Unix()))
	binary.LittleEndian.PutUint32(b[4:8], uint32(t.Nanosecond()))
	binary.LittleEndian.PutUint32(b[8:12], uint32(ci.CaptureLength))
	binary.LittleEndian.PutUint32(b[12:16], uint32(ci.Length))
}
