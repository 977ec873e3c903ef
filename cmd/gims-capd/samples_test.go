package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/calmh/ipfix"
)

// samples lists the bundled sample traces (from ../shared/data/pcaps).
func samples(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "pcaps", "*.pcap*"))
	if err != nil || len(files) < 20 {
		t.Fatalf("sample pcaps missing: %v (%d files)", err, len(files))
	}
	return files
}

// TestOfflineSamples runs every sample trace through the whole capture path
// (anonymization, counters, flows, pcap and IPFIX output): no crash, and
// outputs that independent tools read.
func TestOfflineSamples(t *testing.T) {
	requireTool(t, "tcpdump")
	key := strings.Repeat("5a", 32)
	for _, in := range samples(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "anon.pcap")
			code, stderr := runCapd(t, nil, "-r", in, "-anonymize-key", key, "-w", out,
				"-ipfix", filepath.Join(dir, "f.ipfix"), "-counters", filepath.Join(dir, "c.csv"))
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
				t.Fatalf("crashed:\n%s", stderr)
			}
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, stderr)
			}
			if !strings.Contains(stderr, " packets, ") {
				t.Errorf("no summary line: %q", stderr)
			}
			if _, err := readIPFIX(filepath.Join(dir, "f.ipfix")); err != nil {
				t.Errorf("IPFIX output: %v", err)
			}
			cmd := exec.Command("tcpdump", "-n", "-r", out)
			cmd.Stdout = io.Discard
			var tdErr bytes.Buffer
			cmd.Stderr = &tdErr
			if err := cmd.Run(); err != nil {
				t.Errorf("tcpdump cannot read the anonymized pcap: %v\n%s", err, tdErr.String())
			}
		})
	}
}

// conv is an unordered transport conversation.
type conv struct {
	proto string
	a, b  string // "addr port", a < b
}

func newConv(proto, ip1, port1, ip2, port2 string) conv {
	e1, e2 := ip1+" "+port1, ip2+" "+port2
	if e2 < e1 {
		e1, e2 = e2, e1
	}
	return conv{proto, e1, e2}
}

// TestOfflineFlowsMatchTshark counts each sample's TCP and UDP conversations
// with tshark and checks gims-capd's flows (read back from its IPFIX file)
// carry the same packets. Fragments, tunnels and ICMP errors are filtered
// out first with tcpdump, because tshark reassembles, dissects inner
// headers and counts quoted headers as conversation traffic; OpenFlow is
// not dissected, since tshark counts the frames it carries as traffic.
// tshark leaves a frame whose transport header the capture cut short out of
// its conversation; we count it when its ports were captured, so such
// frames (tshark's _ws.short) may add to our count and nothing else may.
func TestOfflineFlowsMatchTshark(t *testing.T) {
	requireTool(t, "tshark")
	requireTool(t, "tcpdump")
	const comparable = "not (ip[6:2] & 0x3fff != 0) and not (ip6 and ip6[6] == 44) and not ip proto 41 and not ip proto 4" +
		" and not (icmp and icmp[0] != 0 and icmp[0] != 8) and not (icmp6 and ip6[40] < 128)"
	compared := 0
	for _, in := range samples(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			dir := t.TempDir()
			filtered := filepath.Join(dir, "in.pcap")
			if out, err := exec.Command("tcpdump", "-r", in, "-w", filtered, comparable).CombinedOutput(); err != nil {
				t.Fatalf("tcpdump cannot filter this sample's link type (leave such a sample out of testdata/pcaps): %v %s", err, out)
			}
			want, err := tsharkConversations(filtered)
			if err != nil {
				t.Fatal(err)
			}
			ipfixFile := filepath.Join(dir, "f.ipfix")
			if code, stderr := runCapd(t, nil, "-r", filtered, "-ipfix", ipfixFile); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			flows, err := readIPFIX(ipfixFile)
			if err != nil {
				t.Fatal(err)
			}
			got := map[conv]uint64{}
			for _, f := range flows {
				if f.proto == "tcp" || f.proto == "udp" {
					got[newConv(f.proto, f.src, f.sport, f.dst, f.dport)] += f.packets + f.revPackets
				}
			}
			short, err := tsharkShortFrames(filtered)
			if err != nil {
				t.Fatal(err)
			}
			for c, n := range short {
				if got[c] >= want[c] && got[c]-want[c] <= n {
					got[c] = want[c]
				}
			}
			if diff := diffConvs(got, want); diff != "" {
				t.Errorf("conversations differ (-gims-capd, +tshark):\n%s", diff)
			}
			compared += len(want)
		})
	}
	if compared < 10 {
		t.Errorf("only %d conversations compared over all samples", compared)
	}
}

