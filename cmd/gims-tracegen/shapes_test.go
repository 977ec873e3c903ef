package main

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// TestShapes generates every named shape at a twentieth of its size and
// checks what makes it that shape, and that every flow is still there.
func TestShapes(t *testing.T) {
	checks := map[string]func(t *testing.T, cfg Config, a analysis, recs []record){
		"mix": func(t *testing.T, cfg Config, _ analysis, _ []record) {
			if cfg != func() Config {
				c := DefaultConfig()
				c.Packets, c.Flows, c.Duration = cfg.Packets, cfg.Flows, cfg.Duration
				return c
			}() {
				t.Errorf("mix is not the default configuration: %+v", cfg)
			}
		},
		"clustered": func(t *testing.T, _ Config, a analysis, _ []record) {
			v4 := netip.MustParsePrefix("10.1.0.0/16")
			v6 := netip.MustParsePrefix("2001:db8:1::/48")
			low := map[uint16]bool{}
			for k := range a.flows {
				for _, s := range []string{k.a, k.b} {
					ip := netip.MustParseAddr(s)
					if !v4.Contains(ip) && !v6.Contains(ip) {
						t.Fatalf("address %v outside 10.1.0.0/16 and 2001:db8:1::/48", ip)
					}
					b := ip.AsSlice()
					if ip.Is6() && !bytes.Equal(b[6:14], make([]byte, 8)) {
						t.Fatalf("address %v differs from the /48 beyond its last 16 bits", ip)
					}
					low[uint16(b[len(b)-2])<<8|uint16(b[len(b)-1])] = true
				}
			}
			if len(low) < 500 {
				t.Errorf("%d distinct last 16 bits, want hundreds", len(low))
			}
		},
		"ports": func(t *testing.T, cfg Config, a analysis, _ []record) {
			pairs := map[[2]string]int{}
			for k := range a.flows {
				pairs[[2]string{k.a, k.b}]++
			}
			// 4 clients, 2 servers and the resolver, over IPv4 and IPv6.
			if len(pairs) > 2*4*3 {
				t.Errorf("%d host pairs, want at most 24", len(pairs))
			}
			if len(a.flows)/len(pairs) < 50 {
				t.Errorf("%d flows over %d host pairs, want many port pairs per host pair", len(a.flows), len(pairs))
			}
		},
		"ipv6": func(t *testing.T, cfg Config, a analysis, _ []record) {
			if share := float64(len(a.ipv6Flows)) / float64(len(a.flows)); share < 0.85 {
				t.Errorf("IPv6 share of flows %.3f, want about 0.9", share)
			}
		},
		"icmp": func(t *testing.T, cfg Config, a analysis, _ []record) {
			n := 0
			for k := range a.flows {
				if k.proto == protoICMP || k.proto == protoICMP6 {
					n++
				}
			}
			if share := float64(n) / float64(len(a.flows)); share < 0.7 {
				t.Errorf("ICMP share of flows %.3f, want about 0.8", share)
			}
		},
		"tiny": func(t *testing.T, _ Config, _ analysis, recs []record) {
			for i, r := range recs {
				if r.ci.Length != minFrame || r.ci.CaptureLength != minFrame {
					t.Fatalf("packet %d: %d bytes (%d captured), want %d", i+1, r.ci.Length, r.ci.CaptureLength, minFrame)
				}
			}
		},
	}
	for _, name := range shapeNames() {
		t.Run(name, func(t *testing.T) {
			check, ok := checks[name]
			if !ok {
				t.Fatalf("no check for shape %q", name)
			}
			cfg, err := ShapeConfig(name)
			if err != nil {
				t.Fatalf("ShapeConfig(%q) error:\n%+v", name, err)
			}
			cfg.Packets, cfg.Flows, cfg.Duration = cfg.Packets/20, cfg.Flows/20, 30*time.Second
			path, st := generate(t, cfg)
			recs := readTrace(t, path, defaultSnaplen)
			if len(recs) != cfg.Packets {
				t.Errorf("%d packets, want %d", len(recs), cfg.Packets)
			}
			a := analyseWith(t, recs, cfg.Tiny)
			if len(a.flows) != cfg.Flows || st.Flows != cfg.Flows {
				t.Errorf("%d flows decoded, %d reported, want %d", len(a.flows), st.Flows, cfg.Flows)
			}
			check(t, cfg, a, recs)
		})
	}
	if _, err := ShapeConfig("bogus"); err == nil || !strings.Contains(err.Error(), `unknown shape "bogus" (known: mix, clustered`) {
		t.Errorf("ShapeConfig(bogus) error %v", err)
	}
}

