package meter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/cryptopan"
	"github.com/gimsproject/gims/transform/flow"
	"github.com/gimsproject/gims/transform/ipfix"
)

// fileReader adapts a pcapgo reader (no cgo) to Reader.
type fileReader struct{ r *pcapgo.Reader }

func (f fileReader) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	return f.r.ZeroCopyReadPacketData()
}

func openTestdata(t *testing.T, name string) fileReader {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return fileReader{r}
}

var testKey = [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}

// TestMeterConservation checks that every packet read is counted once by
// the meter, once by the counters and once in a flow, on real traces.
func TestMeterConservation(t *testing.T) {
	cases := []struct {
		file           string
		packets, flows int
	}{
		{"zeek__http-get.pcap", 14, 2}, // FIN from both sides ends the flow; the last ACK starts a second one
		{"zeek__communityid-ipv6.pcap", 17, 1},
		{"zeek__icmp_dot1q.pcap", 15, 0}, // flows: whatever the trace holds, checked by conservation
	}
	for _, tc := range cases {
		for _, anon := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/anonymize=%v", tc.file, anon), func(t *testing.T) {
				cfg := Configuration{Counters: &counters.Configuration{Interval: time.Second}, Flows: ptr(flow.DefaultConfiguration())}
				if anon {
					cfg.Key = &testKey
				}
				var intervals []counters.Record
				var flows []flow.Record
				r := openTestdata(t, tc.file)
				m, err := New(cfg, r.r.LinkType(), Sinks{
					Counters: func(c counters.Record) { intervals = append(intervals, c) },
					Flows:    func(f *flow.Record) { flows = append(flows, *f) },
				})
				if err != nil {
					t.Fatal(err)
				}
				if err := m.Run(context.Background(), r); err != nil {
					t.Fatal(err)
				}
				if err := m.Flush(); err != nil {
					t.Fatal(err)
				}
				st := m.Stats()
				if st.Packets != uint64(tc.packets) {
					t.Errorf("meter counted %d packets, want %d", st.Packets, tc.packets)
				}
				var inCounters, inFlows uint64
				for _, c := range intervals {
					inCounters += c.Packets
				}
				for _, f := range flows {
					inFlows += f.Packets + f.RevPackets
				}
				if inCounters != st.Packets {
					t.Errorf("counters hold %d packets, meter %d", inCounters, st.Packets)
				}
				if inFlows != st.Packets-st.NonIP {
					t.Errorf("flows hold %d packets, meter saw %d IP packets", inFlows, st.Packets-st.NonIP)
				}
				if tc.flows > 0 && len(flows) != tc.flows {
					t.Errorf("%d flows, want %d", len(flows), tc.flows)
				}
				if st.FlowsExported != uint64(len(flows)) {
					t.Errorf("stats say %d flows exported, sink got %d", st.FlowsExported, len(flows))
				}
			})
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestMeterAnonymizes checks that with a key every output sees only
// Crypto-PAn addresses, and that the caller's packet bytes are untouched.
func TestMeterAnonymizes(t *testing.T) {
	cipher, err := cryptopan.New(testKey[:])
	if err != nil {
		t.Fatal(err)
	}
	r := openTestdata(t, "zeek__http-get.pcap")
	var pcapOut bytes.Buffer
	w := pcapgo.NewWriterNanos(&pcapOut)
	if err := w.WriteFileHeader(65535, r.r.LinkType()); err != nil {
		t.Fatal(err)
	}
	var flows []flow.Record
	m, err := New(Configuration{Key: &testKey, Flows: ptr(flow.DefaultConfiguration())}, r.r.LinkType(), Sinks{
		Packets: w,
		Flows:   func(f *flow.Record) { flows = append(flows, *f) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var originals []netip.Addr
	for {
		data, ci, err := r.ZeroCopyReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		before := bytes.Clone(data)
		pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		ip := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		originals = append(originals, netip.AddrFrom4([4]byte(ip.SrcIP.To4())))
		m.Process(data, ci)
		if !bytes.Equal(before, data) {
			t.Fatal("Process modified the caller's packet")
		}
	}
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	pr, err := pcapgo.NewReader(&pcapOut)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		data, _, err := pr.ReadPacketData()
		if err == io.EOF {
			break
		}
		pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		ip := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		got := netip.AddrFrom4([4]byte(ip.SrcIP.To4()))
		if want := cipher.AnonymizeAddr(originals[i]); got != want {
			t.Errorf("packet %d: written source %v, want Crypto-PAn of %v = %v", i, got, originals[i], want)
		}
	}
	if len(flows) != 2 {
		t.Fatalf("%d flows, want 2 (the conversation and its last ACK)", len(flows))
	}
	if got, want := flows[0].Key.SrcAddr(), cipher.AnonymizeAddr(originals[0]); got != want {
		t.Errorf("flow source %v, want anonymized %v", got, want)
	}
}

// TestMeterPaused checks that a paused meter reads but does not count.
func TestMeterPaused(t *testing.T) {
	r := openTestdata(t, "zeek__http-get.pcap")
	m, err := New(Configuration{Counters: &counters.Configuration{Interval: time.Second}}, r.r.LinkType(), Sinks{})
	if err != nil {
		t.Fatal(err)
	}
	m.SetPaused(true, time.Unix(0, 0)) // before every packet of the file
	if err := m.Run(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if st := m.Stats(); st.Packets != 0 {
		t.Errorf("paused meter counted %d packets", st.Packets)
	}
}

// TestMeterCancel checks that Run returns the context's error.
func TestMeterCancel(t *testing.T) {
	r := openTestdata(t, "zeek__http-get.pcap")
	m, err := New(Configuration{}, r.r.LinkType(), Sinks{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Run(ctx, r); err != context.Canceled {
		t.Errorf("Run on a cancelled context returned %v", err)
	}
}

// cancellingReader is an endless source that cancels its context when it
// hands out packet at.
type cancellingReader struct {
	scriptReader
	at     int
	cancel context.CancelFunc
}

func (r *cancellingReader) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	if r.i == r.at {
		r.cancel()
	}
	return r.scriptReader.ZeroCopyReadPacketData()
}

// TestMeterCancelWhileRunning checks that Run stops with the context's
// error when the context is cancelled while packets keep coming (the
// flag context.AfterFunc raises, read before every packet), after the
// packets read so far, and that the flow table is left consistent.
func TestMeterCancelWhileRunning(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m, err := New(Configuration{Flows: ptr(flow.DefaultConfiguration())}, layers.LinkTypeEthernet, Sinks{})
	if err != nil {
		t.Fatal(err)
	}
	r := &cancellingReader{scriptReader: scriptReader{n: -1}, at: 100, cancel: cancel}
	if err := m.Run(ctx, r); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run() = %v, want context.Canceled", err)
	}
	if st := m.Stats(); st.Packets < 100 || st.Packets != uint64(r.i) {
		t.Errorf("Stats().Packets = %d after %d packets read, want all of them and at least 100", st.Packets, r.i)
	}
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
}

// synthetic builds n Ethernet/IPv4 or IPv6 TCP/UDP frames over nflows
// flows, for the pipeline benchmark.
func synthetic(n, nflows int) ([][]byte, []gopacket.CaptureInfo) {
	rng := rand.New(rand.NewPCG(1, 2))
	frames := make([][]byte, n)
	cis := make([]gopacket.CaptureInfo, n)
	start := time.Unix(1_700_000_000, 0)
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	for i := range frames {
		f := rng.IntN(nflows)
		eth := &layers.Ethernet{SrcMAC: []byte{0, 1, 2, 3, 4, 5}, DstMAC: []byte{6, 7, 8, 9, 10, 11}}
		var net gopacket.NetworkLayer
		src := []byte{10, byte(f >> 16), byte(f >> 8), byte(f)}
		dst := []byte{192, 0, 2, byte(f)}
		payload := gopacket.Payload(make([]byte, []int{6, 512, 1400}[rng.IntN(3)]))
		if f%4 == 0 {
			eth.EthernetType = layers.EthernetTypeIPv6
			s16 := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: src[0], 13: src[1], 14: src[2], 15: src[3]}).AsSlice()
			d16 := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 1, 15: dst[3]}).AsSlice()
			net = &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: s16, DstIP: d16}
		} else {
			eth.EthernetType = layers.EthernetTypeIPv4
			net = &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
		}
		tcp := &layers.TCP{SrcPort: layers.TCPPort(1024 + f%50000), DstPort: 443, ACK: true, Seq: uint32(i)}
		_ = tcp.SetNetworkLayerForChecksum(net)
		if err := gopacket.SerializeLayers(buf, opts, eth, net.(gopacket.SerializableLayer), tcp, payload); err != nil {
			panic(err)
		}
		frames[i] = bytes.Clone(buf.Bytes())
		cis[i] = gopacket.CaptureInfo{Timestamp: start.Add(time.Duration(i) * time.Microsecond), CaptureLength: len(frames[i]), Length: len(frames[i])}
	}
	return frames, cis
}

