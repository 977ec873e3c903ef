package meter

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// stampedReader hands out frames[i] stamped at[i], of wire length
// wire[i], and before each read calls seen with the number of packets
// handed out so far.
type stampedReader struct {
	frames [][]byte
	at     []time.Duration
	wire   []int
	seen   func(read int)
	i      int
}

func (r *stampedReader) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	r.seen(r.i)
	if r.i == len(r.frames) {
		return nil, gopacket.CaptureInfo{}, errEndOfTest
	}
	f, ts, wire := r.frames[r.i], time.Unix(1_700_000_000, 0).Add(r.at[r.i]), r.wire[r.i]
	r.i++
	return f, gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(f), Length: wire}, nil
}

// errEndOfTest ends a stampedReader's run.
var errEndOfTest = errors.New("end of the test's packets")

// TestRunPublishesTotals reads Stats between the packets of a Run: every
// total must be published after 64 packets, and after a packet stamped 10
// ms or more after the packet of the last publication, whichever comes
// first; never in between. Among the packets, non-IP frames and a
// truncated one change totals that most publications leave alone (only
// the totals that changed are stored again).
func TestRunPublishesTotals(t *testing.T) {
	ip := tcpFrame(t, 1, 2, 40000, 80, true, false)
	arp := make([]byte, 60)
	copy(arp[12:], []byte{0x08, 0x06})
	var frames [][]byte
	var at []time.Duration
	var wire []int
	stamp := time.Duration(0)
	for i := range 300 {
		f, w := ip, len(ip)
		switch {
		case i%7 == 3:
			f, w = arp, len(arp)
		case i == 151:
			w = len(ip) + 100 // captured short of the wire length
		}
		// A gap of 10 ms every 50 packets from packet 100 on, else 10 µs.
		if i >= 100 && i%50 == 0 {
			stamp += 10 * time.Millisecond
		} else {
			stamp += 10 * time.Microsecond
		}
		frames, at, wire = append(frames, f), append(at, stamp), append(wire, w)
	}
	m, err := New(Configuration{}, layers.LinkTypeEthernet, Sinks{})
	if err != nil {
		t.Fatal(err)
	}
	var want, pending Stats // what Stats must show, what was counted since
	lastAt, unpublished := time.Duration(-1<<62), 0
	r := &stampedReader{frames: frames, at: at, wire: wire}
	r.seen = func(read int) {
		if read > 0 {
			f := frames[read-1]
			pending.Packets++
			pending.Bytes += uint64(wire[read-1])
			if f[12] == 0x08 && f[13] == 0x06 {
				pending.NonIP++
			}
			if wire[read-1] > len(f) {
				pending.Truncated++
			}
			if unpublished++; unpublished == publishEvery || at[read-1] >= lastAt+time.Duration(publishGap) {
				want, unpublished, lastAt = pending, 0, at[read-1]
			}
		}
		if got := m.Stats(); got.Packets != want.Packets || got.Bytes != want.Bytes || got.NonIP != want.NonIP || got.Truncated != want.Truncated {
			t.Fatalf("after %d packets: Stats %+v, want packets %d, bytes %d, non-IP %d, truncated %d",
				read, got, want.Packets, want.Bytes, want.NonIP, want.Truncated)
		}
	}
	if err := m.Run(context.Background(), r); err != errEndOfTest {
		t.Fatalf("Run() = %v, want the reader's end", err)
	}
	if got := m.Stats(); got.Packets != 300 || got.NonIP != pending.NonIP || got.Truncated != 1 {
		t.Errorf("after Run: %+v, want 300 packets, %d non-IP, 1 truncated", got, pending.NonIP)
	}
}
