package ipfix

import (
	"encoding/binary"
	"time"

	"github.com/gimsproject/gims/transform/flow"
)

// Encoded record lengths (see Templates).
const (
	commonLength    = 2 + 2 + 1 + 2 + 2 + 1 + 8 + 8 + 8 + 8
	reverseLength   = 8 + 8 + 2
	recordLenIPv4   = 4 + 4 + commonLength
	recordLenIPv6   = 16 + 16 + commonLength
	maxRecordLength = recordLenIPv6 + reverseLength
)

// recordLength returns the encoded length of a record of IP version v.
func recordLength(v uint8, biflow bool) int {
	n := recordLenIPv4
	if v == 6 {
		n = recordLenIPv6
	}
	if biflow {
		n += reverseLength
	}
	return n
}

// millis converts t to dateTimeMilliseconds (RFC 7011 §6.1.8): the zero time
// and times before the epoch, which the type cannot hold, become 0.
func millis(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	ms := t.UnixMilli()
	if ms < 0 {
		return 0
	}
	return uint64(ms)
}

// encodeRecord writes r into b in the field order of Templates and returns
// the number of octets written. b must hold recordLength(v, biflow) octets.
func encodeRecord(b []byte, r *flow.Record, biflow bool) int {
	be := binary.BigEndian
	k := &r.Key
	var n int
	if k.IPVersion == 6 {
		copy(b[0:16], k.Src[:])
		copy(b[16:32], k.Dst[:])
		n = 32
	} else {
		copy(b[0:4], k.Src[:4])
		copy(b[4:8], k.Dst[:4])
		n = 8
	}
	b = b[n:]
	_ = b[commonLength-1] // bounds check hint
	be.PutUint16(b[0:], k.SrcPort)
	be.PutUint16(b[2:], k.DstPort)
	b[4] = k.Proto
	be.PutUint16(b[5:], k.VLAN)
	be.PutUint16(b[7:], uint16(r.TCPFlags))
	b[9] = uint8(r.EndReason)
	be.PutUint64(b[10:], millis(r.Start))
	be.PutUint64(b[18:], millis(r.End))
	be.PutUint64(b[26:], r.Bytes)
	be.PutUint64(b[34:], r.Packets)
	n += commonLength
	if biflow {
		b = b[commonLength:]
		_ = b[reverseLength-1]
		be.PutUint64(b[0:], r.RevBytes)
		be.PutUint64(b[8:], r.RevPackets)
		be.PutUint16(b[16:], uint16(r.RevTCPFlags))
		n += reverseLength
	}
	return n
}

// putMessageHeader writes the IPFIX message header (RFC 7011 §3.1) at the
// start of msg, whose length is the message length.
func putMessageHeader(msg []byte, exportTime, seq, domain uint32) {
	be := binary.BigEndian
	be.PutUint16(msg[0:], ipfixVersion)
	be.PutUint16(msg[2:], uint16(len(msg)))
	be.PutUint32(msg[4:], exportTime)
	be.PutUint32(msg[8:], seq)
	be.PutUint32(msg[12:], domain)
}
