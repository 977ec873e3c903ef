package output

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/gimsproject/gims/capture/meter"
)

// TestDirectRecords runs the same packets through a meter into a Writer
// twice, once with the meter's direct path into the pcap buffer
// (Sinks.Records) and once without it (every record through the Packets
// sink), and wants the same files byte for byte: one file, parts cut by
// time (the path off at every part's end and on again after its first
// record), parts cut by size (the path never on), a file appended to, and
// records that do not fit in the buffer's rest (the sink flushes it).
// Among the packets, one whose capture length exceeds its wire length
// goes to the sink either way and fails there.
func TestDirectRecords(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mod    func(*Configuration)
		runs   int  // runs into the same files (Append from the second)
		direct bool // whether the direct path takes records
		parts  bool // whether the files are cut into parts
	}{
		{"one file", func(*Configuration) {}, 1, true, false},
		{"parts by time", func(c *Configuration) { c.RotateEvery = time.Second }, 1, true, true},
		{"parts by size", func(c *Configuration) { c.RotateBytes = 100_000 }, 1, false, true},
		{"appended", func(*Configuration) {}, 2, true, false},
		{"parts by time appended", func(c *Configuration) { c.RotateEvery = 3 * time.Second }, 2, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dirs [2]string
			for k, direct := range []bool{true, false} {
				dirs[k] = t.TempDir()
				cfg := files(dirs[k])
				cfg.Counters, cfg.Flows = "", ""
				tc.mod(&cfg)
				sunk := 0
				var errs uint64
				for r := range tc.runs {
					cfg.Append = r > 0
					n, e := directRun(t, cfg, direct, r*25000)
					sunk += n
					errs += e
				}
				if errs != uint64(tc.runs) {
					t.Errorf("direct %t: %d write errors, want %d (the packet longer than its wire length)", direct, errs, tc.runs)
				}
				// With the direct path, the sink gets a part's first
				// record, those that did not fit in the buffer's rest,
				// and the refused packet.
				if want := direct && tc.direct; want && sunk > tc.runs*5000 || !want && sunk != tc.runs*25000 {
					t.Errorf("direct %t: the sink got %d of %d packets", direct, sunk, tc.runs*25000)
				}
			}
			a, b := dirFiles(t, dirs[0]), dirFiles(t, dirs[1])
			if !slices.Equal(names(a), names(b)) {
				t.Fatalf("files %q with the direct path, %q without", names(a), names(b))
			}
			if tc.parts && len(a) < 3 || len(a) == 0 {
				t.Fatalf("files %q: not the parts the test makes", names(a))
			}
			for i := range a {
				if !bytes.Equal(a[i].data, b[i].data) {
					t.Errorf("%s differs with the direct path (%d bytes, %d without)", a[i].name, len(a[i].data), len(b[i].data))
				}
			}
		})
	}
}

// directRun feeds 25000 packets, from the first-th, through a meter into
// a new Writer of cfg (advanced to each packet's time first, as a job
// does, and flushed every 1000 packets), with or without the meter's
// direct path, and closes it. It returns how many packets the Packets
// sink got, and the meter's write errors.
func directRun(t *testing.T, cfg Configuration, direct bool, first int) (sunk int, writeErrors uint64) {
	t.Helper()
	w := openWriter(t, cfg)
	s := w.Sinks()
	s.Packets = countingSink{s.Packets.(packetSink), &sunk}
	if !direct {
		s.Records = nil
	}
	m, err := meter.New(meter.DefaultConfiguration(), layers.LinkTypeEthernet, s)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 96)
	for i := first; i < first+25000; i++ {
		at := t0.Add(time.Duration(i) * 200 * time.Microsecond)
		n := 20 + i%77 // records of 36 to 112 bytes: the buffer's end falls anywhere
		data[0], data[1], data[n-1] = byte(i), byte(i>>8), byte(i>>16)
		ci := gopacket.CaptureInfo{Timestamp: at, CaptureLength: n, Length: n + i%3}
		if i == first+12345 {
			ci.Length = n - 1 // refused by the pcap writer
		}
		w.Advance(at)
		m.Process(data[:n], ci)
		if i%1000 == 999 {
			w.Flush()
		}
	}
	if err := m.Flush(); err == nil {
		t.Errorf("meter Flush() = nil, want the write error of the refused packet")
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close() error: %v", err)
	}
	if w.direct.Buf != nil {
		t.Error("the direct path is on after Close")
	}
	return sunk, m.Stats().WriteErrors
}

