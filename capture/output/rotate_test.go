package output

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/gimsproject/gims/transform/ipfix"
)

// t0 is the time of the first packet of the rotation tests.
var t0 = time.Unix(1700000000, 0).UTC()

// feed writes packets and flows first..first+n-1 through an open Writer,
// packet i at t0 + i*step, each preceded by Advance to its time as a
// capture job does. Packet i holds byte i, 80 bytes long.
func feed(t *testing.T, w *Writer, first, n int, step time.Duration) {
	t.Helper()
	for i := first; i < first+n; i++ {
		feedAt(t, w, i, t0.Add(time.Duration(i)*step))
	}
}

// feedAt writes packet and flow i at time at, after Advance to it.
func feedAt(t *testing.T, w *Writer, i int, at time.Time) {
	t.Helper()
	data := make([]byte, 80)
	data[0] = byte(i)
	w.Advance(at)
	s := w.Sinks()
	if err := s.Packets.WritePacket(gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(data), Length: 120}, data); err != nil {
		t.Fatalf("WritePacket() error: %v", err)
	}
	s.Flows(mkFlow(i))
	if i%10 == 9 {
		w.Flush() // as a job does every second
	}
}

// openWriter returns an open Writer of cfg.
func openWriter(t *testing.T, cfg Configuration) *Writer {
	t.Helper()
	w, err := New(cfg, Dependencies{})
	if err != nil {
		t.Fatalf("New() error: %v", err)
	}
	if err := w.Open(context.Background()); err != nil {
		t.Fatalf("Open() error: %v", err)
	}
	return w
}

// pcapPart reads one pcap part on its own and returns the first byte of
// each of its packets; anything but a whole file fails the test.
func pcapPart(t *testing.T, path string) []int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if good, _ := pcapValidLength(bytes.NewReader(data)); good != int64(len(data)) || good == 0 {
		t.Errorf("%s: %d bytes, of which %d a pcap file header and complete records", filepath.Base(path), len(data), good)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("%s: pcap header: %v", filepath.Base(path), err)
	}
	if r.Snaplen() != 96 || r.LinkType() != layers.LinkTypeEthernet {
		t.Errorf("%s: snaplen %d, link type %v; want 96, Ethernet", filepath.Base(path), r.Snaplen(), r.LinkType())
	}
	var out []int
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			return out
		}
		out = append(out, int(data[0]))
	}
}

// ipfixPart reads one IPFIX part on its own (a fresh session: its
// templates must be in it) and returns the index of each of its flows
// (mkFlow's).
func ipfixPart(t *testing.T, path string) []int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The first set of the first message is the Template Set (ID 2).
	if len(data) < 18 || binary.BigEndian.Uint16(data[16:18]) != 2 {
		t.Errorf("%s does not start with the templates", filepath.Base(path))
	}
	var out []int
	if _, err := ipfix.ReadFlows(path, func(r ipfix.FlowRow) {
		i := int(r.SrcPort) - 1024
		if r != ipfix.FlowRowOf(mkFlow(i)) {
			t.Errorf("%s: flow %+v is not one written", filepath.Base(path), r)
		}
		out = append(out, i)
	}); err != nil {
		t.Fatalf("ReadFlows(%s) error: %v", filepath.Base(path), err)
	}
	return out
}

// partNames lists the parts of the file at path.
func partNames(t *testing.T, path string) []string {
	t.Helper()
	parts, err := Parts(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, p := range parts {
		if p.N != i+1 {
			t.Errorf("part %d of %s is number %d", i+1, filepath.Base(path), p.N)
		}
		out = append(out, p.Name)
	}
	return out
}

// seq returns from, from+1, ..., to-1.
func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// TestRotateEvery splits 4 s of packets, 4 a second, into parts of 1 s
// by the times Advance is given: each part a whole pcap file and a whole
// IPFIX file, holding that second's packets and flows.
func TestRotateEvery(t *testing.T) {
	cfg := files(t.TempDir())
	cfg.Counters = ""
	cfg.RotateEvery = time.Second
	w := openWriter(t, cfg)
	feed(t, w, 0, 16, 250*time.Millisecond)
	w.Advance(t0.Add(10 * time.Second)) // closes part 4; no part 5 without a record
	if err := w.Close(); err != nil {
		t.Fatalf("Close() error: %v", err)
	}
	wantPcap := []string{"packets-00001.pcap", "packets-00002.pcap", "packets-00003.pcap", "packets-00004.pcap"}
	if got := partNames(t, cfg.Pcap); !slices.Equal(got, wantPcap) {
		t.Fatalf("pcap parts %q, want %q", got, wantPcap)
	}
	wantFlows := []string{"flows-00001.ipfix", "flows-00002.ipfix", "flows-00003.ipfix", "flows-00004.ipfix"}
	if got := partNames(t, cfg.Flows); !slices.Equal(got, wantFlows) {
		t.Fatalf("IPFIX parts %q, want %q", got, wantFlows)
	}
	for k := range 4 {
		want := seq(4*k, 4*k+4)
		if got := pcapPart(t, PartPath(cfg.Pcap, k+1)); !slices.Equal(got, want) {
			t.Errorf("pcap part %d holds packets %v, want %v", k+1, got, want)
		}
		if got := ipfixPart(t, PartPath(cfg.Flows, k+1)); !slices.Equal(got, want) {
			t.Errorf("IPFIX part %d holds flows %v, want %v", k+1, got, want)
		}
	}
	for _, path := range []string{cfg.Pcap, cfg.Flows} {
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s exists beside its parts (%v)", filepath.Base(path), err)
		}
	}
}