// TestShapeFlags: -shape sets the defaults wherever it is on the line, and
// the other flags adjust them.
func TestShapeFlags(t *testing.T) {
	dir := t.TempDir()
	gen := func(args ...string) string {
		t.Helper()
		path := filepath.Join(dir, strings.Join(args, "_")+".pcap")
		var stderr bytes.Buffer
		if code := run(append([]string{"-o", path}, args...), io.Discard, &stderr); code != 0 {
			t.Fatalf("run(%q) == %d:\n%s", args, code, stderr.String())
		}
		return sha(t, path)
	}
	a := gen("-shape", "clustered", "-packets", "4000", "-flows", "400")
	b := gen("-packets", "4000", "-shape", "clustered", "-flows", "400")
	c := gen("-packets", "4000", "-flows", "400", "-clustered")
	if a != b || a != c {
		t.Errorf("the same configuration gave different files: %s %s %s", a, b, c)
	}
	var stderr bytes.Buffer
	if code := run([]string{"-o", filepath.Join(dir, "x"), "-shape", "nope"}, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), `unknown shape "nope"`) {
		t.Errorf("run(-shape nope) == %d, stderr %q", code, stderr.String())
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		pos    string
		change func(*Config)
		want   string
	}{
		{"no clients", func(c *Config) { c.Clients = 0 }, "clients must be between 1 and 4096, not 0"},
		{"ports run out", func(c *Config) { c.Clients, c.Flows = 1, clientPorts+1 }, "1 clients have ports for at most 28232 flows, not 28233"},
		{"no servers", func(c *Config) { c.Servers = 763 }, "servers must be between 1 and 762, not 763"},
		{"tcp share", func(c *Config) { c.TCPShare = -1 }, "tcp share must be between 0 and 1, not -1"},
		{"dns share", func(c *Config) { c.TCPShare, c.DNSShare = 0.6, 0.5 }, "dns share must be between 0 and 1 - tcp share (0.4), not 0.5"},
	}
	for _, tc := range cases {
		t.Run(tc.pos, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.change(&cfg)
			if err := cfg.Validate(); err == nil || err.Error() != tc.want {
				t.Errorf("Validate() error %v, want %q", err, tc.want)
			}
		})
	}
}

// samples returns the repository's sample captures.
func samples(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../capture/testdata/pcaps/*.pcap")
	if err != nil || len(files) < 10 {
		t.Fatalf("sample captures: %v, %v", files, err)
	}
	return append(files, "../../packet/testdata/pcaps/tcpdump__of13_ericsson.pcapng")
}

// TestConcat concatenates the sample captures three times and reads the
// result back: every packet is there, in order, with its bytes after the
// link header unchanged, and times never decrease from one file to the
// next.
func TestConcat(t *testing.T) {
	files := samples(t)
	var want [][]byte // each packet's bytes after its link header
	for _, f := range files {
		s, err := readSample(f)
		if err != nil {
			t.Fatalf("readSample(%s) error:\n%+v", f, err)
		}
		for _, p := range s.packets {
			want = append(want, p.data[ethLen:])
		}
	}
	path := filepath.Join(t.TempDir(), "samples.pcap")
	var stderr bytes.Buffer
	if code := run(append([]string{"-o", path, "-concat", "-repeat", "3"}, files...), io.Discard, &stderr); code != 0 {
		t.Fatalf("run(-concat) == %d:\n%s", code, stderr.String())
	}
	recs := readTrace(t, path, defaultSnaplen)
	if len(recs) != 3*len(want) {
		t.Fatalf("%d packets, want %d", len(recs), 3*len(want))
	}
	for i, r := range recs {
		if !bytes.Equal(r.data[ethLen:], want[i%len(want)]) {
			t.Fatalf("packet %d differs after the Ethernet header", i+1)
		}
		if et := layers.EthernetType(uint16(r.data[12])<<8 | uint16(r.data[13])); i%len(want) == 0 && et == 0 {
			t.Errorf("packet %d: EtherType 0", i+1)
		}
	}
	// The raw IPv6 sample is framed as IPv6.
	raw, err := readSample("../../capture/testdata/pcaps/tcpdump__LINKTYPE_IPV6.pcap")
	if err != nil {
		t.Fatalf("readSample() error:\n%+v", err)
	}
	if d := raw.packets[0].data; d[12] != 0x86 || d[13] != 0xdd || d[ethLen]>>4 != 6 {
		t.Errorf("raw IPv6 packet framed as % x", d[:ethLen+1])
	}
	// Same arguments, same bytes.
	again := filepath.Join(t.TempDir(), "again.pcap")
	if code := run(append([]string{"-o", again, "-concat", "-repeat", "3"}, files...), io.Discard, io.Discard); code != 0 || sha(t, again) != sha(t, path) {
		t.Errorf("a second run (status %d) wrote different bytes", code)
	}
}

func TestConcatErrors(t *testing.T) {
	dir := t.TempDir()
	wifi := filepath.Join(dir, "wifi.pcap")
	f, err := os.Create(wifi)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeIEEE802_11); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(gopacketInfo(10), make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	empty := filepath.Join(dir, "empty.pcap")
	f, _ = os.Create(empty)
	_ = pcapgo.NewWriter(f).WriteFileHeader(65535, layers.LinkTypeEthernet)
	f.Close()
	out := filepath.Join(dir, "out.pcap")
	cases := []struct {
		pos  string
		args []string
		code int
		msg  string
	}{
		{"no files", []string{"-o", out, "-concat"}, 2, "-concat needs capture files"},
		{"bad repeat", []string{"-o", out, "-concat", "-repeat", "0", wifi}, 2, "-repeat must be between 1 and 1000000, not 0"},
		{"files without -concat", []string{"-o", out, wifi}, 2, "unexpected argument"},
		{"missing file", []string{"-o", out, "-concat", filepath.Join(dir, "nope.pcap")}, 1, "unable to read"},
		{"link type", []string{"-o", out, "-concat", wifi}, 1, "packet 1: link type 105 cannot be framed as Ethernet"},
		{"no packet", []string{"-o", out, "-concat", empty}, 1, "empty.pcap: no packet"},
		{"not a capture", []string{"-o", out, "-concat", "main.go"}, 1, "main.go:"},
	}
	for _, tc := range cases {
		t.Run(tc.pos, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(tc.args, io.Discard, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.msg) {
				t.Errorf("run(%q) == %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), tc.code, tc.msg)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("output left behind after a failure: %v", err)
			}
		})
	}
}

// gopacketInfo is the capture info of an n-byte packet at a fixed time.
func gopacketInfo(n int) gopacket.CaptureInfo {
	return gopacket.CaptureInfo{Timestamp: time.Unix(1e9, 0), CaptureLength: n, Length: n}
}
