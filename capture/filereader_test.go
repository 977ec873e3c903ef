package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/gopacket/pcap"
)

// readAll reads every packet of a source as one string per packet (capture
// info and bytes), then the final error ("EOF" or the message).
func readAll(t *testing.T, s *Source) []string {
	t.Helper()
	var out []string
	for {
		data, ci, err := s.ZeroCopyReadPacketData()
		if err != nil {
			return append(out, err.Error())
		}
		out = append(out, fmt.Sprintf("%d %d %d %x", ci.Timestamp.UnixNano(), ci.CaptureLength, ci.Length, data))
	}
}

// libpcapSource opens path with libpcap alone, as OpenFile did before it
// read pcap files itself.
func libpcapSource(t *testing.T, path string) *Source {
	t.Helper()
	h, err := pcap.OpenOffline(path)
	if err != nil {
		t.Fatal(err)
	}
	return &Source{handle: h, linkType: h.LinkType(), snaplen: h.SnapLen()}
}

// pcapRecord is one record of a pcap file for the variants below.
type pcapRecord struct {
	sec, frac, caplen, length uint32
	data                      []byte
}

// writePcap writes a pcap file with the given header fields and records.
func writePcap(t *testing.T, path string, order binary.ByteOrder, magic uint32, major, minor uint16, snaplen, linkType uint32, recs []pcapRecord, tail []byte) {
	t.Helper()
	var b bytes.Buffer
	hdr := make([]byte, 24)
	order.PutUint32(hdr[0:], magic)
	order.PutUint16(hdr[4:], major)
	order.PutUint16(hdr[6:], minor)
	order.PutUint32(hdr[16:], snaplen)
	order.PutUint32(hdr[20:], linkType)
	b.Write(hdr)
	for _, r := range recs {
		h := make([]byte, 16)
		order.PutUint32(h[0:], r.sec)
		order.PutUint32(h[4:], r.frac)
		order.PutUint32(h[8:], r.caplen)
		order.PutUint32(h[12:], r.length)
		b.Write(h)
		b.Write(r.data)
	}
	b.Write(tail)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFileReaderMatchesLibpcap checks that the pcap files OpenFile reads
// itself give exactly what libpcap gives: link type, snapshot length,
// every packet's bytes and capture info, and the error that ends a damaged
// file. It runs on every sample trace and on variants of one of them
// written for the cases samples do not cover.
func TestFileReaderMatchesLibpcap(t *testing.T) {
	samples, err := filepath.Glob(filepath.Join("testdata", "pcaps", "*.pcap"))
	if err != nil || len(samples) < 20 {
		t.Fatalf("samples: %v %v", samples, err)
	}
	// Records of a real trace for the variants.
	src := libpcapSource(t, filepath.Join("testdata", "zeek__http-get.pcap"))
	var recs []pcapRecord
	for {
		data, ci, err := src.ZeroCopyReadPacketData()
		if err != nil {
			break
		}
		ts := ci.Timestamp
		recs = append(recs, pcapRecord{uint32(ts.Unix()), uint32(ts.Nanosecond() / 1000), uint32(len(data)), uint32(ci.Length), bytes.Clone(data)})
	}
	src.Close()
	nanos := make([]pcapRecord, len(recs))
	for i, r := range recs {
		nanos[i] = r
		nanos[i].frac = r.frac*1000 + uint32(i)
	}
	big := append([]pcapRecord(nil), recs...)
	big[2].data = append(bytes.Clone(big[2].data), make([]byte, 3000)...)
	big[2].caplen += 3000
	huge := append([]pcapRecord(nil), recs[:3]...)
	huge[2].caplen = pcapMaxSnaplen + 1
	le, be := binary.LittleEndian, binary.BigEndian

	dir := t.TempDir()
	variants := []struct {
		name           string
		order          binary.ByteOrder
		magic          uint32
		snaplen, link  uint32
		recs           []pcapRecord
		tail           []byte
		fileReaderUsed bool
	}{
		{"big-endian", be, pcapMagicMicro, 65535, 1, recs, nil, true},
		{"nanoseconds", le, pcapMagicNano, 65535, 1, nanos, nil, true},
		{"nanoseconds big-endian", be, pcapMagicNano, 65535, 1, nanos, nil, true},
		{"snaplen 0", le, pcapMagicMicro, 0, 1, recs, nil, true},
		{"snaplen above maximum", le, pcapMagicMicro, 1 << 30, 1, recs, nil, false},
		{"caplen above snaplen", le, pcapMagicMicro, 1600, 1, big, nil, true},
		{"caplen above maximum", le, pcapMagicMicro, 65535, 1, huge, nil, true},
		{"caplen above maximum and snaplen 0", le, pcapMagicMicro, 0, 1, huge, nil, true},
		{"truncated record header", le, pcapMagicMicro, 65535, 1, recs, []byte{1, 2, 3, 4, 5}, true},
		{"truncated packet", le, pcapMagicMicro, 65535, 1, recs[:4], append(bytes.Clone(mustRecord(le, recs[4])), 0)[:16+10], true},
		{"LINKTYPE_RAW", le, pcapMagicMicro, 65535, 101, nil, nil, true},
		{"link type left to libpcap", le, pcapMagicMicro, 65535, 147, recs, nil, false},
		{"empty", le, pcapMagicMicro, 65535, 1, nil, nil, true},
	}
	type file struct {
		name, path     string
		fileReaderUsed bool
	}
	var files []file
	for _, s := range samples {
		files = append(files, file{filepath.Base(s), s, true})
	}
	for _, v := range variants {
		path := filepath.Join(dir, strings.ReplaceAll(v.name, " ", "_")+".pcap")
		writePcap(t, path, v.order, v.magic, 2, 4, v.snaplen, v.link, v.recs, v.tail)
		files = append(files, file{v.name, path, v.fileReaderUsed})
	}
	for _, f := range files {
		for _, mapped := range []bool{false, true} {
			name := f.name
			if mapped {
				name += " mapped"
			}
			t.Run(name, func(t *testing.T) { compareWithLibpcap(t, f.path, f.fileReaderUsed, mapped) })
		}
	}
}

// compareWithLibpcap reads path with OpenFile (through a mapping if
// mapped: MapFile) and with libpcap, and wants the same.
func compareWithLibpcap(t *testing.T, path string, fileReaderUsed, mapped bool) {
	t.Helper()
	ours, err := OpenFile(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	if used := ours.file != nil; used != fileReaderUsed {
		t.Errorf("file reader used: %v, want %v", used, fileReaderUsed)
	}
	if mapped {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ours.MapFile(), fileReaderUsed && info.Size() > pcapFileHeader; got != want {
			t.Errorf("MapFile() = %t, want %t", got, want)
		}
	}
	ref := libpcapSource(t, path)
	defer ref.Close()
	if ours.LinkType() != ref.LinkType() || ours.Snaplen() != ref.Snaplen() {
		t.Errorf("link type %d snaplen %d, libpcap says %d and %d",
			ours.LinkType(), ours.Snaplen(), ref.LinkType(), ref.Snaplen())
	}
	got, want := readAll(t, ours), readAll(t, ref)
	if len(got) != len(want) {
		t.Errorf("%d packets, libpcap reads %d (last: %q, libpcap: %q)", len(got)-1, len(want)-1, got[len(got)-1], want[len(want)-1])
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("packet %d:\n got %.200s\nwant %.200s", i, got[i], want[i])
		}
	}
	if p := ours.Progress(); p != 100 && got[len(got)-1] == io.EOF.Error() {
		t.Errorf("progress at the end %.1f, want 100", p)
	}
}

func mustRecord(order binary.ByteOrder, r pcapRecord) []byte {
	h := make([]byte, 16, 16+len(r.data))
	order.PutUint32(h[0:], r.sec)
	order.PutUint32(h[4:], r.frac)
	order.PutUint32(h[8:], r.caplen)
	order.PutUint32(h[12:], r.length)
	return append(h, r.data...)
}

// TestFileReaderClose checks that closing a file source ends reading with
// io.EOF, as closing a libpcap handle does.
func TestFileReaderClose(t *testing.T) {
	s, err := OpenFile(filepath.Join("testdata", "zeek__http-get.pcap"), "")
	if err != nil {
		t.Fatal(err)
	}
	if s.file == nil {
		t.Fatal("the file reader did not take a plain pcap file")
	}
	if _, _, err := s.ZeroCopyReadPacketData(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, _, err := s.ZeroCopyReadPacketData(); !errors.Is(err, io.EOF) {
		t.Errorf("read after Close: %v, want EOF", err)
	}
}

// BenchmarkReadFile compares reading a pcap file with the file reader and
// with libpcap, per packet.
func BenchmarkReadFile(b *testing.B) {
	path := filepath.Join("testdata", "pcaps", "tcpreplay__test.pcap")
	for _, tc := range []struct {
		name string
		open func() (*Source, error)
	}{
		{"filereader", func() (*Source, error) { return OpenFile(path, "") }},
		{"libpcap", func() (*Source, error) {
			h, err := pcap.OpenOffline(path)
			if err != nil {
				return nil, err
			}
			return &Source{handle: h}, nil
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := tc.open()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.ZeroCopyReadPacketData(); err == io.EOF {
					b.StopTimer()
					s.Close()
					if s, err = tc.open(); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				} else if err != nil {
					b.Fatal(err)
				}
			}
			s.Close()
		})
	}
}

// TestMappedFileGrows checks that a file mapped by MapFile is read to its
// end as it is when read, with bytes appended after it was mapped: the
// record cut at the mapping's end and those after it.
func TestMappedFileGrows(t *testing.T) {
	sample := filepath.Join("testdata", "zeek__http-get.pcap")
	whole, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "growing.pcap")
	cut := len(whole) / 2
	if err := os.WriteFile(path, whole[:cut], 0o600); err != nil {
		t.Fatal(err)
	}
	s := openMapped(t, path)
	defer s.Close()
	first, _, err := s.ZeroCopyReadPacketData()
	if err != nil {
		t.Fatal(err)
	}
	firstCopy := bytes.Clone(first)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(whole[cut:]); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got := readAll(t, s)
	ref := libpcapSource(t, sample)
	defer ref.Close()
	want := readAll(t, ref)
	if want[0] != fmt.Sprintf("%s %x", want[0][:strings.LastIndexByte(want[0], ' ')], firstCopy) {
		t.Errorf("first packet %x, libpcap reads %s", firstCopy, want[0])
	}
	if !slices.Equal(got, want[1:]) {
		t.Errorf("read %d packets after the first (last %q), libpcap %d (last %q)", len(got)-1, got[len(got)-1], len(want)-2, want[len(want)-1])
	}
}