// TestRotateIdle: a part without a record is not closed for its time, so
// an idle capture makes no empty parts, and its time starts with its
// first record.
func TestRotateIdle(t *testing.T) {
	cfg := files(t.TempDir())
	cfg.Counters, cfg.RotateEvery = "", time.Second
	w := openWriter(t, cfg)
	for s := range 10 {
		w.Advance(t0.Add(time.Duration(s) * time.Second))
	}
	// Packets 20 and 21 at t0+20s and t0+20.75s: the part's time began
	// with packet 20 (not with the Advance calls before it); packet 30
	// at t0+21s is in the next part.
	feedAt(t, w, 20, t0.Add(20*time.Second))
	feedAt(t, w, 21, t0.Add(20750*time.Millisecond))
	feedAt(t, w, 30, t0.Add(21*time.Second))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := partNames(t, cfg.Pcap); len(got) != 2 {
		t.Fatalf("pcap parts %q, want 2", got)
	}
	if got := pcapPart(t, PartPath(cfg.Pcap, 1)); !slices.Equal(got, []int{20, 21}) {
		t.Errorf("part 1 holds %v, want [20 21]", got)
	}
	if got := pcapPart(t, PartPath(cfg.Pcap, 2)); !slices.Equal(got, []int{30}) {
		t.Errorf("part 2 holds %v, want [30]", got)
	}
}

// TestRotateBytes splits by size: every part but the last reaches the
// bound by less than one record, every part decodes alone, and no packet
// or flow is lost or repeated.
func TestRotateBytes(t *testing.T) {
	const bound = 2000
	cfg := files(t.TempDir())
	cfg.Counters, cfg.RotateBytes = "", bound
	w := openWriter(t, cfg)
	feed(t, w, 0, 100, time.Millisecond)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path   string
		read   func(*testing.T, string) []int
		record int64 // the largest record
	}{
		{cfg.Pcap, pcapPart, 16 + 80},
		// The exporter's message in progress is not in the part's size:
		// an IPFIX part passes the bound by at most one message.
		{cfg.Flows, ipfixPart, 64 << 10},
	} {
		names := partNames(t, tc.path)
		if len(names) < 3 {
			t.Fatalf("%s: %d parts, want several", filepath.Base(tc.path), len(names))
		}
		var all []int
		for i, name := range names {
			path := filepath.Join(filepath.Dir(tc.path), name)
			all = append(all, tc.read(t, path)...)
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if i < len(names)-1 && (info.Size() < bound || info.Size() >= bound+tc.record) {
				t.Errorf("%s: %d bytes, want %d to %d", name, info.Size(), bound, bound+tc.record-1)
			}
		}
		if !slices.Equal(all, seq(0, 100)) {
			t.Errorf("%s parts hold %v, want 0 to 99 in order", filepath.Base(tc.path), all)
		}
	}
}

