package ipfix

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gimsproject/gims/transform/flow"
)

// exportAll adds recs to a new exporter over tr and closes it.
func exportAll(t testing.TB, cfg Configuration, tr Transport, recs []flow.Record) *Exporter {
	t.Helper()
	e, err := New(cfg, tr)
	if err != nil {
		t.Fatalf("New() error:\n%+v", err)
	}
	for i := range recs {
		if err := e.Add(&recs[i]); err != nil {
			t.Fatalf("Add(%d) error:\n%+v", i, err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close() error:\n%+v", err)
	}
	return e
}

// checkStream parses msgs as one session and checks headers, sequence
// numbers and that the records are want, in order. It returns the messages'
// template IDs.
func checkStream(t *testing.T, msgs [][]byte, cfg Configuration, exportTime time.Time, want []flow.Record) [][]uint16 {
	t.Helper()
	d := newDecoder()
	var got []flow.Record
	var tpls [][]uint16
	for i, msg := range msgs {
		info := d.checkMessage(t, msg, cfg.MaxMessageSize)
		if info.hdr.SequenceNumber != uint32(len(got)) {
			t.Errorf("message %d: sequence number %d, want %d", i, info.hdr.SequenceNumber, len(got))
		}
		if info.hdr.DomainID != cfg.ObservationDomainID {
			t.Errorf("message %d: domain %d, want %d", i, info.hdr.DomainID, cfg.ObservationDomainID)
		}
		if info.hdr.ExportTime != uint32(exportTime.Unix()) {
			t.Errorf("message %d: export time %d, want %d", i, info.hdr.ExportTime, exportTime.Unix())
		}
		got = append(got, info.records...)
		tpls = append(tpls, info.templates)
	}
	if len(got) != len(want) {
		t.Fatalf("decoded %d records, want %d", len(got), len(want))
	}
	for i := range want {
		w := normalize(want[i], cfg.Biflow)
		if !reflect.DeepEqual(got[i], w) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, got[i], w)
		}
	}
	return tpls
}

func TestRoundTrip(t *testing.T) {
	clock := &fixedClock{t: time.Date(2024, 3, 1, 13, 0, 0, 0, time.UTC)}
	cases := []struct {
		name    string
		biflow  bool
		dgram   bool
		maxSize int
		n       int
		minMsgs int
	}{
		{name: "biflow datagram default size", biflow: true, dgram: true, n: 200, minMsgs: 10},
		{name: "uniflow datagram default size", biflow: false, dgram: true, n: 200, minMsgs: 8},
		{name: "biflow stream default size", biflow: true, n: 2000, minMsgs: 2},
		{name: "uniflow stream small messages", biflow: false, maxSize: 300, n: 50, minMsgs: 10},
		{name: "biflow smallest messages", biflow: true, dgram: true, maxSize: minMessageSize, n: 40, minMsgs: 14},
		{name: "message size not a multiple of 4", biflow: false, dgram: true, maxSize: 331, n: 60, minMsgs: 12},
		{name: "one record", biflow: true, n: 1, minMsgs: 1},
		{name: "no records", biflow: true, n: 0, minMsgs: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfiguration()
			cfg.Biflow = tc.biflow
			cfg.ObservationDomainID = 42
			cfg.MaxMessageSize = tc.maxSize
			cfg.Now = clock.Now
			tr := &memTransport{dgram: tc.dgram}
			recs := sampleRecords(tc.n)
			e := exportAll(t, cfg, tr, recs)
			cfg.MaxMessageSize = cfg.messageSize(tc.dgram)
			msgs := tr.messages()
			if len(msgs) < tc.minMsgs {
				t.Errorf("%d messages, want at least %d", len(msgs), tc.minMsgs)
			}
			if !tr.closed {
				t.Error("transport not closed")
			}
			tpls := checkStream(t, msgs, cfg, clock.Now(), recs)
			want4, want6 := TemplateIPv4, TemplateIPv6
			if tc.biflow {
				want4, want6 = TemplateIPv4Biflow, TemplateIPv6Biflow
			}
			if len(tpls) > 0 && !slices.Equal(tpls[0], []uint16{want4, want6}) {
				t.Errorf("first message templates %v, want [%d %d]", tpls[0], want4, want6)
			}
			var bytes uint64
			for _, m := range msgs {
				bytes += uint64(len(m))
			}
			want := Stats{MessagesSent: uint64(len(msgs)), RecordsSent: uint64(tc.n), BytesSent: bytes}
			if got := e.Stats(); got != want {
				t.Errorf("Stats() (-got, +want):\n%+v\n%+v", got, want)
			}
		})
	}
}