// TestMappedFileReleased checks that reading a mapped file larger than
// releaseEvery releases the pages read (so the resident size stays
// bounded) and still reads every packet as libpcap does.
func TestMappedFileReleased(t *testing.T) {
	frame := make([]byte, 1400)
	var recs []pcapRecord
	for i := range 20 << 20 / (16 + len(frame)) {
		frame[0], frame[1], frame[len(frame)-1] = byte(i), byte(i>>8), byte(i>>16)
		recs = append(recs, pcapRecord{1700000000, uint32(i), uint32(len(frame)), uint32(len(frame)), bytes.Clone(frame)})
	}
	path := filepath.Join(t.TempDir(), "big.pcap")
	writePcap(t, path, binary.LittleEndian, pcapMagicMicro, 2, 4, 65535, 1, recs, nil)
	compareWithLibpcap(t, path, true, true)

	s := openMapped(t, path)
	defer s.Close()
	for {
		if _, _, err := s.ZeroCopyReadPacketData(); err != nil {
			break
		}
	}
	if got := s.file.released; got < 16<<20 {
		t.Errorf("%d bytes of the mapping released after reading %d, want at least %d", got, 20<<20, 16<<20)
	}
}

// FuzzFileReader checks that any file the reader takes is read exactly as
// libpcap reads it (packets, capture info, the error that ends it), both
// with read(2) and through a mapping (MapFile). Seeds: the start of two
// sample traces, and a few damaged headers; the corpus is in
// testdata/fuzz/FuzzFileReader.
func FuzzFileReader(f *testing.F) {
	for _, name := range []string{"zeek__http-get.pcap", "zeek__linux_dlt_sll2.pcap"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:min(len(data), 2000)])
	}
	f.Add([]byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0, 1, 2, 3})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "f.pcap")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		h, err := pcap.OpenOffline(path)
		if err != nil {
			return // libpcap refuses it: OpenFile says so through libpcap
		}
		ref := &Source{handle: h, linkType: h.LinkType(), snaplen: h.SnapLen()}
		want := readAll(t, ref)
		ref.Close()
		for _, mapped := range []bool{false, true} {
			s, err := OpenFile(path, "")
			if err != nil {
				t.Fatalf("libpcap opens it, OpenFile: %v", err)
			}
			if mapped {
				s.MapFile()
			}
			got := readAll(t, s)
			s.Close()
			if !slices.Equal(got, want) {
				t.Fatalf("mapped %t: read %q, libpcap %q", mapped, got, want)
			}
		}
	})
}