func diffConvs(got, want map[conv]uint64) string {
	var lines []string
	for c, n := range want {
		if got[c] != n {
			lines = append(lines, fmt.Sprintf("-%v %d\n+%v %d", c, got[c], c, n))
		}
	}
	for c, n := range got {
		if _, ok := want[c]; !ok {
			lines = append(lines, fmt.Sprintf("-%v %d\n+%v (absent)", c, n, c))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

var convLine = regexp.MustCompile(`^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+\d+\s+\S+\s+\S+\s+\d+\s+\S+\s+\S+\s+(\d+)\s`)

// tsharkConversations returns tshark's TCP and UDP conversations with
// their total frame counts.
func tsharkConversations(file string) (map[conv]uint64, error) {
	out, err := exec.Command("tshark", "-n", "-r", file, "--disable-protocol", "openflow", "-q",
		"-z", "conv,tcp", "-z", "conv,udp").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("tshark: %v\n%s", err, out)
	}
	convs := map[conv]uint64{}
	proto := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "TCP Conversations"):
			proto = "tcp"
		case strings.HasPrefix(line, "UDP Conversations"):
			proto = "udp"
		}
		m := convLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, _ := strconv.ParseUint(m[5], 10, 64)
		convs[newConv(proto, m[1], m[2], m[3], m[4])] += n
	}
	return convs, nil
}

// tsharkShortFrames counts, per conversation, the frames tshark says the
// capture cut short.
func tsharkShortFrames(file string) (map[conv]uint64, error) {
	out, err := exec.Command("tshark", "-n", "-r", file, "-Y", "_ws.short && (tcp || udp)", "-T", "fields",
		"-e", "ip.proto", "-e", "ipv6.nxt", "-e", "ip.src", "-e", "ipv6.src", "-e", "ip.dst", "-e", "ipv6.dst",
		"-e", "tcp.srcport", "-e", "udp.srcport", "-e", "tcp.dstport", "-e", "udp.dstport").Output()
	if err != nil {
		return nil, fmt.Errorf("tshark: %v", err)
	}
	short := map[conv]uint64{}
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 10 {
			continue
		}
		proto := map[string]string{"6": "tcp", "17": "udp"}[f[0]+f[1]]
		short[newConv(proto, f[2]+f[3], f[6]+f[7], f[4]+f[5], f[8]+f[9])]++
	}
	return short, nil
}

// ipfixFlow is one biflow read back from an IPFIX file.
type ipfixFlow struct {
	proto, src, dst, sport, dport string
	packets, revPackets, bytes    uint64
}

// readIPFIX parses an RFC 5655 file with calmh/ipfix, an independent
// decoder.
func readIPFIX(path string) ([]ipfixFlow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := ipfix.NewSession()
	interp := ipfix.NewInterpreter(s)
	var flows []ipfixFlow
	r := bufio.NewReader(f)
	for {
		bs, _, err := ipfix.Read(r, nil)
		if errors.Is(err, io.EOF) {
			return flows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		msg, err := s.ParseBuffer(bs)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
		for _, rec := range msg.DataRecords {
			var fl ipfixFlow
			for _, field := range interp.Interpret(rec) {
				switch field.Name {
				case "sourceIPv4Address", "sourceIPv6Address":
					fl.src = ipString(field.Value)
				case "destinationIPv4Address", "destinationIPv6Address":
					fl.dst = ipString(field.Value)
				case "sourceTransportPort":
					fl.sport = fmt.Sprint(field.Value)
				case "destinationTransportPort":
					fl.dport = fmt.Sprint(field.Value)
				case "protocolIdentifier":
					fl.proto = map[uint8]string{6: "tcp", 17: "udp"}[field.Value.(uint8)]
				case "packetDeltaCount":
					fl.packets = field.Value.(uint64)
				case "reversePacketDeltaCount":
					fl.revPackets = field.Value.(uint64)
				case "octetDeltaCount":
					fl.bytes = field.Value.(uint64)
				}
			}
			flows = append(flows, fl)
		}
	}
}

func ipString(v any) string {
	if ip, ok := v.(*net.IP); ok {
		return ip.String()
	}
	return fmt.Sprint(v)
}

// TestOfflineCollector exports to a UDP collector on 127.0.0.1 and checks
// every datagram parses and carries the flows the IPFIX file has.
func TestOfflineCollector(t *testing.T) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	dir := t.TempDir()
	ipfixFile := filepath.Join(dir, "f.ipfix")
	in := filepath.Join("testdata", "pcaps", "tcpreplay__test.pcap")
	if code, stderr := runCapd(t, nil, "-r", in, "-ipfix", ipfixFile, "-collector", "udp://"+conn.LocalAddr().String()); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want, err := readIPFIX(ipfixFile)
	if err != nil {
		t.Fatal(err)
	}
	s := ipfix.NewSession()
	interp := ipfix.NewInterpreter(s)
	got := 0
	buf := make([]byte, 65536)
	for {
		if err := conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			break // no more datagrams
		}
		msg, err := s.ParseBuffer(buf[:n])
		if err != nil {
			t.Fatalf("datagram does not parse: %v", err)
		}
		for _, rec := range msg.DataRecords {
			if len(interp.Interpret(rec)) == 0 {
				t.Fatal("empty data record")
			}
			got++
		}
	}
	if got != len(want) || got == 0 {
		t.Errorf("collector got %d flows, the IPFIX file has %d", got, len(want))
	}
}
