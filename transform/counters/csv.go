package counters

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// ReadCSV returns rows [offset, offset+limit) of a counters CSV file
// written with WriteCSVHeader and AppendCSV (the header is not a row). A
// partial last line (being written) is left out, and a missing file has
// no rows. Files written before the per-protocol byte columns existed
// (seven columns) read with those bytes at zero.
func ReadCSV(path string, offset, limit int) ([]Record, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return []Record{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("unable to read counters: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	rows := []Record{}
	for i := -1; len(rows) < limit; i++ { // row -1 is the header
		line, err := br.ReadString('\n')
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("unable to read counters: %w", err)
		}
		if i < offset {
			continue
		}
		row, err := parseCSVRow(strings.TrimSuffix(line, "\n"))
		if err != nil {
			return nil, fmt.Errorf("%s row %d: %w", filepath.Base(path), i+1, err)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// parseCSVRow parses one row of a counters CSV file, without its newline:
// 11 columns, or the 7 of files written before the per-protocol byte
// columns were added (whose per-protocol bytes are then left at zero).
// Start keeps the time zone the row has (UTC in the rows AppendCSV
// writes).
func parseCSVRow(line string) (Record, error) {
	var r Record
	cols := strings.Split(line, ",")
	if len(cols) != 7 && len(cols) != 11 {
		return r, fmt.Errorf("want 11 columns (or 7), got %d", len(cols))
	}
	var err error
	if r.Start, err = time.Parse(time.RFC3339Nano, cols[0]); err != nil {
		return r, fmt.Errorf("bad time: %w", err)
	}
	dsts := []*uint64{
		&r.Packets, &r.Bytes, &r.TCP, &r.UDP, &r.ICMP, &r.Other,
		&r.TCPBytes, &r.UDPBytes, &r.ICMPBytes, &r.OtherBytes,
	}
	for i, dst := range dsts[:len(cols)-1] {
		if *dst, err = strconv.ParseUint(cols[i+1], 10, 64); err != nil {
			return r, fmt.Errorf("column %d: %w", i+2, err)
		}
	}
	return r, nil
}
