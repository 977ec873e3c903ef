package output

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/flow"
	"github.com/gimsproject/gims/transform/ipfix"
)

func mkFlow(i int) *flow.Record {
	r := &flow.Record{Packets: 2, Bytes: uint64(100 * (i + 1)), Start: time.Unix(1700000000+int64(i), 0),
		EndReason: flow.EndIdleTimeout}
	r.End = r.Start.Add(time.Second)
	r.Key.IPVersion = 4
	copy(r.Key.Src[:], []byte{10, 0, 0, byte(i)})
	copy(r.Key.Dst[:], []byte{192, 0, 2, 1})
	r.Key.SrcPort, r.Key.DstPort, r.Key.Proto = uint16(1024+i), 443, 6
	return r
}

// run writes n packets, counter intervals and flows, starting at the
// i-th, through the sinks of a Writer of cfg.
func run(t *testing.T, cfg Configuration, deps Dependencies, first, n int) *Writer {
	t.Helper()
	w, err := New(cfg, deps)
	if err != nil {
		t.Fatalf("New() error: %v", err)
	}
	s := w.Sinks()
	if err := w.Open(context.Background()); err != nil {
		t.Fatalf("Open() error: %v", err)
	}
	for i := first; i < first+n; i++ {
		at := time.Unix(1700000000+int64(i), 0).UTC()
		data := []byte{byte(i), 1, 2, 3}
		if err := s.Packets.WritePacket(gopacket.CaptureInfo{Timestamp: at, CaptureLength: 4, Length: 60}, data); err != nil {
			t.Fatalf("WritePacket() error: %v", err)
		}
		s.Counters(counters.Record{Start: at, Packets: 1, Bytes: 60, TCP: 1, TCPBytes: 60})
		s.Flows(mkFlow(i))
		if i%2 == 0 {
			w.Flush()
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close() error: %v", err)
	}
	return w
}

func files(dir string) Configuration {
	cfg := DefaultConfiguration()
	cfg.Pcap = filepath.Join(dir, "packets.pcap")
	cfg.Counters = filepath.Join(dir, "counters.csv")
	cfg.Flows = filepath.Join(dir, "flows.ipfix")
	cfg.LinkType, cfg.Snaplen = layers.LinkTypeEthernet, 96
	return cfg
}

// checkFiles reads the files back and compares them with n records each.
func checkFiles(t *testing.T, cfg Configuration, n int) {
	t.Helper()
	f, err := os.Open(cfg.Pcap)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("pcap header: %v", err)
	}
	if r.Snaplen() != 96 || r.LinkType() != layers.LinkTypeEthernet {
		t.Errorf("pcap header: snaplen %d, link type %v; want 96, Ethernet", r.Snaplen(), r.LinkType())
	}
	packets := 0
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			break
		}
		if data[0] != byte(packets) {
			t.Errorf("packet %d holds %d", packets, data[0])
		}
		packets++
	}
	rows, err := counters.ReadCSV(cfg.Counters, 0, 1000)
	if err != nil {
		t.Fatalf("ReadCSV() error: %v", err)
	}
	var flows []ipfix.FlowRow
	if _, err := ipfix.ReadFlows(cfg.Flows, func(r ipfix.FlowRow) { flows = append(flows, r) }); err != nil {
		t.Fatalf("ReadFlows() error: %v", err)
	}
	if packets != n || len(rows) != n || len(flows) != n {
		t.Fatalf("read %d packets, %d counter rows, %d flows; want %d of each", packets, len(rows), len(flows), n)
	}
	for i := range n {
		if want := ipfix.FlowRowOf(mkFlow(i)); flows[i] != want {
			t.Errorf("flow %d (-got, +want):\n-%+v\n+%+v", i, flows[i], want)
		}
		if want := time.Unix(1700000000+int64(i), 0); !rows[i].Start.Equal(want) {
			t.Errorf("counter row %d starts at %v, want %v", i, rows[i].Start, want)
		}
	}
}

