package flowstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gimsproject/gims/flowfilter"
)

// TestWriteCSV checks the CSV export against the flows written.
func TestWriteCSV(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	recs := testFlows(1000, 4)
	path := filepath.Join(t.TempDir(), "flows.ipfix")
	writeIPFIX(t, path, recs)
	if _, err := s.Ingest(ctx, Source{Name: "flows.ipfix", Device: "tap1", Interface: "eth0"}, path); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.WriteCSV(ctx, &buf, Query{}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1001 {
		t.Fatalf("%d CSV lines, want 1001", len(rows))
	}
	for i, r := range recs {
		row := rows[i+1]
		if row[0] != "tap1" || row[2] != r.Key.SrcAddr().String() || row[3] != r.Key.DstAddr().String() ||
			row[5] != strconv.Itoa(int(r.Key.DstPort)) || row[9] != strconv.FormatUint(r.Bytes, 10) ||
			row[11] != strconv.FormatUint(r.RevBytes, 10) || row[12] != r.Start.UTC().Format(csvTime) {
			t.Fatalf("CSV row %d = %v, want flow %+v", i, row, r)
		}
	}
	f, _ := flowfilter.Parse("tcp")
	buf.Reset()
	if err := s.WriteCSV(ctx, &buf, Query{Filter: f}); err != nil {
		t.Fatal(err)
	}
	want := 1
	for _, r := range recs {
		if r.Key.Proto == 6 {
			want++
		}
	}
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n != want {
		t.Errorf("filtered CSV has %d lines, want %d", n, want)
	}
}

// TestWriteParquetRead writes a Parquet export of more than one row
// group and reads it back with hyparquet (JavaScript, under node): a
// reader that is not the writer.
func TestWriteParquetRead(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	n := parquetRowGroup + 1000
	recs := testFlows(n, 5)
	dir := t.TempDir()
	path := filepath.Join(dir, "flows.ipfix")
	writeIPFIX(t, path, recs)
	if _, err := s.Ingest(ctx, Source{Name: "flows.ipfix", Device: "tap1", Interface: "eth0"}, path); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "flows.parquet")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteParquet(ctx, f, Query{}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "testdata/readparquet.mjs", out)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("node: %v (make test installs nodejs)", err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() {
		t.Fatal("hyparquet printed nothing")
	}
	var meta struct {
		NumRows   int `json:"num_rows"`
		RowGroups int `json:"row_groups"`
	}
	if err := json.Unmarshal(sc.Bytes(), &meta); err != nil || meta.NumRows != n || meta.RowGroups < 2 {
		t.Fatalf("hyparquet metadata %s (%v); want %d rows in 2 or more row groups", sc.Text(), err, n)
	}
	i := 0
	for sc.Scan() {
		var row struct {
			Device, Src, Dst, Start string
			Sport, Dport, Proto     int
			Bytes                   string
			RevBytes                string `json:"rev_bytes"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatal(err)
		}
		r := recs[i]
		start, _ := time.Parse(time.RFC3339Nano, row.Start)
		if row.Device != "tap1" || row.Src != r.Key.SrcAddr().String() || row.Dst != r.Key.DstAddr().String() ||
			row.Dport != int(r.Key.DstPort) || row.Proto != int(r.Key.Proto) || row.Bytes != strconv.FormatUint(r.Bytes, 10) ||
			row.RevBytes != strconv.FormatUint(r.RevBytes, 10) ||
			!start.Equal(r.Start) {
			t.Fatalf("hyparquet row %d = %s, want flow %+v", i, sc.Text(), r)
		}
		i++
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node: %v", err)
	}
	if i != n {
		t.Errorf("hyparquet read %d rows, want %d", i, n)
	}
}
