package counters

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gimsproject/gims/packet"
)

// base is a whole minute, so second intervals start at base + n seconds.
var base = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

// step is one call on the Aggregator: a packet (proto -1 for non-IP),
// Advance or Flush.
type step struct {
	op    string // "pkt", "advance", "flush"
	t     time.Duration
	proto int
	len   int
}

func pkt(t time.Duration, proto, wireLen int) step {
	return step{op: "pkt", t: t, proto: proto, len: wireLen}
}
func advance(t time.Duration) step { return step{op: "advance", t: t} }
func flush() step                  { return step{op: "flush"} }

// rec renders a record compactly: offset from base, then the counters,
// each protocol class as packets/bytes.
func rec(r Record) string {
	return fmt.Sprintf("%v p=%d b=%d tcp=%d/%d udp=%d/%d icmp=%d/%d other=%d/%d",
		r.Start.Sub(base), r.Packets, r.Bytes, r.TCP, r.TCPBytes, r.UDP, r.UDPBytes,
		r.ICMP, r.ICMPBytes, r.Other, r.OtherBytes)
}

// checkSums reports a record whose protocol classes do not add up to its
// totals: every packet is in exactly one class.
func checkSums(t *testing.T, r Record) {
	t.Helper()
	if sum := r.TCP + r.UDP + r.ICMP + r.Other; sum != r.Packets {
		t.Errorf("record %v: tcp+udp+icmp+other packets = %d, want packets %d", r.Start, sum, r.Packets)
	}
	if sum := r.TCPBytes + r.UDPBytes + r.ICMPBytes + r.OtherBytes; sum != r.Bytes {
		t.Errorf("record %v: tcp+udp+icmp+other bytes = %d, want bytes %d", r.Start, sum, r.Bytes)
	}
}

func run(t *testing.T, cfg Configuration, steps []step) []string {
	t.Helper()
	var got []string
	seen := map[time.Time]bool{}
	a, err := New(cfg, func(r Record) {
		if seen[r.Start] {
			t.Errorf("interval %v emitted twice", r.Start)
		}
		seen[r.Start] = true
		checkSums(t, r)
		if r.Start.Location() != time.UTC {
			t.Errorf("Start %v not in UTC", r.Start)
		}
		got = append(got, rec(r))
	})
	if err != nil {
		t.Fatalf("New() error:\n%+v", err)
	}
	var s packet.Summary
	for _, st := range steps {
		switch st.op {
		case "pkt":
			s = packet.Summary{Timestamp: at(st.t), WireLen: st.len}
			if st.proto >= 0 {
				s.IPVersion = 4
				s.Proto = uint8(st.proto)
			}
			a.Add(&s)
		case "advance":
			a.Advance(at(st.t))
		case "flush":
			a.Flush()
		}
	}
	return got
}

