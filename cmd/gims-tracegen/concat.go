package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// maxRepeat bounds Concat's repeat count.
const maxRepeat = 1_000_000

// maxSampleSpan is the longest time a file's packets keep their spacing
// in; a file that spans more has its packets a millisecond apart instead.
const maxSampleSpan = time.Hour

// samplePacket is one packet of a capture file read by Concat, already
// framed as Ethernet, with its time relative to the file's first packet.
type samplePacket struct {
	offset time.Duration
	length int
	data   []byte
}

// sampleFile is the packets of one capture file and the time they span.
type sampleFile struct {
	packets []samplePacket
	span    time.Duration
}

// Concat writes the packets of the capture files (pcap or pcapng) one
// file after the other, the whole sequence repeat times, into w as one
// pcap file with Ethernet link type, starting at start: each file's
// packets keep their spacing (unless they span more than an hour: then
// they come a millisecond apart, in their order), and the next file starts
// a millisecond after the previous one's last packet. Frames of other link types
// (raw IP, BSD loopback, Linux cooked v1 and v2) get an Ethernet header
// instead of theirs, so one file holds them all; the rest of each packet
// is kept byte for byte. The same files and arguments always produce the
// same bytes.
func Concat(w io.Writer, paths []string, repeat int, start time.Time) (Stats, error) {
	var st Stats
	if len(paths) == 0 {
		return st, errors.New("no capture file to concatenate")
	}
	if repeat < 1 || repeat > maxRepeat {
		return st, fmt.Errorf("repeat must be between 1 and %d, not %d", maxRepeat, repeat)
	}
	files := make([]sampleFile, 0, len(paths))
	for _, p := range paths {
		f, err := readSample(p)
		if err != nil {
			return st, err
		}
		files = append(files, f)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	pw := pcapgo.NewWriter(bw)
	if err := pw.WriteFileHeader(defaultSnaplen, layers.LinkTypeEthernet); err != nil {
		return st, fmt.Errorf("unable to write the pcap file header: %w", err)
	}
	at := start
	for range repeat {
		for _, f := range files {
			for _, p := range f.packets {
				ts := at.Add(p.offset)
				ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(p.data), Length: p.length}
				if err := pw.WritePacket(ci, p.data); err != nil {
					return st, fmt.Errorf("unable to write packet %d: %w", st.Packets+1, err)
				}
				if st.Packets == 0 {
					st.First = ts
				}
				st.Last = ts
				st.Packets++
				st.Bytes += int64(p.length)
				st.CapturedBytes += int64(len(p.data))
			}
			at = at.Add(f.span + time.Millisecond)
		}
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("unable to write the trace: %w", err)
	}
	return st, nil
}

// packetReader is what pcapgo's pcap and pcapng readers have in common.
type packetReader interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// readSample reads a whole capture file and frames its packets as
// Ethernet.
func readSample(path string) (sampleFile, error) {
	var f sampleFile
	raw, err := os.ReadFile(path)
	if err != nil {
		return f, fmt.Errorf("unable to read %s: %w", path, err)
	}
	var r packetReader
	var linkType func(gopacket.CaptureInfo) uint32
	if len(raw) >= 4 && binary.LittleEndian.Uint32(raw) == 0x0a0d0d0a {
		ng, err := pcapgo.NewNgReader(bytes.NewReader(raw), pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return f, fmt.Errorf("%s: %w", path, err)
		}
		r = ng
		linkType = func(ci gopacket.CaptureInfo) uint32 {
			intf, err := ng.Interface(ci.InterfaceIndex)
			if err != nil {
				return math.MaxUint32 // not reached: the reader checked the index
			}
			return uint32(intf.LinkType)
		}
	} else {
		pr, err := pcapgo.NewReader(bytes.NewReader(raw))
		if err != nil {
			return f, fmt.Errorf("%s: %w", path, err)
		}
		r = pr
		// The header's own field: pcapgo's LinkType() keeps 8 bits of it.
		order := binary.ByteOrder(binary.LittleEndian)
		if raw[0] == 0xa1 {
			order = binary.BigEndian
		}
		lt := order.Uint32(raw[20:24]) & 0x0fffffff // the upper bits hold FCS flags
		linkType = func(gopacket.CaptureInfo) uint32 { return lt }
	}
	var first time.Time
	for n := 1; ; n++ {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return f, fmt.Errorf("%s: packet %d: %w", path, n, err)
		}
		framed, extra, err := asEthernet(linkType(ci), data)
		if err != nil {
			return f, fmt.Errorf("%s: packet %d: %w", path, n, err)
		}
		if n == 1 {
			first = ci.Timestamp
		}
		off := ci.Timestamp.Sub(first)
		f.packets = append(f.packets, samplePacket{offset: off, length: max(ci.Length+extra, len(framed)), data: framed})
		f.span = max(f.span, off)
	}
	if len(f.packets) == 0 {
		return f, fmt.Errorf("%s: no packet", path)
	}
	if f.span > maxSampleSpan {
		// Years between packets (some samples are stitched together) would
		// soon overflow the pcap format's 32-bit seconds once repeated.
		for i := range f.packets {
			f.packets[i].offset = time.Duration(i) * time.Millisecond
		}
		f.span = time.Duration(len(f.packets)-1) * time.Millisecond
	}
	return f, nil
}

