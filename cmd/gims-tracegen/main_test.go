package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// small returns a configuration for a trace small enough for tcpdump and
// tshark in a test, with the default packets-per-flow ratio.
func small(packets, flows int) Config {
	cfg := DefaultConfig()
	cfg.Packets, cfg.Flows = packets, flows
	cfg.Duration = 30 * time.Second
	return cfg
}

// generate writes a trace for cfg into a temporary file.
func generate(t testing.TB, cfg Config) (string, Stats) {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatalf("New() error:\n%+v", err)
	}
	path := filepath.Join(t.TempDir(), "trace.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("Create() error:\n%+v", err)
	}
	defer f.Close()
	st, err := g.Generate(f)
	if err != nil {
		t.Fatalf("Generate() error:\n%+v", err)
	}
	return path, st
}

type record struct {
	ci   gopacket.CaptureInfo
	data []byte
}

// readTrace reads back a trace with pcapgo, checking the file header.
func readTrace(t testing.TB, path string, snaplen uint32) []record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("Open() error:\n%+v", err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("pcapgo.NewReader() error:\n%+v", err)
	}
	if got := r.LinkType(); got != layers.LinkTypeEthernet {
		t.Errorf("LinkType() == %v, want Ethernet", got)
	}
	if got := r.Snaplen(); got != snaplen {
		t.Errorf("Snaplen() == %d, want %d", got, snaplen)
	}
	var out []record
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("ReadPacketData() after %d packets error:\n%+v", len(out), err)
		}
		out = append(out, record{ci, data})
	}
}

