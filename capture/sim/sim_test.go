package sim

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"

	"github.com/gimsproject/gims/capture"
)

// read returns the next n packets of g (copies), skipping the ticks
// without one.
func read(t *testing.T, g capture.Generator, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for len(out) < n {
		data, ci, err := g.ReadPacket()
		if errors.Is(err, capture.ErrTimeout) {
			continue
		}
		if err != nil {
			t.Fatalf("packet %d: %v", len(out), err)
		}
		if ci.CaptureLength != len(data) || ci.Length < len(data) || ci.Timestamp.IsZero() {
			t.Fatalf("packet %d: capture info %+v for %d bytes", len(out), ci, len(data))
		}
		out = append(out, bytes.Clone(data))
	}
	return out
}

// reserialize builds the frame again from its decoded layers with
// gopacket computing lengths and checksums: a valid frame comes back
// byte for byte.
func reserialize(t *testing.T, p gopacket.Packet) []byte {
	t.Helper()
	ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	var ls []gopacket.SerializableLayer
	ls = append(ls, p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet), ip)
	switch l4 := p.TransportLayer().(type) {
	case *layers.TCP:
		l4.SetNetworkLayerForChecksum(ip)
		ls = append(ls, l4)
	case *layers.UDP:
		l4.SetNetworkLayerForChecksum(ip)
		ls = append(ls, l4)
	default:
		t.Fatalf("transport layer %T", l4)
	}
	ls = append(ls, gopacket.Payload(p.TransportLayer().LayerPayload()))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGeneratorFrames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flows int
	}{
		{"one flow", 1},
		{"default flows", 8},
		{"many flows", 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfiguration()
			cfg.Tick, cfg.PPS, cfg.Flows = time.Millisecond, 100000, tc.flows
			p, err := NewPacer(cfg)
			if err != nil {
				t.Fatal(err)
			}
			g := p.NewGenerator(7, 0)
			defer g.Close()
			frames := read(t, g, 4*tc.flows)
			type key struct {
				a, b  string
				proto layers.IPProtocol
			}
			dirs := map[key]int{} // packets per direction of each flow
			var tcp, udp int
			for i, f := range frames {
				pk := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
				if el := pk.ErrorLayer(); el != nil {
					t.Fatalf("frame %d does not decode: %v", i, el.Error())
				}
				if got := reserialize(t, pk); !bytes.Equal(got, f) {
					t.Fatalf("frame %d: lengths or checksums wrong:\n got %x\nwant %x", i, f, got)
				}
				ip := pk.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
				dirs[key{ip.SrcIP.String(), ip.DstIP.String(), ip.Protocol}]++
				switch ip.Protocol {
				case layers.IPProtocolTCP:
					tcp++
				case layers.IPProtocolUDP:
					udp++
				}
			}
			// Every flow in both directions, evenly.
			if len(dirs) != 2*tc.flows {
				t.Errorf("%d directed flows, want %d: %v", len(dirs), 2*tc.flows, dirs)
			}
			for k, n := range dirs {
				if n != 2 {
					t.Errorf("direction %v: %d packets, want 2", k, n)
				}
			}
			if tc.flows > 1 && (tcp == 0 || udp == 0) {
				t.Errorf("%d TCP and %d UDP packets: want both", tcp, udp)
			}
		})
	}
}

func TestGeneratorSnaplenAndClose(t *testing.T) {
	cfg := DefaultConfiguration()
	cfg.Tick, cfg.PPS = time.Millisecond, 100000
	p, err := NewPacer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := p.NewGenerator(1, 64)
	for {
		data, ci, err := g.ReadPacket()
		if errors.Is(err, capture.ErrTimeout) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 64 || ci.CaptureLength != len(data) || ci.Length <= 64 && ci.Length != len(data) {
			t.Fatalf("snaplen 64: %d bytes captured, capture info %+v", len(data), ci)
		}
		if ci.Length > 64 {
			break
		}
	}
	g.Close()
	g.Close() // twice is harmless
	if _, _, err := g.ReadPacket(); !errors.Is(err, io.EOF) {
		t.Fatalf("after Close: %v, want io.EOF", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open != 0 || p.stop != nil {
		t.Errorf("after the last generator closed: %d open, tick running %v", p.open, p.stop != nil)
	}
}

// TestSourceFilter: a compiled BPF filter applies to generated packets
// (in Go, without a libpcap handle).
func TestSourceFilter(t *testing.T) {
	cfg := DefaultConfiguration()
	cfg.Tick, cfg.PPS = time.Millisecond, 100000
	p, err := NewPacer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := p.Source(3, 0)
	defer src.Close()
	insns, err := pcap.CompileBPFFilter(LinkType, src.Snaplen(), "tcp and dst port 443")
	if err != nil {
		t.Fatal(err)
	}
	if err := src.SetFilter("tcp and dst port 443", insns); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < 20; {
		data, _, err := src.ZeroCopyReadPacketData()
		if errors.Is(err, capture.ErrTimeout) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		pk := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		tcp, ok := pk.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok || tcp.DstPort != 443 {
			t.Fatalf("packet %d passed the filter: %v", n, pk)
		}
		n++
	}
}

func TestConfigurationValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Configuration)
		bad  string
	}{
		{"default", func(*Configuration) {}, ""},
		{"no packets", func(c *Configuration) { c.PPS = 0 }, "PPS"},
		{"tick too short", func(c *Configuration) { c.Tick = time.Microsecond }, "Tick"},
		{"no flows", func(c *Configuration) { c.Flows = 0 }, "Flows"},
		{"too many flows", func(c *Configuration) { c.Flows = 1000 }, "Flows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfiguration()
			tc.mod(&c)
			_, err := NewPacer(c)
			if tc.bad == "" && err != nil || tc.bad != "" && (err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.bad))) {
				t.Errorf("NewPacer = %v, want an error naming %q", err, tc.bad)
			}
		})
	}
}
