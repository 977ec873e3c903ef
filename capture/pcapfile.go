package capture

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

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
func NewPcapWriter(w io.Writer, snaplen int, lt layers.LinkType) (*pcapgo.Writer, error) {
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
	return pcapgo.NewWriterNanos(w), nil
}