// openMapped opens path with OpenFile and maps it.
func openMapped(t *testing.T, path string) *Source {
	t.Helper()
	s, err := OpenFile(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if !s.MapFile() {
		s.Close()
		t.Fatal("MapFile() = false")
	}
	return s
}

// TestHeldMappingReleasedByReleaseTo: after HoldMapped, reading through a
// mapped file releases nothing; ReleaseTo releases the pages before the
// packet it is given, by steps of releaseEvery, and only for packets in
// the mapping.
func TestHeldMappingReleasedByReleaseTo(t *testing.T) {
	frame := make([]byte, 1400)
	var recs []pcapRecord
	for i := range 20 << 20 / (16 + len(frame)) {
		frame[0], frame[1] = byte(i), byte(i>>8)
		recs = append(recs, pcapRecord{1700000000, uint32(i), uint32(len(frame)), uint32(len(frame)), bytes.Clone(frame)})
	}
	path := filepath.Join(t.TempDir(), "big.pcap")
	writePcap(t, path, binary.LittleEndian, pcapMagicMicro, 2, 4, 65535, 1, recs, nil)

	s := openMapped(t, path)
	defer s.Close()
	if !s.HoldMapped() {
		t.Fatal("HoldMapped() = false on a mapped file")
	}
	var pkts [][]byte
	for {
		data, _, err := s.ZeroCopyReadPacketData()
		if err != nil {
			break
		}
		if !s.InMapping(data) {
			t.Fatalf("packet %d not in the mapping", len(pkts))
		}
		pkts = append(pkts, data)
	}
	if len(pkts) != len(recs) || s.file.released != 0 {
		t.Fatalf("read %d packets of %d, %d bytes released; want all, none released", len(pkts), len(recs), s.file.released)
	}
	if s.InMapping(frame) {
		t.Error("InMapping() = true for a slice outside the mapping")
	}
	s.ReleaseTo(pkts[100]) // under 8 MiB: not yet
	if s.file.released != 0 {
		t.Errorf("%d bytes released after %d KiB read, want 0", s.file.released, (100*1416)>>10)
	}
	mid := len(pkts) / 2
	s.ReleaseTo(pkts[mid])
	end := s.file.inMapping(pkts[mid])
	if got := s.file.released; got < releaseEvery || got > end || end-got >= os.Getpagesize() {
		t.Errorf("%d bytes released up to a packet ending at %d, want the pages before it", got, end)
	}
	// Every packet is still there, released or not.
	for i, p := range pkts {
		if p[0] != byte(i) || p[1] != byte(i>>8) {
			t.Fatalf("packet %d reads %d after the release", i, int(p[0])|int(p[1])<<8)
		}
	}

	// A file that is not mapped is not held.
	s2, err := OpenFile(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s2.HoldMapped() {
		t.Error("HoldMapped() = true on a file read with read(2)")
	}
}