func TestWriter(t *testing.T) {
	cfg := files(t.TempDir())
	top := ipfix.NewTopFlows(3)
	var reported []error
	run(t, cfg, Dependencies{Top: top, Report: func(err error) { reported = append(reported, err) }}, 0, 10)
	checkFiles(t, cfg, 10)
	if got := top.Sorted(); len(got) != 3 || got[0] != ipfix.FlowRowOf(mkFlow(9)) {
		t.Errorf("Top kept %+v, want the 3 largest flows", got)
	}
	if len(reported) != 0 {
		t.Errorf("reported %v, want nothing", reported)
	}
	for _, path := range []string{cfg.Pcap, cfg.Counters, cfg.Flows} {
		if info, err := os.Stat(path); err != nil || info.Mode().Perm()&^0o640 != 0 {
			t.Errorf("%s: %v, %v; want mode 0640 at most", path, info.Mode(), err)
		}
	}
}

// tear appends a partial record to each file, as a crash or a full disk
// leaves.
func tear(t *testing.T, cfg Configuration) {
	t.Helper()
	for path, torn := range map[string][]byte{
		cfg.Pcap:     {1, 2, 3, 4, 5, 6, 7, 8, 9},
		cfg.Counters: []byte("2023-11-14T22:13:30Z,1,6"),
		cfg.Flows:    {0, 10, 0, 200, 1, 2, 3},
	} {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(torn); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}

// TestAppend resumes writing after a crash left a partial record at the
// end of every file.
func TestAppend(t *testing.T) {
	cfg := files(t.TempDir())
	run(t, cfg, Dependencies{}, 0, 4)
	tear(t, cfg)
	cfg.Append = true
	run(t, cfg, Dependencies{}, 4, 6)
	checkFiles(t, cfg, 10)
	header := 0
	data, _ := os.ReadFile(cfg.Counters)
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "time,") {
			header++
		}
	}
	if header != 1 {
		t.Errorf("counters.csv has %d header rows, want 1", header)
	}
}

// TestRepairAfterFailure cuts files written whole, and partial records.
func TestRepairAfterFailure(t *testing.T) {
	cfg := files(t.TempDir())
	w := run(t, cfg, Dependencies{}, 0, 3)
	tear(t, cfg)
	if err := w.Repair(); err != nil {
		t.Fatalf("Repair() error: %v", err)
	}
	checkFiles(t, cfg, 3)
}

func TestWriteFailure(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	cfg := DefaultConfiguration()
	cfg.Counters = "/dev/full"
	var reported []error
	w, err := New(cfg, Dependencies{Report: func(err error) { reported = append(reported, err) }})
	if err != nil {
		t.Fatal(err)
	}
	err = w.Open(context.Background())
	if err == nil || w.Failed() == nil || len(reported) != 1 || reported[0] != w.Failed() {
		t.Fatalf("Open() on a full disk = %v; Failed() = %v, reported %v; want the write error once", err, w.Failed(), reported)
	}
	if !strings.Contains(w.Failed().Error(), "unable to write full: ") {
		t.Errorf("Failed() = %q, want it to name the file", w.Failed())
	}
}

func TestCollectorError(t *testing.T) {
	cfg := DefaultConfiguration()
	cfg.Collector = "http://127.0.0.1:4739"
	w, err := New(cfg, Dependencies{})
	if err != nil {
		t.Fatal(err)
	}
	err = w.Open(context.Background())
	var ce *CollectorError
	if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), "flows collector: ") {
		t.Fatalf("Open() with a bad collector = %v, want a *CollectorError", err)
	}
	if st := w.CollectorStats(); st != (ipfix.Stats{}) {
		t.Errorf("CollectorStats() = %+v, want zero", st)
	}
}