// TestRotateResume appends to rotated files after a crash: the torn last
// part is cut to its last complete record and stays, a new part follows
// it; a last part with nothing complete is replaced. A fresh (not
// appending) run removes the parts of the earlier one.
func TestRotateResume(t *testing.T) {
	cfg := files(t.TempDir())
	cfg.Counters, cfg.RotateEvery = "", time.Second
	w := openWriter(t, cfg)
	feed(t, w, 0, 6, 250*time.Millisecond) // parts 1 (0-3) and 2 (4, 5)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	tear(t, Configuration{Pcap: PartPath(cfg.Pcap, 2), Flows: PartPath(cfg.Flows, 2), Counters: os.DevNull})

	cfg.Append = true
	w = openWriter(t, cfg)
	feed(t, w, 6, 2, 250*time.Millisecond)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		read func(*testing.T, string) []int
	}{{cfg.Pcap, pcapPart}, {cfg.Flows, ipfixPart}} {
		if got := partNames(t, tc.path); len(got) != 3 {
			t.Fatalf("%s parts %q, want 3", filepath.Base(tc.path), got)
		}
		for n, want := range map[int][]int{1: seq(0, 4), 2: {4, 5}, 3: {6, 7}} {
			if got := tc.read(t, PartPath(tc.path, n)); !slices.Equal(got, want) {
				t.Errorf("%s part %d holds %v, want %v", filepath.Base(tc.path), n, got, want)
			}
		}
	}
	if got, want := w.Size(), dirBytes(t, filepath.Dir(cfg.Pcap)); got != want {
		t.Errorf("Size() = %d after resuming, want the %d bytes of every part", got, want)
	}

	// A crash right after part 4 was created: nothing complete in it.
	for _, path := range []string{PartPath(cfg.Pcap, 4), PartPath(cfg.Flows, 4)} {
		if err := os.WriteFile(path, []byte{0xd4, 0xc3}, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	w = openWriter(t, cfg)
	feedAt(t, w, 8, t0.Add(10*time.Second))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := pcapPart(t, PartPath(cfg.Pcap, 4)); !slices.Equal(got, []int{8}) {
		t.Errorf("pcap part 4 holds %v, want [8]", got)
	}
	if got := ipfixPart(t, PartPath(cfg.Flows, 4)); !slices.Equal(got, []int{8}) {
		t.Errorf("IPFIX part 4 holds %v, want [8]", got)
	}

	cfg.Append = false
	w = openWriter(t, cfg)
	feedAt(t, w, 0, t0)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := partNames(t, cfg.Pcap); !slices.Equal(got, []string{"packets-00001.pcap"}) {
		t.Errorf("after a fresh run: pcap parts %q, want only the new first part", got)
	}
}

// dirBytes is the size of the files of dir.
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		n += info.Size()
	}
	return n
}

// TestPartNames checks the naming of parts and what is not a part.
func TestPartNames(t *testing.T) {
	if got := PartPath("d/packets.pcap", 2); got != "d/packets-00002.pcap" {
		t.Errorf("PartPath = %q", got)
	}
	if got := PartPath("flows.ipfix", 123456); got != "flows-123456.ipfix" {
		t.Errorf("PartPath = %q", got)
	}
	for _, tc := range []struct {
		name string
		n    int
		ok   bool
	}{
		{"packets-00001.pcap", 1, true},
		{"packets-123456.pcap", 123456, true},
		{"packets.pcap", 0, false},
		{"packets-0001.pcap", 0, false},
		{"packets-000001.pcap", 0, false},
		{"packets-00000.pcap", 0, false},
		{"packets-0000a.pcap", 0, false},
		{"packets-+0001.pcap", 0, false},
		{"packets-00001.ipfix", 0, false},
		{"flows-00001.pcap", 0, false},
		{"packets-00001.pcap.tmp", 0, false},
	} {
		n, ok := PartNumber("packets.pcap", tc.name)
		if n != tc.n || ok != tc.ok {
			t.Errorf("PartNumber(%q) = %d, %t; want %d, %t", tc.name, n, ok, tc.n, tc.ok)
		}
	}
}

// TestRotateInvalid refuses negative bounds.
func TestRotateInvalid(t *testing.T) {
	for _, c := range []Configuration{{RotateBytes: -1}, {RotateEvery: -time.Second}} {
		cfg := DefaultConfiguration()
		cfg.RotateBytes, cfg.RotateEvery = c.RotateBytes, c.RotateEvery
		if _, err := New(cfg, Dependencies{}); err == nil {
			t.Errorf("New(%+v) accepted a negative bound", c)
		}
	}
}

// FuzzPartNumber checks that a name PartNumber takes is exactly the name
// PartPath gives its number, so that no two names are one part and every
// part's name is taken back.
func FuzzPartNumber(f *testing.F) {
	for _, seed := range []string{"packets-00001.pcap", "packets-123456.pcap", "packets.pcap", "packets-0001.pcap",
		"packets-+0001.pcap", "packets-00001.pcap.tmp", "packets--00001.pcap", "packets-99999999999999999999.pcap"} {
		f.Add("packets.pcap", seed)
	}
	f.Add("flows.ipfix", "flows-00002.ipfix")
	f.Add("noext", "noext-00003")
	f.Fuzz(func(t *testing.T, base, name string) {
		n, ok := PartNumber(base, name)
		if !ok {
			if n != 0 {
				t.Errorf("PartNumber(%q, %q) = %d, false; want 0 when not a part", base, name, n)
			}
			return
		}
		if n < 1 {
			t.Fatalf("PartNumber(%q, %q) = %d, want a number from 1", base, name, n)
		}
		if got := PartPath(base, n); got != name {
			t.Errorf("PartNumber(%q, %q) = %d, but PartPath gives %q", base, name, n, got)
		}
	})
}