// Link types asEthernet knows, as pcap numbers them (gopacket's
// layers.LinkType is 8 bits and cannot hold LINKTYPE_LINUX_SLL2).
const (
	linkTypeNull      = 0
	linkTypeEthernet  = 1
	linkTypeRaw       = 101
	linkTypeLoop      = 108
	linkTypeLinuxSLL  = 113
	linkTypeIPv4      = 228
	linkTypeIPv6      = 229
	linkTypeLinuxSLL2 = 276
)

// Ethernet addresses of the header Concat puts on frames of other link
// types (locally administered).
var (
	concatDst = [6]byte{0x02, 0, 0, 0, 0, 0x02}
	concatSrc = [6]byte{0x02, 0, 0, 0, 0, 0x01}
)

// asEthernet returns a packet of link type lt as an Ethernet frame and
// how many bytes longer than the original it is (negative when the
// original header was longer).
func asEthernet(lt uint32, data []byte) ([]byte, int, error) {
	var etherType uint16
	var strip int
	ipType := func(b []byte) (uint16, error) {
		if len(b) == 0 {
			return 0, errors.New("empty raw IP packet")
		}
		switch b[0] >> 4 {
		case 4:
			return etherIPv4, nil
		case 6:
			return etherIPv6, nil
		}
		return 0, fmt.Errorf("raw IP packet of version %d", b[0]>>4)
	}
	var err error
	switch lt {
	case linkTypeEthernet:
		return bytes.Clone(data), 0, nil
	case linkTypeRaw, linkTypeIPv4, linkTypeIPv6, 12, 14: // 12 and 14: DLT_RAW on some systems
		etherType, err = ipType(data)
	case linkTypeNull, linkTypeLoop:
		if len(data) < 4 {
			return nil, 0, errors.New("loopback header cut short")
		}
		strip = 4
		etherType, err = ipType(data[4:])
	case linkTypeLinuxSLL:
		if len(data) < 16 {
			return nil, 0, errors.New("cooked (Linux SLL) header cut short")
		}
		strip, etherType = 16, binary.BigEndian.Uint16(data[14:])
	case linkTypeLinuxSLL2:
		if len(data) < 20 {
			return nil, 0, errors.New("cooked (Linux SLL2) header cut short")
		}
		strip, etherType = 20, binary.BigEndian.Uint16(data[0:])
	default:
		return nil, 0, fmt.Errorf("link type %d cannot be framed as Ethernet", lt)
	}
	if err != nil {
		return nil, 0, err
	}
	out := make([]byte, 0, ethLen+len(data)-strip)
	out = append(out, concatDst[:]...)
	out = append(out, concatSrc[:]...)
	out = binary.BigEndian.AppendUint16(out, etherType)
	out = append(out, data[strip:]...)
	return out, ethLen - strip, nil
}