func TestSinks(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		mod                      func(*Configuration)
		deps                     Dependencies
		packets, counters, flows bool
	}{
		{"nothing", func(*Configuration) {}, Dependencies{}, false, false, false},
		{"pcap", func(c *Configuration) { c.Pcap = "p" }, Dependencies{}, true, false, false},
		{"counters", func(c *Configuration) { c.Counters = "c" }, Dependencies{}, false, true, false},
		{"flows file", func(c *Configuration) { c.Flows = "f" }, Dependencies{}, false, false, true},
		{"collector only", func(c *Configuration) { c.Collector = "udp://127.0.0.1:4739" }, Dependencies{}, false, false, true},
		{"top only", func(*Configuration) {}, Dependencies{Top: ipfix.NewTopFlows(1)}, false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfiguration()
			tc.mod(&cfg)
			w, err := New(cfg, tc.deps)
			if err != nil {
				t.Fatal(err)
			}
			s := w.Sinks()
			if (s.Packets != nil) != tc.packets || (s.Counters != nil) != tc.counters || (s.Flows != nil) != tc.flows {
				t.Errorf("Sinks() packets %t, counters %t, flows %t; want %t, %t, %t",
					s.Packets != nil, s.Counters != nil, s.Flows != nil, tc.packets, tc.counters, tc.flows)
			}
		})
	}
}

func TestNewInvalidConfiguration(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Configuration)
		want string
	}{
		{"zero perm", func(c *Configuration) { c.Perm = 0 },
			"invalid output configuration: Perm must be permission bits that let the owner read and write (like 0640), got ----------"},
		{"owner cannot write", func(c *Configuration) { c.Perm = 0o444 },
			"invalid output configuration: Perm must be permission bits that let the owner read and write (like 0640), got -r--r--r--"},
		{"not only permission bits", func(c *Configuration) { c.Perm = os.ModeDir | 0o750 },
			"invalid output configuration: Perm must be permission bits that let the owner read and write (like 0640), got drwxr-x---"},
		{"negative snaplen", func(c *Configuration) { c.Snaplen = -1 },
			"invalid output configuration: Snaplen must be zero or more, got -1"},
		{"zero template refresh", func(c *Configuration) { c.IPFIX.TemplateRefresh = 0 },
			"invalid output configuration: IPFIX: TemplateRefresh must be positive, got 0s"},
		{"no IPFIX clock", func(c *Configuration) { c.IPFIX.Now = nil },
			"invalid output configuration: IPFIX: Now must be set"},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d %s", i, tc.name), func(t *testing.T) {
			cfg := DefaultConfiguration()
			tc.mod(&cfg)
			if _, err := New(cfg, Dependencies{}); err == nil || err.Error() != tc.want {
				t.Errorf("New() error:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
	for _, perm := range []os.FileMode{0o600, 0o640, 0o666} {
		cfg := DefaultConfiguration()
		cfg.Perm = perm
		if err := cfg.Validate(); err != nil {
			t.Errorf("Validate() with Perm %v: %v", perm, err)
		}
	}
}

// TestSize checks that Size is the length of the result files, those of
// an earlier run included when appending, and counts buffered packets.
func TestSize(t *testing.T) {
	cfg := files(t.TempDir())
	onDisk := func() int64 {
		var n int64
		for _, path := range []string{cfg.Pcap, cfg.Counters, cfg.Flows} {
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			n += info.Size()
		}
		return n
	}
	w := run(t, cfg, Dependencies{}, 0, 4)
	if got, want := w.Size(), onDisk(); got != want {
		t.Errorf("Size() = %d, want the %d bytes of the files", got, want)
	}
	cfg.Append = true
	w = run(t, cfg, Dependencies{}, 4, 3)
	if got, want := w.Size(), onDisk(); got != want {
		t.Errorf("Size() after appending = %d, want the %d bytes of the files", got, want)
	}

	// A packet in the buffer counts before it reaches the file.
	cfg.Counters, cfg.Flows = "", ""
	w, err := New(cfg, Dependencies{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := w.Size()
	if err := w.Sinks().Packets.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 0), CaptureLength: 4, Length: 60},
		[]byte{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	if got := w.Size(); got != before+16+4 {
		t.Errorf("Size() after a 4-byte packet = %d, want %d", got, before+20)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