// countingSink is a Writer's Packets sink that counts the packets it gets.
type countingSink struct {
	p packetSink
	n *int
}

func (c countingSink) WritePacket(ci gopacket.CaptureInfo, data []byte) error {
	*c.n++
	return c.p.WritePacket(ci, data)
}

func (c countingSink) WriteRecord(ts time.Time, length int, data []byte) error {
	*c.n++
	return c.p.WriteRecord(ts, length, data)
}

type namedFile struct {
	name string
	data []byte
}

// dirFiles reads every file of dir, by name.
func dirFiles(t *testing.T, dir string) []namedFile {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []namedFile
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, namedFile{e.Name(), data})
	}
	return out
}

func names(fs []namedFile) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.name)
	}
	return out
}

// TestDirectSanitized runs the Ethernet sample captures, over and over,
// through a keyed meter into a Writer, once with the meter's direct path
// (which sanitizes the fast path's packets straight into the pcap buffer)
// and once without it, and wants the same file byte for byte, the packets
// handed to the meter unchanged, and most records written directly.
func TestDirectSanitized(t *testing.T) {
	pkts := ethernetSamples(t)
	key := [32]byte{1, 2, 3}
	var pcaps [2][]byte
	for k, direct := range []bool{true, false} {
		dir := t.TempDir()
		cfg := files(dir)
		cfg.Counters, cfg.Flows = "", ""
		w := openWriter(t, cfg)
		s := w.Sinks()
		sunk := 0
		s.Packets = countingSink{s.Packets.(packetSink), &sunk}
		if !direct {
			s.Records = nil
		}
		m, err := meter.New(meter.Configuration{Key: &key}, layers.LinkTypeEthernet, s)
		if err != nil {
			t.Fatal(err)
		}
		const n = 20000
		for i := range n {
			p := pkts[i%len(pkts)]
			orig := bytes.Clone(p.data)
			ci := p.ci
			ci.Timestamp = t0.Add(time.Duration(i) * time.Millisecond)
			w.Advance(ci.Timestamp)
			m.Process(p.data, ci)
			if !bytes.Equal(p.data, orig) {
				t.Fatalf("packet %d was modified", i)
			}
		}
		if err := m.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if direct && sunk > n/4 || !direct && sunk != n-int(m.Stats().SanitizedDrops) {
			t.Errorf("direct %t: the sink got %d of %d packets (%d dropped)", direct, sunk, n, m.Stats().SanitizedDrops)
		}
		fs := dirFiles(t, dir)
		if len(fs) != 1 {
			t.Fatalf("files %q, want one", names(fs))
		}
		pcaps[k] = fs[0].data
	}
	if !bytes.Equal(pcaps[0], pcaps[1]) {
		t.Errorf("the pcap differs with the direct path (%d bytes, %d without)", len(pcaps[0]), len(pcaps[1]))
	}
}

// samplePacket is a packet of a sample capture.
type samplePacket struct {
	data []byte
	ci   gopacket.CaptureInfo
}

// ethernetSamples reads the packets of the Ethernet sample captures.
func ethernetSamples(t *testing.T) []samplePacket {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "*.pcap"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no sample captures: %v", err)
	}
	var pkts []samplePacket
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r, err := pcapgo.NewReader(f)
		if err != nil || r.LinkType() != layers.LinkTypeEthernet {
			f.Close()
			continue
		}
		for {
			data, ci, err := r.ReadPacketData()
			if err != nil {
				break
			}
			pkts = append(pkts, samplePacket{data, ci})
		}
		f.Close()
	}
	if len(pkts) < 100 {
		t.Fatalf("only %d Ethernet sample packets", len(pkts))
	}
	return pkts
}
