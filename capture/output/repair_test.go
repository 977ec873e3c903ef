package output

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/gimsproject/gims/transform/ipfix"
)

// pcapBytes builds a little-endian nanosecond pcap file with records of
// the given captured lengths.
func pcapBytes(lens ...int) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0xa1b23c4d)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = binary.LittleEndian.AppendUint32(b, 65535)
	b = binary.LittleEndian.AppendUint32(b, 1)
	for i, n := range lens {
		b = binary.LittleEndian.AppendUint32(b, uint32(1000+i))
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
		b = append(b, bytes.Repeat([]byte{byte(i)}, n)...)
	}
	return b
}

// ipfixBytes builds consecutive IPFIX message headers with bodies of the
// given lengths.
func ipfixBytes(bodies ...int) []byte {
	var b []byte
	for _, n := range bodies {
		b = binary.BigEndian.AppendUint16(b, 10)
		b = binary.BigEndian.AppendUint16(b, uint16(16+n))
		b = append(b, make([]byte, 12)...)
		b = append(b, bytes.Repeat([]byte{0xee}, n)...)
	}
	return b
}

func TestRepair(t *testing.T) {
	twoPackets := pcapBytes(60, 1500)
	twoMessages := ipfixBytes(100, 40)
	for _, tc := range []struct {
		name   string
		repair func(*os.File) (int64, error)
		data   []byte
		want   int64
	}{
		{"pcap complete", repairPcap, twoPackets, int64(len(twoPackets))},
		{"pcap header only", repairPcap, twoPackets[:24], 24},
		{"pcap partial record header", repairPcap, twoPackets[:24+16+60+5], 24 + 16 + 60},
		{"pcap partial record data", repairPcap, twoPackets[:len(twoPackets)-1], 24 + 16 + 60},
		{"pcap partial file header", repairPcap, twoPackets[:20], 0},
		{"pcap empty", repairPcap, nil, 0},
		{"pcap bad magic", repairPcap, append([]byte{1, 2, 3, 4}, twoPackets[4:]...), 0},
		{"pcap absurd length", repairPcap, append(pcapBytes(10), pcapBytes(1 << 20)[24:40]...), 24 + 16 + 10},
		{"ipfix complete", repairIPFIX, twoMessages, int64(len(twoMessages))},
		{"ipfix partial header", repairIPFIX, twoMessages[:116+10], 116},
		{"ipfix partial body", repairIPFIX, twoMessages[:len(twoMessages)-1], 116},
		{"ipfix garbage after", repairIPFIX, append(slicesClone(twoMessages), 0, 9, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16), int64(len(twoMessages))},
		{"ipfix length below header", repairIPFIX, append(slicesClone(twoMessages), ipfixBytes(0)[:2]...), int64(len(twoMessages))},
		{"ipfix empty", repairIPFIX, nil, 0},
		{"csv complete", repairCSV, []byte("h\n1\n2\n"), 6},
		{"csv partial line", repairCSV, []byte("h\n1\n2024-"), 4},
		{"csv no newline", repairCSV, []byte("time,pack"), 0},
		{"csv empty", repairCSV, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := tc.repair(f)
			if err != nil {
				t.Fatalf("repair error:\n%+v", err)
			}
			data, _ := os.ReadFile(path)
			if got != tc.want || int64(len(data)) != tc.want {
				t.Errorf("repair = %d, file %d bytes; want %d", got, len(data), tc.want)
			}
			if !bytes.Equal(data, tc.data[:tc.want]) {
				t.Errorf("repair changed the kept bytes")
			}
		})
	}
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

// FuzzValidLength checks that the repair scanners never accept more than
// they were given and that what they accept is accepted whole again.
func FuzzValidLength(f *testing.F) {
	f.Add(pcapBytes(60, 1500))
	f.Add(pcapBytes(60, 1500)[:90])
	f.Add(ipfixBytes(100, 40))
	f.Add(ipfixBytes(100, 40)[:120])
	f.Fuzz(func(t *testing.T, data []byte) {
		for name, scan := range map[string]func([]byte) int64{
			"pcap": func(b []byte) int64 {
				n, err := pcapValidLength(bytes.NewReader(b))
				if err != nil {
					t.Fatalf("pcap: %v", err)
				}
				return n
			},
			"ipfix": func(b []byte) int64 {
				n, err := ipfix.WalkMessages(bytes.NewReader(b), nil)
				if err != nil {
					t.Fatalf("ipfix: %v", err)
				}
				return n
			},
		} {
			n := scan(data)
			if n < 0 || n > int64(len(data)) {
				t.Fatalf("%s: valid length %d of %d bytes", name, n, len(data))
			}
			if again := scan(data[:n]); again != n {
				t.Fatalf("%s: prefix of %d bytes rescanned as %d", name, n, again)
			}
		}
	})
}