func TestAggregator(t *testing.T) {
	sec := time.Second
	ms := time.Millisecond
	cases := []struct {
		name     string
		interval time.Duration
		steps    []step
		want     []string
	}{
		{
			name:     "no packets",
			interval: sec,
			steps:    []step{advance(10 * sec), flush()},
			want:     nil,
		}, {
			name:     "one interval, every protocol class",
			interval: sec,
			steps: []step{
				pkt(100*ms, 6, 60), pkt(200*ms, 17, 100), pkt(300*ms, 1, 98),
				pkt(400*ms, 58, 118), pkt(500*ms, 47, 200), pkt(600*ms, -1, 42),
				flush(),
			},
			want: []string{"0s p=6 b=618 tcp=1/60 udp=1/100 icmp=2/216 other=2/242"},
		}, {
			name:     "interval boundary belongs to the next interval",
			interval: sec,
			steps:    []step{pkt(999*ms, 6, 10), pkt(sec, 6, 20), flush()},
			want: []string{
				"0s p=1 b=10 tcp=1/10 udp=0/0 icmp=0/0 other=0/0",
				"1s p=1 b=20 tcp=1/20 udp=0/0 icmp=0/0 other=0/0",
			},
		}, {
			name:     "empty intervals between non-empty ones are zero records",
			interval: sec,
			steps:    []step{pkt(500*ms, 17, 10), pkt(3500*ms, 17, 10), flush()},
			want: []string{
				"0s p=1 b=10 tcp=0/0 udp=1/10 icmp=0/0 other=0/0",
				"1s p=0 b=0 tcp=0/0 udp=0/0 icmp=0/0 other=0/0",
				"2s p=0 b=0 tcp=0/0 udp=0/0 icmp=0/0 other=0/0",
				"3s p=1 b=10 tcp=0/0 udp=1/10 icmp=0/0 other=0/0",
			},
		}, {
			name:     "series starts at the first packet, aligned to the epoch",
			interval: 10 * sec,
			steps:    []step{pkt(25*sec, 6, 1), pkt(29*sec, 6, 2), pkt(41*sec, 6, 4), flush()},
			want: []string{
				"20s p=2 b=3 tcp=2/3 udp=0/0 icmp=0/0 other=0/0",
				"30s p=0 b=0 tcp=0/0 udp=0/0 icmp=0/0 other=0/0",
				"40s p=1 b=4 tcp=1/4 udp=0/0 icmp=0/0 other=0/0",
			},
		}, {
			name:     "out-of-order packet counts in the current interval",
			interval: sec,
			steps:    []step{pkt(900*ms, 6, 1), pkt(1100*ms, 6, 2), pkt(950*ms, 17, 4), pkt(2100*ms, 6, 8), flush()},
			want: []string{
				"0s p=1 b=1 tcp=1/1 udp=0/0 icmp=0/0 other=0/0",
				"1s p=2 b=6 tcp=1/2 udp=1/4 icmp=0/0 other=0/0",
				"2s p=1 b=8 tcp=1/8 udp=0/0 icmp=0/0 other=0/0",
			},
		}, {
			name:     "advance closes finished intervals with no packets",
			interval: sec,
			steps:    []step{pkt(100*ms, 6, 1), advance(900 * ms), advance(3200 * ms), pkt(3300*ms, 6, 2), flush()},
			want: []string{
				"0s p=1 b=1 tcp=1/1 udp=0/0 icmp=0/0 other=0/0",
				"1s p=0 b=0 tcp=0/0 udp=0/0 icmp=0/0 other=0/0",
				"2s p=0 b=0 tcp=0/0 udp=0/0 icmp=0/0 other=0/0",
				"3s p=1 b=2 tcp=1/2 udp=0/0 icmp=0/0 other=0/0",
			},
		}, {
			name:     "late packet after advance counts in the current interval",
			interval: sec,
			steps:    []step{pkt(100*ms, 6, 1), advance(1500 * ms), pkt(800*ms, 6, 2), flush()},
			want: []string{
				"0s p=1 b=1 tcp=1/1 udp=0/0 icmp=0/0 other=0/0",
				"1s p=1 b=2 tcp=1/2 udp=0/0 icmp=0/0 other=0/0",
			},
		}, {
			name:     "flush of an empty current interval emits nothing",
			interval: sec,
			steps:    []step{pkt(100*ms, 6, 1), advance(1500 * ms), flush()},
			want:     []string{"0s p=1 b=1 tcp=1/1 udp=0/0 icmp=0/0 other=0/0"},
		}, {
			name:     "packets after flush never re-emit the flushed interval",
			interval: sec,
			steps:    []step{pkt(100*ms, 6, 1), flush(), pkt(200*ms, 6, 2), pkt(1200*ms, 6, 4), flush(), flush()},
			want: []string{
				"0s p=1 b=1 tcp=1/1 udp=0/0 icmp=0/0 other=0/0",
				"1s p=2 b=6 tcp=2/6 udp=0/0 icmp=0/0 other=0/0",
			},
		}, {
			name:     "negative wire length adds no bytes",
			interval: sec,
			steps:    []step{pkt(0, 6, -5), flush()},
			want:     []string{"0s p=1 b=0 tcp=1/0 udp=0/0 icmp=0/0 other=0/0"},
		},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d %s", i, tc.name), func(t *testing.T) {
			got := run(t, Configuration{Interval: tc.interval}, tc.steps)
			if diff := diffLines(got, tc.want); diff != "" {
				t.Errorf("records (-got, +want):\n%s", diff)
			}
		})
	}
}

func TestAggregatorGapCap(t *testing.T) {
	// A gap of 10000 empty 1 ms intervals: only MaxEmptyIntervals zero
	// records, then the series jumps to the next packet's interval.
	var got []Record
	a, err := New(Configuration{Interval: time.Millisecond}, func(r Record) { got = append(got, r) })
	if err != nil {
		t.Fatalf("New() error:\n%+v", err)
	}
	s := packet.Summary{Timestamp: base, WireLen: 1}
	a.Add(&s)
	s.Timestamp = base.Add(10001 * time.Millisecond)
	a.Add(&s)
	a.Flush()
	if want := 1 + MaxEmptyIntervals + 1; len(got) != want {
		t.Fatalf("got %d records, want %d", len(got), want)
	}
	for i, r := range got[1 : 1+MaxEmptyIntervals] {
		if r.Packets != 0 || !r.Start.Equal(base.Add(time.Duration(i+1)*time.Millisecond)) {
			t.Fatalf("empty record %d = %+v", i, r)
		}
	}
	if last := got[len(got)-1]; !last.Start.Equal(s.Timestamp) || last.Packets != 1 {
		t.Errorf("last record = %+v, want the second packet's interval", last)
	}
}

func TestAggregatorBeforeEpoch(t *testing.T) {
	// Floor alignment: 1969-12-31T23:59:59.5 belongs to the interval that
	// starts at -1s, not 0.
	var got []Record
	a, err := New(DefaultConfiguration(), func(r Record) { got = append(got, r) })
	if err != nil {
		t.Fatalf("New() error:\n%+v", err)
	}
	s := packet.Summary{Timestamp: time.Unix(0, -500*int64(time.Millisecond))}
	a.Add(&s)
	a.Flush()
	if len(got) != 1 || !got[0].Start.Equal(time.Unix(-1, 0)) {
		t.Errorf("got %+v, want one record starting at -1s", got)
	}
}

