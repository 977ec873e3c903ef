package meter

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/gimsproject/gims/packet"
	"github.com/gimsproject/gims/transform/flow"
)

// tcpFrame builds an Ethernet/IPv4/TCP frame from 10.0.0.<a>:<ap> to
// 10.0.0.<b>:<bp> with the given flags.
func tcpFrame(t *testing.T, a, b byte, ap, bp uint16, syn, rst bool) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: []byte{0, 1, 2, 3, 4, 5}, DstMAC: []byte{6, 7, 8, 9, 10, 11}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: []byte{10, 0, 0, a}, DstIP: []byte{10, 0, 0, b}}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(ap), DstPort: layers.TCPPort(bp), SYN: syn, RST: rst, ACK: !syn}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// lateReader hands out frames, then err (io.EOF or a timeout after which
// it calls then and returns io.EOF).
type lateReader struct {
	frames [][]byte
	i      int
	err    error
	then   func()
	start  time.Time // the first packet's time
}

func (r *lateReader) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	if r.i < len(r.frames) {
		f := r.frames[r.i]
		r.i++
		ts := r.start.Add(time.Duration(r.i) * time.Millisecond)
		return f, gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(f), Length: len(f)}, nil
	}
	if r.i == len(r.frames) {
		r.i++
		return nil, gopacket.CaptureInfo{}, r.err
	}
	if r.then != nil {
		r.then()
	}
	return nil, gopacket.CaptureInfo{}, io.EOF
}

// TestRunAddsPendingPackets: Run gives the flow table its packets a
// couple of packets late (flow.Table.AddLate); the last ones must still
// be in the flows when Run returns (without a Flush) and when a live
// source's read timeout publishes the totals. The run's last packet is an
// RST, which ends its flow at once: a meter that left it pending would
// show no flow exported.
func TestRunAddsPendingPackets(t *testing.T) {
	frames := [][]byte{
		tcpFrame(t, 1, 2, 40000, 80, true, false),
		tcpFrame(t, 3, 4, 40001, 443, true, false),
		tcpFrame(t, 2, 1, 80, 40000, false, false),
		tcpFrame(t, 1, 2, 40000, 80, false, true), // RST: the flow ends
	}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"end of file", io.EOF},
		{"read timeout", packet.ErrTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []flow.Record
			cfg := flow.DefaultConfiguration()
			cfg.IdleTimeout = 1000 * time.Hour // Advance must not expire the other flow
			cfg.ActiveTimeout = 1000 * time.Hour
			m, err := New(Configuration{Flows: &cfg}, layers.LinkTypeEthernet, Sinks{Flows: func(r *flow.Record) { got = append(got, *r) }})
			if err != nil {
				t.Fatal(err)
			}
			// Packets of a minute ago: the timeout's Advance (to the wall
			// clock) expires none of them.
			r := &lateReader{frames: frames, err: tc.err, start: time.Now().Add(-time.Minute)}
			var atTimeout Stats
			var flowsAtTimeout int
			r.then = func() { atTimeout, flowsAtTimeout = m.Stats(), len(got) }
			if err := m.Run(context.Background(), r); err != nil && !errors.Is(err, io.EOF) {
				t.Fatalf("Run() error:\n%+v", err)
			}
			st := m.Stats()
			if st.Packets != 4 || st.FlowsExported != 1 || len(got) != 1 {
				t.Fatalf("after Run: %d packets, %d flows exported (%d records), want 4 and 1", st.Packets, st.FlowsExported, len(got))
			}
			if r := got[0]; r.EndReason != flow.EndOfFlow || r.Packets != 2 || r.RevPackets != 1 {
				t.Errorf("record %+v, want the RST-ended flow with 2 + 1 packets", r)
			}
			if tc.err == packet.ErrTimeout && (atTimeout.FlowsExported != 1 || flowsAtTimeout != 1) {
				t.Errorf("after the timeout: %d flows exported, %d records, want 1", atTimeout.FlowsExported, flowsAtTimeout)
			}
			// The flow of 10.0.0.3 is still open: Flush ends it.
			if err := m.Flush(); err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[1].EndReason != flow.EndForced {
				t.Errorf("after Flush: %d records, want the open flow forced out second", len(got))
			}
		})
	}
}
