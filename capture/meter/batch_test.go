package meter

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/flow"
)

// manyFlowPackets returns n Ethernet/IPv4/UDP frames over flows
// conversations (both directions), a millisecond apart, every 97th one a
// fragment of its flow's datagram (first or later).
func manyFlowPackets(n, flows int) []fuzzPacket {
	rnd := rand.New(rand.NewPCG(14, 2))
	pkts := make([]fuzzPacket, n)
	ts := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range pkts {
		f := rnd.IntN(flows)
		b := make([]byte, 14+20+8+4)
		b[12], b[13] = 0x08, 0x00
		ip := b[14:]
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
		binary.BigEndian.PutUint16(ip[4:], uint16(f))
		ip[8], ip[9] = 64, 17
		src := [4]byte{10, byte(f >> 16), byte(f >> 8), byte(f)}
		dst := [4]byte{192, 0, 2, 1}
		sp, dp := uint16(1024+f%50000), uint16(53)
		if rnd.IntN(2) == 0 {
			src, dst, sp, dp = dst, src, dp, sp
		}
		copy(ip[12:16], src[:])
		copy(ip[16:20], dst[:])
		if i%97 == 0 {
			ip[6] = 0x20 // more fragments
			if i%194 == 0 {
				binary.BigEndian.PutUint16(ip[6:], 0x2000|185) // a later one
			}
		}
		binary.BigEndian.PutUint16(ip[20:], sp)
		binary.BigEndian.PutUint16(ip[22:], dp)
		binary.BigEndian.PutUint16(ip[24:], 12)
		ts = ts.Add(time.Millisecond)
		pkts[i] = fuzzPacket{data: b, ci: gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(b), Length: len(b)}}
	}
	return pkts
}

// TestBatchedMatchesOneByOne runs packets over enough flows that the flow
// table's index outgrows the cache (flow.Table.Prefetching), so that Run
// prepares each batch from a BatchReader and prefetches its slots, through
// a meter fed one packet at a time and one fed in batches, with and
// without a key and a packet sink: the written packets, flows, counters
// and totals are the same.
func TestBatchedMatchesOneByOne(t *testing.T) {
	pkts := manyFlowPackets(200_000, 60_000)
	type result struct {
		w     fuzzWriter
		flows []flow.Record
		ctrs  []counters.Record
		stats Stats
	}
	for _, key := range []bool{false, true} {
		run := func(r Reader) (res result, prefetching bool) {
			cfg := Configuration{Counters: &counters.Configuration{Interval: time.Second}, Flows: ptr(flow.DefaultConfiguration())}
			cfg.Flows.IdleTimeout = 100 * time.Second
			cfg.Flows.MaxFlows = 40_000 // evictions too
			if key {
				cfg.Key = &testKey
			}
			m, err := New(cfg, layers.LinkTypeEthernet, Sinks{
				Packets:  &res.w,
				Counters: func(r counters.Record) { res.ctrs = append(res.ctrs, r) },
				Flows:    func(r *flow.Record) { res.flows = append(res.flows, *r) },
			})
			if err != nil {
				t.Fatalf("New() error:\n%+v", err)
			}
			if err := m.Run(context.Background(), r); err != nil {
				t.Fatalf("Run() error:\n%+v", err)
			}
			prefetching = m.flows.Prefetching()
			if err := m.Flush(); err != nil {
				t.Fatal(err)
			}
			res.stats = m.Stats()
			return res, prefetching
		}
		want, _ := run(&sliceReader{pkts: pkts})
		br := &batchReader{sliceReader: sliceReader{pkts: pkts}}
		got, prefetching := run(br)
		if !prefetching {
			t.Fatal("the flow table did not reach the size where Run prefetches: the test tests nothing")
		}
		if !reflect.DeepEqual(got.w, want.w) {
			t.Errorf("key %v: %d packets written from batches, %d one by one, or they differ", key, len(got.w.packets), len(want.w.packets))
		}
		if !reflect.DeepEqual(got.flows, want.flows) {
			t.Errorf("key %v: %d flows from batches, %d one by one, or they differ", key, len(got.flows), len(want.flows))
		}
		if !reflect.DeepEqual(got.ctrs, want.ctrs) || got.stats != want.stats {
			t.Errorf("key %v: counters or totals differ: %+v, want %+v", key, got.stats, want.stats)
		}
		if want.stats.Fragments == 0 || len(want.flows) < 60_000 {
			t.Errorf("key %v: %+v, %d flows: the stream should have fragments and evictions", key, want.stats, len(want.flows))
		}
	}
}