func TestNewInvalid(t *testing.T) {
	emit := func(Record) {}
	cases := []struct {
		name string
		cfg  Configuration
		emit func(Record)
		want string
	}{
		{"zero interval", Configuration{}, emit, "invalid counters configuration: Interval must be positive, got 0s"},
		{"negative interval", Configuration{Interval: -time.Second}, emit, "invalid counters configuration: Interval must be positive, got -1s"},
		{"nil emit", DefaultConfiguration(), nil, "invalid counters configuration: nil emit function"},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d %s", i, tc.name), func(t *testing.T) {
			_, err := New(tc.cfg, tc.emit)
			if err == nil || err.Error() != tc.want {
				t.Errorf("New() error = %v, want %q", err, tc.want)
			}
		})
	}
	if DefaultConfiguration().Interval != time.Second {
		t.Errorf("DefaultConfiguration().Interval = %v, want 1s", DefaultConfiguration().Interval)
	}
}

func TestCSV(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteCSVHeader(&buf); err != nil {
		t.Fatalf("WriteCSVHeader() error:\n%+v", err)
	}
	line := AppendCSV(nil, Record{
		Start:   time.Date(2024, 5, 1, 14, 0, 1, 500_000_000, time.FixedZone("CEST", 2*3600)),
		Packets: 7, Bytes: 1500, TCP: 3, UDP: 2, ICMP: 1, Other: 1,
		TCPBytes: 1000, UDPBytes: 300, ICMPBytes: 98, OtherBytes: 102,
	})
	buf.Write(line)
	buf.Write(AppendCSV(nil, Record{Start: base}))
	want := "time,packets,bytes,tcp_packets,udp_packets,icmp_packets,other_packets," +
		"tcp_bytes,udp_bytes,icmp_bytes,other_bytes\n" +
		"2024-05-01T12:00:01.5Z,7,1500,3,2,1,1,1000,300,98,102\n" +
		"2024-05-01T12:00:00Z,0,0,0,0,0,0,0,0,0,0\n"
	if diff := diffLines(strings.Split(buf.String(), "\n"), strings.Split(want, "\n")); diff != "" {
		t.Errorf("CSV (-got, +want):\n%s", diff)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteCSVHeaderError(t *testing.T) {
	err := WriteCSVHeader(failWriter{})
	if err == nil || err.Error() != "unable to write counters CSV header: disk full" {
		t.Errorf("WriteCSVHeader() error = %v", err)
	}
}

func TestAllocs(t *testing.T) {
	var n int
	a, err := New(Configuration{Interval: time.Millisecond}, func(Record) { n++ })
	if err != nil {
		t.Fatalf("New() error:\n%+v", err)
	}
	s := packet.Summary{Timestamp: base, WireLen: 100, IPVersion: 4, Proto: 6}
	allocs := testing.AllocsPerRun(1000, func() {
		s.Timestamp = s.Timestamp.Add(300 * time.Microsecond)
		a.Add(&s)
	})
	if allocs != 0 {
		t.Errorf("Add allocates %v times per packet, want 0", allocs)
	}
	dst := make([]byte, 0, 256)
	allocs = testing.AllocsPerRun(1000, func() {
		dst = AppendCSV(dst[:0], Record{Start: base, Packets: 1 << 40, Bytes: 1 << 50, OtherBytes: 1 << 50})
	})
	if allocs != 0 {
		t.Errorf("AppendCSV allocates %v times per record, want 0", allocs)
	}
	if n == 0 {
		t.Error("no interval emitted")
	}
}

// diffLines returns "" when got equals want, else the differing lines.
func diffLines(got, want []string) string {
	var b strings.Builder
	for i := 0; i < len(got) || i < len(want); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			fmt.Fprintf(&b, "%d: -%q\n%d: +%q\n", i, g, i, w)
		}
	}
	return b.String()
}

func BenchmarkAdd(b *testing.B) {
	a, err := New(DefaultConfiguration(), func(Record) {})
	if err != nil {
		b.Fatalf("New() error:\n%+v", err)
	}
	s := packet.Summary{Timestamp: base, WireLen: 100, IPVersion: 4, Proto: 6}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		// 1000 packets per second of packet time.
		s.Timestamp = s.Timestamp.Add(time.Millisecond)
		s.Proto = uint8(i)
		a.Add(&s)
	}
}

func BenchmarkAppendCSV(b *testing.B) {
	dst := make([]byte, 0, 256)
	r := Record{
		Start: base, Packets: 12345, Bytes: 123456789, TCP: 1000, UDP: 2000, ICMP: 3, Other: 4,
		TCPBytes: 1234000, UDPBytes: 122222222, ICMPBytes: 300, OtherBytes: 267,
	}
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendCSV(dst[:0], r)
	}
}
