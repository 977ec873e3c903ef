package counters

import (
	"fmt"
	"io"
	"strconv"
	"time"
)

// csvHeader names the columns AppendCSV writes, as the counters results
// of SPEC §3 name them. The per-protocol byte columns come after the seven
// columns of SPEC §3 so that readers that take the first seven columns
// (files written before they were added) keep working.
const csvHeader = "time,packets,bytes,tcp_packets,udp_packets,icmp_packets,other_packets," +
	"tcp_bytes,udp_bytes,icmp_bytes,other_bytes\n"

// WriteCSVHeader writes the header row of the counters CSV file.
func WriteCSVHeader(w io.Writer) error {
	if _, err := io.WriteString(w, csvHeader); err != nil {
		return fmt.Errorf("unable to write counters CSV header: %w", err)
	}
	return nil
}

// AppendCSV appends r to dst as one CSV row, newline included: the interval
// start in RFC 3339 UTC with nanoseconds, then the counters in header
// order. It does not allocate when dst has room.
func AppendCSV(dst []byte, r Record) []byte {
	dst = r.Start.UTC().AppendFormat(dst, time.RFC3339Nano)
	for _, v := range [...]uint64{
		r.Packets, r.Bytes, r.TCP, r.UDP, r.ICMP, r.Other,
		r.TCPBytes, r.UDPBytes, r.ICMPBytes, r.OtherBytes,
	} {
		dst = append(dst, ',')
		dst = strconv.AppendUint(dst, v, 10)
	}
	return append(dst, '\n')
}
