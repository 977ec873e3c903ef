package meter

import (
	"context"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"github.com/gimsproject/gims/packet"
	"github.com/gimsproject/gims/transform/cryptopan"
	"github.com/gimsproject/gims/transform/flow"
)

// TestKeyedFlowsInOrder checks the records of a keyed meter, which are
// anonymized flowBatch at a time (drainFlows): the Flows sink gets the
// records of the meter without a key, in the same order, with their
// addresses mapped as KeepReserved of the cipher maps them; none is
// still waiting when Process returns, nor after Run and Flush. Flows end
// during the packets (idle timeout) and at the Flush, many more than a
// batch of each, with and without a packet sink.
func TestKeyedFlowsInOrder(t *testing.T) {
	frames, cis := synthetic(20000, 3000)
	c, err := cryptopan.New(testKey[:])
	if err != nil {
		t.Fatal(err)
	}
	anon := packet.KeepReserved(c)
	fcfg := flow.DefaultConfiguration()
	fcfg.IdleTimeout = 2 * time.Millisecond // 2000 packets
	newMeter := func(key bool, packets PacketWriter, sink *[]flow.Record) *Meter {
		cfg := Configuration{Flows: &fcfg}
		if key {
			cfg.Key = &testKey
		}
		m, err := New(cfg, layers.LinkTypeEthernet, Sinks{Packets: packets, Flows: func(r *flow.Record) { *sink = append(*sink, *r) }})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	check := func(t *testing.T, plain, keyed []flow.Record) {
		t.Helper()
		if len(keyed) != len(plain) {
			t.Fatalf("keyed meter exported %d flows, plain %d", len(keyed), len(plain))
		}
		for i := range plain {
			want := plain[i]
			k := &want.Key
			if k.IPVersion == 4 {
				*(*[4]byte)(k.Src[:4]) = anon.Anonymize4([4]byte(k.Src[:4]))
				*(*[4]byte)(k.Dst[:4]) = anon.Anonymize4([4]byte(k.Dst[:4]))
			} else {
				k.Src, k.Dst = anon.Anonymize16(k.Src), anon.Anonymize16(k.Dst)
			}
			if keyed[i] != want {
				t.Fatalf("flow %d: keyed %+v, want %+v", i, keyed[i], want)
			}
		}
	}
	for _, withPackets := range []bool{false, true} {
		var packets PacketWriter
		if withPackets {
			packets = discardWriter{}
		}
		t.Run("Process/packets="+map[bool]string{false: "no", true: "yes"}[withPackets], func(t *testing.T) {
			var plain, keyed []flow.Record
			mp, mk := newMeter(false, nil, &plain), newMeter(true, packets, &keyed)
			for i := range frames {
				mp.Process(frames[i], cis[i])
				mk.Process(frames[i], cis[i])
				if len(keyed) != len(plain) {
					t.Fatalf("after packet %d: the keyed meter's sink has %d flows, the plain one's %d", i, len(keyed), len(plain))
				}
			}
			during := len(plain)
			if err := mp.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := mk.Flush(); err != nil {
				t.Fatal(err)
			}
			if during < 4*flowBatch || len(plain)-during < 4*flowBatch {
				t.Fatalf("%d flows ended during the packets, %d at the Flush: want more than %d of each", during, len(plain)-during, 4*flowBatch)
			}
			check(t, plain, keyed)
		})
		t.Run("Run/packets="+map[bool]string{false: "no", true: "yes"}[withPackets], func(t *testing.T) {
			var plain, keyed []flow.Record
			mp, mk := newMeter(false, nil, &plain), newMeter(true, packets, &keyed)
			for _, m := range []*Meter{mp, mk} {
				r := &sliceReader{}
				for i := range frames {
					r.pkts = append(r.pkts, fuzzPacket{data: frames[i], ci: cis[i]})
				}
				if err := m.Run(context.Background(), r); err != nil {
					t.Fatal(err)
				}
			}
			if len(keyed) != len(plain) {
				t.Fatalf("after Run: the keyed meter's sink has %d flows, the plain one's %d", len(keyed), len(plain))
			}
			if err := mp.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := mk.Flush(); err != nil {
				t.Fatal(err)
			}
			check(t, plain, keyed)
		})
	}
}