func sha(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("ReadFile() error:\n%+v", err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

func TestDeterminism(t *testing.T) {
	base := small(20_000, 2_000)
	cases := []struct {
		pos    string
		change func(*Config)
		same   bool
	}{
		{"same config", func(*Config) {}, true},
		{"other seed", func(c *Config) { c.Seed = 2 }, false},
		{"other IPv6 share", func(c *Config) { c.IPv6Share = 0.5 }, false},
		{"snaplen", func(c *Config) { c.Snaplen = 128 }, false},
	}
	ref, _ := generate(t, base)
	want := sha(t, ref)
	for _, tc := range cases {
		t.Run(tc.pos, func(t *testing.T) {
			cfg := base
			tc.change(&cfg)
			path, _ := generate(t, cfg)
			if got := sha(t, path); (got == want) != tc.same {
				t.Errorf("sha256 %s, reference %s, want equal: %v", got, want, tc.same)
			}
		})
	}
}

// TestCommandDeterminism runs the command twice with the brief's flags and
// compares the files.
func TestCommandDeterminism(t *testing.T) {
	dir := t.TempDir()
	var sums []string
	for i := range 2 {
		path := filepath.Join(dir, fmt.Sprintf("run%d.pcap", i))
		var stderr bytes.Buffer
		args := []string{"-o", path, "-packets", "30000", "-flows", "3000", "-seed", "7", "-ipv6-share", "0.3"}
		if code := run(args, io.Discard, &stderr); code != 0 {
			t.Fatalf("run(%q) == %d, stderr:\n%s", args, code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "30000 packets") || !strings.Contains(stderr.String(), "3000 flows") {
			t.Errorf("run() summary: %s", stderr.String())
		}
		sums = append(sums, sha(t, path))
	}
	if sums[0] != sums[1] {
		t.Errorf("two runs differ: %s != %s", sums[0], sums[1])
	}
	if _, err := os.Stat(filepath.Join(dir, "run0.pcap.tmp")); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func TestRunArguments(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.pcap")
	cases := []struct {
		pos  string
		args []string
		code int
		msg  string
	}{
		{"no output", []string{"-packets", "100"}, 2, "-o FILE is required"},
		{"unknown flag", []string{"-o", out, "-bogus"}, 2, "flag provided but not defined"},
		{"extra argument", []string{"-o", out, "what"}, 2, `unexpected argument "what"`},
		{"too few packets", []string{"-o", out, "-packets", "1000", "-flows", "1000"}, 2, "1000 flows need at least"},
		{"bad share", []string{"-o", out, "-ipv6-share", "1.5"}, 2, "ipv6 share must be between 0 and 1, not 1.5"},
		{"unwritable", []string{"-o", filepath.Join(out, "sub", "x.pcap"), "-packets", "100", "-flows", "10"}, 1, "unable to create"},
		{"ok", []string{"-o", out, "-packets", "100", "-flows", "10"}, 0, "100 packets"},
	}
	for _, tc := range cases {
		t.Run(tc.pos, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(tc.args, io.Discard, &stderr); code != tc.code {
				t.Errorf("run(%q) == %d, want %d; stderr:\n%s", tc.args, code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.msg) {
				t.Errorf("run(%q) stderr %q does not contain %q", tc.args, stderr.String(), tc.msg)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	cases := []struct {
		pos    string
		change func(*Config)
		want   string
	}{
		{"no flows", func(c *Config) { c.Flows = 0 }, "invalid configuration: flows must be between 1 and 100000000, not 0"},
		{"no packets", func(c *Config) { c.Packets = 0 }, "invalid configuration: packets must be between 1 and 1000000000, not 0"},
		{"negative share", func(c *Config) { c.IPv6Share = -0.1 }, "invalid configuration: ipv6 share must be between 0 and 1, not -0.1"},
		{"vlan share", func(c *Config) { c.VLANShare = 2 }, "invalid configuration: vlan share must be between 0 and 1, not 2"},
		{"tiny snaplen", func(c *Config) { c.Snaplen = 10 }, "invalid configuration: snaplen must be 0 (no truncation) or between 64 and 262144, not 10"},
		{"short duration", func(c *Config) { c.Duration = time.Millisecond }, "invalid configuration: duration must be between 1s and 24h0m0s, not 1ms"},
		{"too few packets", func(c *Config) { c.Packets = 10 }, "1 flows need at least 16 packets with this traffic mix, not 10"},
	}
	for _, tc := range cases {
		t.Run(tc.pos, func(t *testing.T) {
			cfg := DefaultConfig()
			if tc.pos == "too few packets" {
				cfg.Flows = 1
			}
			tc.change(&cfg)
			_, err := New(cfg)
			if err == nil || err.Error() != tc.want {
				t.Errorf("New() error %v, want %q", err, tc.want)
			}
		})
	}
}

// flowKey identifies a flow in both directions: TCP and UDP by 5-tuple,
// ICMP echo by addresses and identifier.
type flowKey struct {
	a, b   string
	pa, pb uint16
	proto  uint8
}

func newKey(src, dst string, sp, dp uint16, proto uint8) flowKey {
	if src > dst || src == dst && sp > dp {
		src, dst, sp, dp = dst, src, dp, sp
	}
	return flowKey{src, dst, sp, dp, proto}
}

// analysis is what the tests measure in a decoded trace.
type analysis struct {
	flows       map[flowKey]bool
	ipv6Flows   map[flowKey]bool
	vlanPackets int
	firstFrags  int
	otherFrags  int
	small, mid  int // frames of at most 100 bytes, between 101 and 1399
	large       int // frames of at least 1400 bytes
	switches    int // consecutive packets of different flows
}

// analyse decodes every packet with gopacket, fails on decoding errors,
// bad checksums or decreasing timestamps, and measures the trace.
func analyse(t *testing.T, recs []record) analysis {
	t.Helper()
	return analyseWith(t, recs, false)
}

// analyseWith is analyse; with cutPayloads, errors decoding a packet's
// payload (Config.Tiny cuts DNS messages short) are not failures.
func analyseWith(t *testing.T, recs []record, cutPayloads bool) analysis {
	t.Helper()
	a := analysis{flows: map[flowKey]bool{}, ipv6Flows: map[flowKey]bool{}}
	var prev time.Time
	var prevKey flowKey
	bad := 0
	fail := func(i int, format string, args ...any) {
		bad++
		if bad <= 10 {
			t.Errorf("packet %d: %s", i+1, fmt.Sprintf(format, args...))
		}
	}
	for i, rec := range recs {
		if rec.ci.Timestamp.Before(prev) {
			fail(i, "timestamp %v before %v", rec.ci.Timestamp, prev)
		}
		prev = rec.ci.Timestamp
		switch n := rec.ci.Length; {
		case n <= 100:
			a.small++
		case n < 1400:
			a.mid++
		default:
			a.large++
		}
		if rec.ci.Length < minFrame {
			fail(i, "frame of %d bytes, shorter than %d", rec.ci.Length, minFrame)
		}
		p := gopacket.NewPacket(rec.data, layers.LinkTypeEthernet, gopacket.Default)
		if el := p.ErrorLayer(); el != nil && !(cutPayloads && p.TransportLayer() != nil) {
			fail(i, "decoding error: %v", el.Error())
			continue
		}
		if p.Layer(layers.LayerTypeDot1Q) != nil {
			a.vlanPackets++
		}
		var src, dst string
		var netLayer gopacket.NetworkLayer
		v6 := false
		switch ip := p.NetworkLayer().(type) {
		case *layers.IPv4:
			src, dst, netLayer = ip.SrcIP.String(), ip.DstIP.String(), ip
			if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
				if ip.FragOffset == 0 {
					a.firstFrags++
					// Count the flow by the UDP header the first fragment carries.
					u := ip.Payload
					k := newKey(src, dst, binary.BigEndian.Uint16(u), binary.BigEndian.Uint16(u[2:]), protoUDP)
					a.flows[k] = true
				} else {
					a.otherFrags++
				}
				prevKey = flowKey{}
				continue
			}
			if got := fold(sum16(ip.Contents, 0)); got != 0 {
				fail(i, "IPv4 header checksum does not verify (residue %#x)", got)
			}
		case *layers.IPv6:
			src, dst, netLayer, v6 = ip.SrcIP.String(), ip.DstIP.String(), ip, true
		default:
			fail(i, "no IP layer: %v", p)
			continue
		}
		var k flowKey
		switch l := p.TransportLayer().(type) {
		case *layers.TCP:
			k = newKey(src, dst, uint16(l.SrcPort), uint16(l.DstPort), protoTCP)
			if err := l.SetNetworkLayerForChecksum(netLayer); err != nil {
				t.Fatalf("SetNetworkLayerForChecksum() error:\n%+v", err)
			}
			// Summed with its checksum field, a valid segment gives 0.
			if got, err := l.ComputeChecksum(); err != nil || got != 0 {
				fail(i, "TCP checksum %#04x does not verify (gopacket: %#04x, %v)", l.Checksum, got, err)
			}
		case *layers.UDP:
			k = newKey(src, dst, uint16(l.SrcPort), uint16(l.DstPort), protoUDP)
			want := l.Checksum
			u := *l
			if err := u.SetNetworkLayerForChecksum(netLayer); err != nil {
				t.Fatalf("SetNetworkLayerForChecksum() error:\n%+v", err)
			}
			buf := gopacket.NewSerializeBuffer()
			opts := gopacket.SerializeOptions{ComputeChecksums: true}
			if err := gopacket.SerializeLayers(buf, opts, &u, gopacket.Payload(l.Payload)); err != nil {
				t.Fatalf("SerializeLayers() error:\n%+v", err)
			}
			// RFC 768 sends a computed 0 as 0xffff; gopacket does not.
			if u.Checksum != want && !(want == 0xffff && u.Checksum == 0) {
				fail(i, "UDP checksum %#04x, gopacket computes %#04x", want, u.Checksum)
			}
		default:
			switch m := p.Layer(layers.LayerTypeICMPv4).(type) {
			case *layers.ICMPv4:
				k = newKey(src, dst, m.Id, m.Id, protoICMP)
				if got := fold(sum16(append(m.Contents, m.Payload...), 0)); got != 0 {
					fail(i, "ICMP checksum does not verify (residue %#x)", got)
				}
				if m.TypeCode.Type() != layers.ICMPv4TypeEchoRequest && m.TypeCode.Type() != layers.ICMPv4TypeEchoReply {
					fail(i, "ICMP type %v", m.TypeCode)
				}
			}
			if m, ok := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); ok {
				e, ok := p.Layer(layers.LayerTypeICMPv6Echo).(*layers.ICMPv6Echo)
				if !ok {
					fail(i, "ICMPv6 without echo: %v", p)
					continue
				}
				k = newKey(src, dst, e.Identifier, e.Identifier, protoICMP6)
				want := m.Checksum
				c := *m
				if err := c.SetNetworkLayerForChecksum(netLayer); err != nil {
					t.Fatalf("SetNetworkLayerForChecksum() error:\n%+v", err)
				}
				buf := gopacket.NewSerializeBuffer()
				opts := gopacket.SerializeOptions{ComputeChecksums: true}
				if err := gopacket.SerializeLayers(buf, opts, &c, gopacket.Payload(m.Payload)); err != nil {
					t.Fatalf("SerializeLayers() error:\n%+v", err)
				}
				if c.Checksum != want {
					fail(i, "ICMPv6 checksum %#04x, gopacket computes %#04x", want, c.Checksum)
				}
			}
			if k == (flowKey{}) {
				fail(i, "no transport: %v", p)
				continue
			}
		}
		a.flows[k] = true
		if v6 {
			a.ipv6Flows[k] = true
		}
		if k != prevKey {
			a.switches++
		}
		prevKey = k
	}
	return a
}

func TestDecodeAndMix(t *testing.T) {
	cases := []struct {
		pos     string
		cfg     Config
		minFrag int // first fragments expected at least
	}{
		{"default ratio", small(36_000, 4_300), 1},
		{"IPv4 only", func() Config { c := small(30_000, 3_000); c.IPv6Share = 0; return c }(), 1},
		{"IPv6 only", func() Config { c := small(30_000, 3_000); c.IPv6Share = 1; return c }(), 0},
		{"half IPv6, all VLAN", func() Config { c := small(30_000, 3_000); c.IPv6Share = 0.5; c.VLANShare = 1; return c }(), 0},
		{"few flows", small(20_000, 25), 0},
		{"one flow", small(500, 1), 0},
		{"many flows", small(46_000, 10_000), 1},
	}
	for _, tc := range cases {
		t.Run(tc.pos, func(t *testing.T) {
			path, st := generate(t, tc.cfg)
			recs := readTrace(t, path, defaultSnaplen)
			if len(recs) != tc.cfg.Packets || st.Packets != int64(tc.cfg.Packets) {
				t.Errorf("%d packets read, %d written, want %d", len(recs), st.Packets, tc.cfg.Packets)
			}
			a := analyse(t, recs)
			if len(a.flows) != tc.cfg.Flows || st.Flows != tc.cfg.Flows {
				t.Errorf("%d flows decoded, %d reported, want %d", len(a.flows), st.Flows, tc.cfg.Flows)
			}
			if st.TCPFlows+st.UDPFlows+st.ICMPFlows != st.Flows {
				t.Errorf("Stats %+v: TCP+UDP+ICMP flows != flows", st)
			}
			if len(a.ipv6Flows) != st.IPv6Flows {
				t.Errorf("%d IPv6 flows decoded, %d reported", len(a.ipv6Flows), st.IPv6Flows)
			}
			share := float64(len(a.ipv6Flows)) / float64(tc.cfg.Flows)
			if tol := 0.03 + 1/float64(tc.cfg.Flows); share < tc.cfg.IPv6Share-tol || share > tc.cfg.IPv6Share+tol {
				t.Errorf("IPv6 share of flows %.3f, want %.2f", share, tc.cfg.IPv6Share)
			}
			if a.firstFrags != a.otherFrags || int64(a.firstFrags+a.otherFrags) != st.Fragments || a.firstFrags < tc.minFrag {
				t.Errorf("fragments: %d first, %d non-first, %d reported, want at least %d", a.firstFrags, a.otherFrags, st.Fragments, tc.minFrag)
			}
			if tc.cfg.VLANShare == 1 && a.vlanPackets != len(recs) {
				t.Errorf("%d of %d packets tagged, want all", a.vlanPackets, len(recs))
			}
			if tc.cfg.Flows > 100 && a.switches < len(recs)/4 {
				t.Errorf("flows interleave too little: %d flow changes in %d packets", a.switches, len(recs))
			}
			if got := recs[len(recs)-1].ci.Timestamp.Sub(recs[0].ci.Timestamp); tc.cfg.Flows > 100 && (got < tc.cfg.Duration*8/10 || got > tc.cfg.Duration*11/10) {
				t.Errorf("trace spans %v, want about %v", got, tc.cfg.Duration)
			}
			t.Logf("sizes: %.1f%% <=100, %.1f%% between, %.1f%% >=1400; stats %+v",
				100*float64(a.small)/float64(len(recs)), 100*float64(a.mid)/float64(len(recs)),
				100*float64(a.large)/float64(len(recs)), st)
		})
	}
}

// tool returns the path of an external program the tests need; `make deps`
// installs them.
func tool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed (make deps installs it): %v", name, err)
	}
	return path
}

// TestTcpdumpChecksums has tcpdump verify every checksum of a small trace.
func TestTcpdumpChecksums(t *testing.T) {
	tcpdump := tool(t, "tcpdump")
	cases := []struct {
		pos string
		cfg Config
	}{
		{"mixed", small(20_000, 2_400)},
		{"VLAN and IPv6", func() Config { c := small(10_000, 1_000); c.VLANShare, c.IPv6Share = 0.5, 0.5; return c }()},
	}
	for _, tc := range cases {
		t.Run(tc.pos, func(t *testing.T) {
			path, _ := generate(t, tc.cfg)
			out, err := exec.Command(tcpdump, "-vv", "-n", "-r", path).CombinedOutput()
			if err != nil {
				t.Fatalf("tcpdump error: %v\n%s", err, out)
			}
			text := string(out)
			for _, bad := range []string{"bad cksum", "incorrect", "bad udp cksum", "bad hdr length"} {
				if n := strings.Count(text, bad); n > 0 {
					i := strings.Index(text, bad)
					t.Errorf("tcpdump reports %q %d times, first: %s", bad, n, text[max(0, i-300):i+len(bad)])
				}
			}
			// Every TCP segment and every unfragmented UDP datagram was checked.
			correct := strings.Count(text, "(correct)") + strings.Count(text, "[udp sum ok]")
			if correct < tc.cfg.Packets*9/10 {
				t.Errorf("tcpdump verified %d checksums in %d packets", correct, tc.cfg.Packets)
			}
		})
	}
}

// tsharkConversations counts the conversations tshark lists per protocol.
func tsharkConversations(t *testing.T, path string) map[string]int {
	t.Helper()
	out, err := exec.Command(tool(t, "tshark"), "-n", "-r", path, "-q", "-z", "conv,tcp", "-z", "conv,udp").Output()
	if err != nil {
		t.Fatalf("tshark error: %v\n%s", err, out)
	}
	counts := map[string]int{}
	section := ""
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "TCP Conversations"):
			section = "tcp"
		case strings.HasPrefix(line, "UDP Conversations"):
			section = "udp"
		case strings.Contains(line, "<->"):
			counts[section]++
		}
	}
	return counts
}

// TestTsharkFlowCount checks that tshark sees as many TCP and UDP
// conversations as the trace has TCP and UDP flows; with the ICMP sessions
// they add up to the requested flows.
func TestTsharkFlowCount(t *testing.T) {
	cases := []struct {
		pos string
		cfg Config
	}{
		{"default ratio", small(20_000, 2_400)},
		{"IPv4 only with fragments", func() Config { c := small(20_000, 3_000); c.IPv6Share = 0; return c }()},
		{"few flows", small(5_000, 30)},
	}
	for _, tc := range cases {
		t.Run(tc.pos, func(t *testing.T) {
			path, st := generate(t, tc.cfg)
			got := tsharkConversations(t, path)
			if got["tcp"] != st.TCPFlows || got["udp"] != st.UDPFlows {
				t.Errorf("tshark conversations tcp %d, udp %d; want %d, %d", got["tcp"], got["udp"], st.TCPFlows, st.UDPFlows)
			}
			if sum := got["tcp"] + got["udp"] + st.ICMPFlows; sum != tc.cfg.Flows {
				t.Errorf("tcp %d + udp %d + icmp %d == %d, want %d", got["tcp"], got["udp"], st.ICMPFlows, sum, tc.cfg.Flows)
			}
			if icmp := float64(st.ICMPFlows) / float64(tc.cfg.Flows); tc.cfg.Flows > 100 && (icmp < 0.05 || icmp > 0.11) {
				t.Errorf("ICMP sessions are %.3f of the flows, want about 0.08", icmp)
			}
		})
	}
}

func TestSnaplen(t *testing.T) {
	cases := []struct {
		pos     string
		snaplen int
	}{
		{"64", 64},
		{"128", 128},
		{"1500", 1500},
	}
	for _, tc := range cases {
		t.Run(tc.pos, func(t *testing.T) {
			cfg := small(5_000, 500)
			cfg.Snaplen = tc.snaplen
			path, st := generate(t, cfg)
			recs := readTrace(t, path, uint32(tc.snaplen))
			truncated := 0
			var wire, captured int64
			for i, r := range recs {
				if r.ci.CaptureLength != min(r.ci.Length, tc.snaplen) || len(r.data) != r.ci.CaptureLength {
					t.Fatalf("packet %d: caplen %d, len %d, data %d with snaplen %d", i+1, r.ci.CaptureLength, r.ci.Length, len(r.data), tc.snaplen)
				}
				if r.ci.CaptureLength < r.ci.Length {
					truncated++
				}
				wire += int64(r.ci.Length)
				captured += int64(r.ci.CaptureLength)
			}
			if truncated == 0 {
				t.Error("no packet truncated")
			}
			if wire != st.Bytes || captured != st.CapturedBytes {
				t.Errorf("read %d/%d bytes (wire/captured), reported %d/%d", wire, captured, st.Bytes, st.CapturedBytes)
			}
			// The truncated trace is the whole one cut: same wire lengths.
			full := cfg
			full.Snaplen = 0
			_, fst := generate(t, full)
			if fst.Bytes != st.Bytes {
				t.Errorf("wire bytes %d, without snaplen %d", st.Bytes, fst.Bytes)
			}
		})
	}
}

// TestSizeDistribution checks the frame sizes are bimodal at the default
// packets-per-flow ratio.
func TestSizeDistribution(t *testing.T) {
	cfg := small(50_000, 6_000)
	path, _ := generate(t, cfg)
	recs := readTrace(t, path, defaultSnaplen)
	var smallFrames, large int
	for _, r := range recs {
		switch {
		case r.ci.Length <= 100:
			smallFrames++
		case r.ci.Length >= 1400:
			large++
		}
	}
	n := float64(len(recs))
	s, l := float64(smallFrames)/n, float64(large)/n
	t.Logf("%.1f%% of frames <= 100 bytes, %.1f%% >= 1400 bytes", 100*s, 100*l)
	if s < 0.32 || s > 0.50 || l < 0.30 || l > 0.48 || 1-s-l < 0.10 || 1-s-l > 0.30 {
		t.Errorf("frames: %.1f%% <= 100 bytes, %.1f%% >= 1400, want about 40%%, 40%% and the rest between", 100*s, 100*l)
	}
}

// TestGenerateTwice checks a Generator can be reused and gives the same
// bytes, as the benchmark relies on.
func TestGenerateTwice(t *testing.T) {
	g, err := New(small(5_000, 500))
	if err != nil {
		t.Fatalf("New() error:\n%+v", err)
	}
	var a, b bytes.Buffer
	if _, err := g.Generate(&a); err != nil {
		t.Fatalf("Generate() error:\n%+v", err)
	}
	if _, err := g.Generate(&b); err != nil {
		t.Fatalf("Generate() error:\n%+v", err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("second Generate() wrote different bytes")
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestGenerateWriteError(t *testing.T) {
	g, err := New(small(50_000, 500))
	if err != nil {
		t.Fatalf("New() error:\n%+v", err)
	}
	_, err = g.Generate(&failWriter{n: 3 << 20})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Generate() error %v, want disk full", err)
	}
}

// BenchmarkGenerate measures generation into io.Discard; ns/op and
// allocs/op are per packet.
func BenchmarkGenerate(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Packets, cfg.Flows = 200_000, 24_000
	g, err := New(cfg)
	if err != nil {
		b.Fatalf("New() error:\n%+v", err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	packets := 0
	for b.Loop() {
		st, err := g.Generate(io.Discard)
		if err != nil {
			b.Fatalf("Generate() error:\n%+v", err)
		}
		packets += int(st.Packets)
		b.SetBytes(st.Bytes)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(packets), "ns/packet")
	b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "packets/s")
}
