package flowstore

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"
)

// ExportColumns are the columns of the CSV and Parquet exports, in
// order: packets and bytes are the forward direction, rev_packets and
// rev_bytes the reverse one (RFC 5103).
var ExportColumns = []string{"device", "interface", "src", "dst", "sport", "dport", "proto", "vlan",
	"packets", "bytes", "rev_packets", "rev_bytes", "start", "end", "end_reason"}

// WriteCSV writes the flows q selects as CSV with a header line
// (ExportColumns; times in RFC 3339 with milliseconds, UTC), streaming.
func (s *Store) WriteCSV(ctx context.Context, w io.Writer, q Query) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(ExportColumns); err != nil {
		return err
	}
	rec := make([]string, len(ExportColumns))
	err := s.Each(ctx, q, func(r *Row) error {
		rec[0], rec[1], rec[2], rec[3] = r.Device, r.Interface, r.Src.String(), r.Dst.String()
		rec[4], rec[5] = strconv.Itoa(int(r.SrcPort)), strconv.Itoa(int(r.DstPort))
		rec[6], rec[7] = strconv.Itoa(int(r.Proto)), strconv.Itoa(int(r.VLAN))
		rec[8], rec[9] = strconv.FormatInt(r.FwdPackets, 10), strconv.FormatInt(r.FwdBytes, 10)
		rec[10], rec[11] = strconv.FormatInt(r.RevPackets, 10), strconv.FormatInt(r.RevBytes, 10)
		rec[12], rec[13] = r.Start.Format(csvTime), r.End.Format(csvTime)
		rec[14] = r.EndReason
		return cw.Write(rec)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// csvTime is the time format of the CSV export.
const csvTime = "2006-01-02T15:04:05.000Z07:00"

// ParquetFlow is one row of the Parquet export (ExportColumns): start
// and end are timestamps in milliseconds, UTC.
type ParquetFlow struct {
	Device     string    `parquet:"device"`
	Interface  string    `parquet:"interface"`
	Src        string    `parquet:"src"`
	Dst        string    `parquet:"dst"`
	SrcPort    int32     `parquet:"sport"`
	DstPort    int32     `parquet:"dport"`
	Proto      int32     `parquet:"proto"`
	VLAN       int32     `parquet:"vlan"`
	Packets    int64     `parquet:"packets"`
	Bytes      int64     `parquet:"bytes"`
	RevPackets int64     `parquet:"rev_packets"`
	RevBytes   int64     `parquet:"rev_bytes"`
	Start      time.Time `parquet:"start,timestamp(millisecond)"`
	End        time.Time `parquet:"end,timestamp(millisecond)"`
	EndReason  string    `parquet:"end_reason"`
}

// parquetRowGroup is how many rows the Parquet writer buffers before it
// writes a row group: the export's memory stays flat.
const parquetRowGroup = 65536

// WriteParquet writes the flows q selects as a Parquet file (Snappy
// compressed, a row group every 65,536 flows), streaming.
func (s *Store) WriteParquet(ctx context.Context, w io.Writer, q Query) error {
	pw := parquet.NewGenericWriter[ParquetFlow](w, parquet.Compression(&parquet.Snappy),
		parquet.CreatedBy("gims", "", ""))
	buf := make([]ParquetFlow, 0, 1024)
	inGroup := 0
	flush := func() error {
		if _, err := pw.Write(buf); err != nil {
			return fmt.Errorf("unable to write parquet: %w", err)
		}
		inGroup += len(buf)
		buf = buf[:0]
		if inGroup >= parquetRowGroup {
			inGroup = 0
			return pw.Flush()
		}
		return nil
	}
	err := s.Each(ctx, q, func(r *Row) error {
		buf = append(buf, ParquetFlow{Device: r.Device, Interface: r.Interface, Src: r.Src.String(), Dst: r.Dst.String(),
			SrcPort: int32(r.SrcPort), DstPort: int32(r.DstPort), Proto: int32(r.Proto), VLAN: int32(r.VLAN),
			Packets: r.FwdPackets, Bytes: r.FwdBytes, RevPackets: r.RevPackets, RevBytes: r.RevBytes,
			Start: r.Start, End: r.End, EndReason: r.EndReason})
		if len(buf) == cap(buf) {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	return pw.Close()
}
