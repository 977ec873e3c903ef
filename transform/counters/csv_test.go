package counters

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestReadCSV reads counters CSV files as AppendCSV writes them (11
// columns), as they were written before the per-protocol byte columns (7
// columns), and mixed (a job resumed by a newer daemon appends 11-column
// rows to a 7-column file).
func TestReadCSV(t *testing.T) {
	const (
		header7  = "time,packets,bytes,tcp_packets,udp_packets,icmp_packets,other_packets\n"
		header11 = csvHeader
		row7     = "2024-05-01T12:00:00Z,7,1500,3,2,1,1\n"
		row11    = "2024-05-01T12:00:01.5Z,7,1500,3,2,1,1,1000,300,98,102\n"
	)
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	old := Record{Start: t0, Packets: 7, Bytes: 1500, TCP: 3, UDP: 2, ICMP: 1, Other: 1}
	cur := old
	cur.Start = t0.Add(1500 * time.Millisecond)
	cur.TCPBytes, cur.UDPBytes, cur.ICMPBytes, cur.OtherBytes = 1000, 300, 98, 102
	for _, tc := range []struct {
		name          string
		content       string
		offset, limit int
		want          []Record
		err           string
	}{
		{name: "11 columns", content: header11 + row11, limit: 10, want: []Record{cur}},
		{name: "7 columns, bytes per protocol left at zero", content: header7 + row7, limit: 10, want: []Record{old}},
		{name: "7-column file resumed with 11-column rows", content: header7 + row7 + row11, limit: 10, want: []Record{old, cur}},
		{name: "offset", content: header11 + row7 + row11, offset: 1, limit: 10, want: []Record{cur}},
		{name: "limit", content: header11 + row7 + row11, limit: 1, want: []Record{old}},
		{name: "partial last row is not read", content: header11 + row11 + row11[:20], limit: 10, want: []Record{cur}},
		{name: "header only", content: header11, limit: 10, want: []Record{}},
		{
			name: "8 columns", content: header11 + "2024-05-01T12:00:00Z,7,1500,3,2,1,1,1000\n", limit: 10,
			err: "counters.csv row 1: want 11 columns (or 7), got 8",
		}, {
			name: "bad byte column", content: header11 + "2024-05-01T12:00:00Z,7,1500,3,2,1,1,1000,300,x,102\n", limit: 10,
			err: `counters.csv row 1: column 10: strconv.ParseUint: parsing "x": invalid syntax`,
		}, {
			name: "bad time", content: header11 + "yesterday,7,1500,3,2,1,1,1000,300,98,102\n", limit: 10,
			err: "counters.csv row 1: bad time",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "counters.csv")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadCSV(path, tc.offset, tc.limit)
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("ReadCSV() error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadCSV() error:\n%+v", err)
			}
			if !slices.EqualFunc(got, tc.want, func(a, b Record) bool {
				return a.Start.Equal(b.Start) && a.Start.Location() == time.UTC && withStart(a, b.Start) == b
			}) {
				t.Errorf("ReadCSV() (-got, +want):\n-%+v\n+%+v", got, tc.want)
			}
		})
	}
	if got, err := ReadCSV(filepath.Join(t.TempDir(), "missing.csv"), 0, 10); err != nil || len(got) != 0 || got == nil {
		t.Errorf("ReadCSV(missing) = %#v, %v; want no rows", got, err)
	}
}

// withStart returns r with Start set to t, so that rows compare with ==
// once their times have been compared with Equal.
func withStart(r Record, t time.Time) Record {
	r.Start = t
	return r
}

// TestCSVRoundTrip writes records with WriteCSVHeader and AppendCSV and
// reads them back with ReadCSV.
func TestCSVRoundTrip(t *testing.T) {
	var want []Record
	var b strings.Builder
	if err := WriteCSVHeader(&b); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		r := Record{Start: time.Unix(1700000000+int64(i), 250_000_000).UTC(), Packets: uint64(i), Bytes: uint64(100 * i),
			TCP: 1, UDP: 2, ICMP: 3, Other: 4, TCPBytes: 5, UDPBytes: 6, ICMPBytes: 7, OtherBytes: uint64(1 << 63)}
		want = append(want, r)
		b.Write(AppendCSV(nil, r))
	}
	path := filepath.Join(t.TempDir(), "counters.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCSV(path, 0, 100)
	if err != nil {
		t.Fatalf("ReadCSV() error: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ReadCSV() (-got, +want):\n-%+v\n+%+v", got, want)
	}
}

// FuzzParseCSVRow checks that a counters row that parses is written back
// by AppendCSV as a row that parses to the same values.
func FuzzParseCSVRow(f *testing.F) {
	f.Add("2024-05-01T12:00:00Z,10,1500,5,3,1,1")
	f.Add("2024-05-01T12:00:00Z,10,1500,5,3,1,1,900,400,98,102")
	f.Add("2024-05-01T12:00:00.5+02:00,0,0,0,0,0,0")
	f.Add("2024-05-01T12:00:00.5+02:00,0,0,0,0,0,0,0,0,0,0")
	f.Add("time,packets,bytes,tcp_packets,udp_packets,icmp_packets,other_packets")
	f.Add("time,packets,bytes,tcp_packets,udp_packets,icmp_packets,other_packets,tcp_bytes,udp_bytes,icmp_bytes,other_bytes")
	f.Fuzz(func(t *testing.T, line string) {
		r, err := parseCSVRow(line)
		if err != nil {
			return
		}
		out := AppendCSV(nil, r)
		again, err := parseCSVRow(strings.TrimSuffix(string(out), "\n"))
		if err != nil {
			t.Fatalf("row %q parsed, its rewrite %q did not: %v", line, out, err)
		}
		if !again.Start.Equal(r.Start) {
			t.Fatalf("time %v became %v", r.Start, again.Start)
		}
		again.Start = r.Start
		if again != r {
			t.Fatalf("row %q: %+v became %+v", line, r, again)
		}
	})
}