// discardWriter is a PacketWriter that drops the packets.
type discardWriter struct{}

func (discardWriter) WritePacket(gopacket.CaptureInfo, []byte) error { return nil }

// BenchmarkMeter measures the whole capture path per packet: decode,
// (anonymize), counters, flows and IPFIX encoding to a discarded file.
// "anonymized" has no packet sink, so only flow records are anonymized;
// "anonymized, packets written" rewrites every packet (a copy of it, since
// Process does not modify its input) for a discarded packet sink.
func BenchmarkMeter(b *testing.B) {
	frames, cis := synthetic(1<<16, 4096)
	for _, mode := range []string{"plain", "anonymized", "anonymized, packets written"} {
		cfg := Configuration{Counters: &counters.Configuration{Interval: time.Second}, Flows: ptr(flow.DefaultConfiguration())}
		var packets PacketWriter
		if mode != "plain" {
			cfg.Key = &testKey
		}
		if mode == "anonymized, packets written" {
			packets = discardWriter{}
		}
		b.Run(mode, func(b *testing.B) {
			exp, err := ipfix.New(ipfix.DefaultConfiguration(), ipfix.NewFileTransport(io.Discard))
			if err != nil {
				b.Fatal(err)
			}
			m, err := New(cfg, layers.LinkTypeEthernet, Sinks{Packets: packets, Flows: func(r *flow.Record) { _ = exp.Add(r) }})
			if err != nil {
				b.Fatal(err)
			}
			// Warm up: every flow exists, caches are filled.
			for i := range frames {
				m.Process(frames[i], cis[i])
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				j := i & (len(frames) - 1)
				ci := cis[j]
				ci.Timestamp = ci.Timestamp.Add(time.Duration(i>>16) * 70 * time.Millisecond)
				m.Process(frames[j], ci)
			}
		})
	}
}
