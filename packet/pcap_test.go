package packet

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// capture is a sample pcap read into memory.
type capture struct {
	name     string
	link     uint32          // link type as the file states it (276 for SLL2)
	linkType layers.LinkType // as gopacket carries it
	packets  []capturedPacket
}

type capturedPacket struct {
	data []byte
	ci   gopacket.CaptureInfo
}

// samplePcaps reads every file of testdata/pcaps with pcapgo.
func samplePcaps(tb testing.TB) []capture {
	tb.Helper()
	files, err := filepath.Glob("testdata/pcaps/*.pcap*")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no sample pcaps in testdata/pcaps: %v", err)
	}
	var out []capture
	for _, f := range files {
		out = append(out, readPcap(tb, f))
	}
	return out
}

func readPcap(tb testing.TB, path string) capture {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("ReadFile() error:\n%+v", err)
	}
	c := capture{name: filepath.Base(path)}
	var src gopacket.PacketDataSource
	if strings.HasSuffix(path, ".pcapng") {
		r, err := pcapgo.NewNgReader(bytes.NewReader(raw), pcapgo.DefaultNgReaderOptions)
		if err != nil {
			tb.Fatalf("NewNgReader(%s) error:\n%+v", path, err)
		}
		src, c.linkType, c.link = r, r.LinkType(), uint32(r.LinkType())
	} else {
		r, err := pcapgo.NewReader(bytes.NewReader(raw))
		if err != nil {
			tb.Fatalf("NewReader(%s) error:\n%+v", path, err)
		}
		// gopacket's LinkType is 8 bits: take the full value from the header.
		order := binary.ByteOrder(binary.LittleEndian)
		if raw[0] == 0xa1 {
			order = binary.BigEndian
		}
		src, c.linkType, c.link = r, r.LinkType(), order.Uint32(raw[20:24])
	}
	for {
		data, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatalf("ReadPacketData(%s) error:\n%+v", path, err)
		}
		c.packets = append(c.packets, capturedPacket{append([]byte(nil), data...), ci})
	}
	return c
}

// writePcap writes packets to a pcap file with the full link type number
// (pcapgo's WriteFileHeader cannot write 276).
func writePcap(tb testing.TB, path string, link uint32, packets []capturedPacket) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatalf("Create() error:\n%+v", err)
	}
	defer f.Close()
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 262144)
	binary.LittleEndian.PutUint32(hdr[20:], link)
	if _, err := f.Write(hdr); err != nil {
		tb.Fatalf("Write() error:\n%+v", err)
	}
	w := pcapgo.NewWriter(f)
	for _, p := range packets {
		if err := w.WritePacket(p.ci, p.data); err != nil {
			tb.Fatalf("WritePacket() error:\n%+v", err)
		}
	}
}

// tcpdumpPackets runs `tcpdump -vv -n -tt -r path` and returns its output
// cut into one string per packet.
func tcpdumpPackets(tb testing.TB, path string) []string {
	tb.Helper()
	out, err := exec.Command("tcpdump", "-vv", "-n", "-tt", "-r", path).Output()
	if err != nil {
		tb.Fatalf("tcpdump -r %s error:\n%+v", path, err)
	}
	var pkts []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line != "" && line[0] >= '0' && line[0] <= '9' || len(pkts) == 0 {
			pkts = append(pkts, line)
			continue
		}
		pkts[len(pkts)-1] += "\n" + line
	}
	return pkts
}

// needTool skips a test needing an external program that is not installed,
// except in CI (CI set), where make deps installs it and the test fails.
func needTool(tb testing.TB, name string) {
	tb.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is required in CI (make deps installs it): %v", name, err)
		}
		tb.Skipf("%s not installed (make deps installs it): %v", name, err)
	}
}