func TestTemplateRefresh(t *testing.T) {
	cases := []struct {
		name    string
		dgram   bool
		every   int           // TemplateRefreshMessages
		refresh time.Duration // TemplateRefresh
		step    time.Duration // clock advance per message
		want    []int         // messages (of 8) carrying templates
	}{
		{name: "datagram every 3 messages", dgram: true, every: 3, refresh: time.Hour, want: []int{0, 4}},
		{name: "datagram every 10s", dgram: true, every: 100, refresh: 10 * time.Second, step: 4 * time.Second, want: []int{0, 3, 6}},
		{name: "stream once", dgram: false, every: 1, refresh: time.Nanosecond, step: time.Hour, want: []int{0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fixedClock{t: time.Unix(1700000000, 0)}
			cfg := DefaultConfiguration()
			cfg.Now = clock.Now
			cfg.TemplateRefreshMessages = tc.every
			cfg.TemplateRefresh = tc.refresh
			tr := &memTransport{dgram: tc.dgram}
			e, err := New(cfg, tr)
			if err != nil {
				t.Fatalf("New() error:\n%+v", err)
			}
			recs := sampleRecords(8)
			for i := range recs {
				if err := e.Add(&recs[i]); err != nil {
					t.Fatalf("Add() error:\n%+v", err)
				}
				if err := e.Flush(); err != nil {
					t.Fatalf("Flush() error:\n%+v", err)
				}
				clock.Advance(tc.step)
			}
			var got []int
			for i, m := range tr.messages() {
				if m[16] == 0 && m[17] == templateSetID {
					got = append(got, i)
				}
			}
			// messages "every 3" means 3 messages without templates in
			// between.
			if !slices.Equal(got, tc.want) {
				t.Errorf("templates in messages %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLostRecords(t *testing.T) {
	clock := &fixedClock{t: time.Unix(1700000000, 0)}
	cfg := DefaultConfiguration()
	cfg.Now = clock.Now
	tr := &memTransport{dgram: true}
	e, err := New(cfg, tr)
	if err != nil {
		t.Fatalf("New() error:\n%+v", err)
	}
	recs := sampleRecords(10)
	send := func(from, to int) error {
		for i := from; i < to; i++ {
			if err := e.Add(&recs[i]); err != nil {
				t.Fatalf("Add() error:\n%+v", err)
			}
		}
		return e.Flush()
	}
	tr.fail = true
	if err := send(0, 4); err == nil {
		t.Fatal("Flush() on a failing transport: no error")
	}
	tr.fail = false
	if err := send(4, 10); err != nil {
		t.Fatalf("Flush() error:\n%+v", err)
	}
	msgs := tr.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	// The lost records leave a gap in the sequence numbers, and the
	// templates, never delivered, come with the next message.
	info := newDecoder().checkMessage(t, msgs[0], 1400)
	if info.hdr.SequenceNumber != 4 || len(info.records) != 6 || len(info.templates) != 2 {
		t.Errorf("got sequence %d, %d records, %d templates; want 4, 6, 2",
			info.hdr.SequenceNumber, len(info.records), len(info.templates))
	}
	want := Stats{MessagesSent: 1, RecordsSent: 6, BytesSent: uint64(len(msgs[0])), MessagesLost: 1, RecordsLost: 4}
	if got := e.Stats(); got != want {
		t.Errorf("Stats() (-got, +want):\n%+v\n%+v", got, want)
	}
}

func TestAddErrors(t *testing.T) {
	e, err := New(DefaultConfiguration(), &memTransport{})
	if err != nil {
		t.Fatalf("New() error:\n%+v", err)
	}
	bad := mkRecord("10.0.0.1", "10.0.0.2", 1, 2, 6)
	bad.Key.IPVersion = 5
	if err := e.Add(&bad); err == nil {
		t.Error("Add(IP version 5): no error")
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close() error:\n%+v", err)
	}
	good := mkRecord("10.0.0.1", "10.0.0.2", 1, 2, 6)
	for name, err := range map[string]error{
		"Add":   e.Add(&good),
		"Flush": e.Flush(),
		"Close": e.Close(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Configuration)
		want string
	}{
		{"message too small", func(c *Configuration) { c.MaxMessageSize = 100 },
			"invalid ipfix exporter configuration: MaxMessageSize must be 0 (chosen by the transport) or between 256 and 65535 octets, got 100"},
		{"message too large", func(c *Configuration) { c.MaxMessageSize = 70000 },
			"invalid ipfix exporter configuration: MaxMessageSize must be 0 (chosen by the transport) or between 256 and 65535 octets, got 70000"},
		{"negative refresh", func(c *Configuration) { c.TemplateRefresh = -time.Second },
			"invalid ipfix exporter configuration: TemplateRefresh must be positive, got -1s"},
		{"zero refresh", func(c *Configuration) { c.TemplateRefresh = 0 },
			"invalid ipfix exporter configuration: TemplateRefresh must be positive, got 0s"},
		{"negative refresh messages", func(c *Configuration) { c.TemplateRefreshMessages = -1 },
			"invalid ipfix exporter configuration: TemplateRefreshMessages must be positive, got -1"},
		{"no clock", func(c *Configuration) { c.Now = nil },
			"invalid ipfix exporter configuration: Now must be set"},
		{"zero configuration", func(c *Configuration) { *c = Configuration{} },
			"invalid ipfix exporter configuration: TemplateRefresh must be positive, got 0s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfiguration()
			tc.mod(&cfg)
			_, err := New(cfg, &memTransport{})
			if err == nil || err.Error() != tc.want {
				t.Errorf("New() error:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
	if _, err := New(DefaultConfiguration(), nil); err == nil {
		t.Error("New(nil transport): no error")
	}
}

func TestTemplates(t *testing.T) {
	for _, biflow := range []bool{false, true} {
		for i, tpl := range Templates(biflow) {
			v := uint8(4)
			if i == 1 {
				v = 6
			}
			name := fmt.Sprintf("biflow=%v/v%d", biflow, v)
			if got, want := tpl.RecordLength(), recordLength(v, biflow); got != want {
				t.Errorf("%s: template record length %d, encoder writes %d", name, got, want)
			}
			var r flow.Record
			r.Key.IPVersion = v
			buf := make([]byte, maxRecordLength)
			if got, want := encodeRecord(buf, &r, biflow), tpl.RecordLength(); got != want {
				t.Errorf("%s: encodeRecord wrote %d octets, want %d", name, got, want)
			}
		}
	}
}

func TestAddAllocs(t *testing.T) {
	e, err := New(DefaultConfiguration(), NewFileTransport(discard{}))
	if err != nil {
		t.Fatalf("New() error:\n%+v", err)
	}
	recs := sampleRecords(64)
	i := 0
	allocs := testing.AllocsPerRun(10000, func() {
		_ = e.Add(&recs[i%len(recs)])
		i++
	})
	if allocs != 0 {
		t.Errorf("Add: %v allocs per record, want 0", allocs)
	}
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

func BenchmarkAdd(b *testing.B) {
	for _, biflow := range []bool{true, false} {
		b.Run(fmt.Sprintf("biflow=%v", biflow), func(b *testing.B) {
			cfg := DefaultConfiguration()
			cfg.Biflow = biflow
			e, err := New(cfg, NewFileTransport(discard{}))
			if err != nil {
				b.Fatalf("New() error:\n%+v", err)
			}
			recs := sampleRecords(64)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := e.Add(&recs[i%len(recs)]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			_ = e.Close()
			s := e.Stats()
			b.ReportMetric(float64(s.BytesSent)/float64(s.RecordsSent), "B/record")
		})
	}
}

// TestDefaultConfiguration checks the documented defaults, biflow
// templates first among them.
func TestDefaultConfiguration(t *testing.T) {
	cfg := DefaultConfiguration()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate() error:\n%+v", err)
	}
	if !cfg.Biflow || cfg.TemplateRefresh != 60*time.Second || cfg.TemplateRefreshMessages != 100 ||
		cfg.MaxMessageSize != AutoMessageSize || cfg.Now == nil {
		t.Errorf("DefaultConfiguration() = %+v", cfg)
	}
	for _, dgram := range []bool{false, true} {
		e, err := New(cfg, &memTransport{dgram: dgram})
		if err != nil {
			t.Fatalf("New() error:\n%+v", err)
		}
		if e.tid4 != TemplateIPv4Biflow || e.tid6 != TemplateIPv6Biflow {
			t.Errorf("datagram %v: templates %d, %d, want the biflow ones", dgram, e.tid4, e.tid6)
		}
		want := DefaultStreamMessageSize &^ 3
		if dgram {
			want = DefaultDatagramMessageSize
		}
		if len(e.buf) != want {
			t.Errorf("datagram %v: message buffer %d octets, want %d", dgram, len(e.buf), want)
		}
	}
}
