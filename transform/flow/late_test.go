package flow

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gimsproject/gims/packet"
)

// TestAddLateMatchesAdd drives two tables with the same packets, one
// through Add and one through AddLate, with Expire, Stats, Len and Flush
// between them as a meter calls them: the records, their order and the
// counters must be the same (AddLate only delays each packet to the next
// call), with fragments, non-IP packets, TCP ends, timeouts, evictions and
// out-of-order times from the property test's generator.
func TestAddLateMatchesAdd(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(seed, 0x243f6a8885a308d3))
			cfg := Configuration{
				ActiveTimeout: time.Duration(1+rnd.IntN(120)) * time.Second,
				IdleTimeout:   time.Duration(1+rnd.IntN(60)) * time.Second,
				Biflow:        rnd.IntN(3) != 0,
				MaxFlows:      1 + rnd.IntN(200),
			}
			ref, tbl, now, late := twinTables(t, cfg)
			g := gen{now: base}
			var s packet.Summary
			for i := range 5000 {
				g.next(&s, rnd.Uint64)
				ref.Add(&s)
				tbl.AddLate(&s)
				s = packet.Summary{} // AddLate keeps nothing of s
				switch i % 211 {
				case 7:
					at := g.now.Add(time.Duration(rnd.IntN(30)) * time.Second)
					ref.Expire(at)
					tbl.Expire(at)
				case 50:
					if a, b := ref.Stats(), tbl.Stats(); a != b {
						t.Fatalf("packet %d: stats through Add %+v, through AddLate %+v", i, a, b)
					}
				case 100:
					if a, b := ref.Len(), tbl.Len(); a != b {
						t.Fatalf("packet %d: %d flows through Add, %d through AddLate", i, a, b)
					}
				case 150:
					ref.Flush()
					tbl.Flush()
				}
				if i%250 == 0 {
					tbl.Sync() // checkInvariants reads the structure, then Len
					checkInvariants(t, tbl)
				}
			}
			ref.Flush()
			tbl.Flush()
			checkInvariants(t, tbl)
			compareRecords(t, "through Add", *now, "through AddLate", *late)
			if a, b := ref.Stats(), tbl.Stats(); a != b {
				t.Errorf("stats through Add %+v, through AddLate %+v", a, b)
			}
		})
	}
}

// TestAddLateLargeTable: AddLate across the growth of the index and the
// slab's move off the heap (its prefetch then aims at arrays being
// replaced), evictions and reuse after a Flush gives Add's records.
func TestAddLateLargeTable(t *testing.T) {
	cfg := Configuration{ActiveTimeout: 40 * time.Second, IdleTimeout: 20 * time.Second, Biflow: true, MaxFlows: 100_000}
	ref, tbl, now, late := twinTables(t, cfg)
	rnd := rand.New(rand.NewPCG(16, 17))
	ts := base
	feed := func(packets, flows int) {
		var s packet.Summary
		for range packets {
			f := rnd.IntN(flows)
			s = packet.Summary{IPVersion: 4, Proto: 6, HasPorts: true, IPLen: 40 + f%100, TCPFlags: 0x10}
			if rnd.IntN(1000) == 0 {
				s.TCPFlags = 0x04 // RST: the flow ends
			}
			s.Src[0], s.Src[1], s.Src[2], s.Src[3] = 10, byte(f>>16), byte(f>>8), byte(f)
			s.Dst[0], s.Dst[3] = 192, 1
			s.SrcPort, s.DstPort = uint16(1024+f%50000), 443
			if rnd.IntN(2) == 0 {
				s.Src, s.Dst = s.Dst, s.Src
				s.SrcPort, s.DstPort = s.DstPort, s.SrcPort
			}
			ts = ts.Add(time.Duration(rnd.IntN(200)) * time.Microsecond)
			s.Timestamp = ts
			ref.Add(&s)
			tbl.AddLate(&s)
		}
	}
	feed(300_000, 150_000)
	tbl.Sync()
	checkInvariants(t, tbl)
	ref.Flush()
	tbl.Flush()
	feed(50_000, 20_000)
	ref.Flush()
	tbl.Flush()
	compareRecords(t, "through Add", *now, "through AddLate", *late)
	if a, b := ref.Stats(), tbl.Stats(); a != b {
		t.Errorf("stats through Add %+v, through AddLate %+v", a, b)
	}
	if st := tbl.Stats(); st.Evicted == 0 {
		t.Errorf("stats %+v: the test should see evictions", st)
	}
}

// compareRecords fails t at the first record where got and want differ.
func compareRecords(t *testing.T, wantName string, want []string, gotName string, got []string) {
	t.Helper()
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("record %d %s:\n%s\n%s:\n%s", i, wantName, want[i], gotName, got[i])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d records %s, %d %s", len(want), wantName, len(got), gotName)
	}
}

// TestAddLateKeyOrder: AddLate orders and hashes the key in registers
// (not through canonical and hash as Add does), so every case of the
// ordering must give Add's flows: addresses that differ only in their
// high or low 8 bytes, equal addresses ordered by port, ICMP echo replies
// (mapped to the request, ports never swapped), IPv4 and IPv6, VLANs, in
// biflow and uni-flow tables. In a biflow table each conversation is one
// record, both ways.
func TestAddLateKeyOrder(t *testing.T) {
	conversations := [][2]pk{
		{{src: "10.0.0.2:5000", dst: "10.0.0.1:80", proto: 17}, {src: "10.0.0.1:80", dst: "10.0.0.2:5000", proto: 17}},
		{{src: "10.0.0.1:81", dst: "10.0.0.2:5001", proto: 17}, {src: "10.0.0.2:5001", dst: "10.0.0.1:81", proto: 17}},
		{{src: "192.168.1.1:9", dst: "10.9.9.9:7", proto: protoTCP, flags: syn}, {src: "10.9.9.9:7", dst: "192.168.1.1:9", proto: protoTCP, flags: synack}},
		{{src: "10.0.0.7:443", dst: "10.0.0.7:1025", proto: protoTCP, flags: syn}, {src: "10.0.0.7:1025", dst: "10.0.0.7:443", proto: protoTCP, flags: synack}},
		{{src: "10.0.0.7:53", dst: "10.0.0.7:53", proto: 17, vlan: 12}, {src: "10.0.0.7:53", dst: "10.0.0.7:53", proto: 17, vlan: 12}},
		{{src: "10.0.0.9", dst: "10.0.0.3", proto: protoICMP, icmp: icmpEchoRequest << 8}, {src: "10.0.0.3", dst: "10.0.0.9", proto: protoICMP, icmp: icmpEchoReply << 8}},
		{{src: "10.0.0.3", dst: "10.0.0.9", proto: protoICMP, icmp: icmpEchoRequest<<8 | 1}, {src: "10.0.0.9", dst: "10.0.0.3", proto: protoICMP, icmp: icmpEchoReply<<8 | 1}},
		{{src: "10.0.0.3", dst: "10.0.0.3", proto: protoICMP, icmp: 3<<8 | 1}, {src: "10.0.0.3", dst: "10.0.0.3", proto: protoICMP, icmp: 3<<8 | 1}},
		{{src: "[2001:db8::2]:4000", dst: "[2001:db8::1]:22", proto: protoTCP, flags: syn}, {src: "[2001:db8::1]:22", dst: "[2001:db8::2]:4000", proto: protoTCP, flags: synack}},
		{{src: "[2001:db8:0:1::1]:4000", dst: "[2001:db8::ffff]:22", proto: 17}, {src: "[2001:db8::ffff]:22", dst: "[2001:db8:0:1::1]:4000", proto: 17}},
		{{src: "[2001:db8::5]:6000", dst: "[2001:db8::5]:5000", proto: 17, vlan: 3}, {src: "[2001:db8::5]:5000", dst: "[2001:db8::5]:6000", proto: 17, vlan: 3}},
		{{src: "2001:db8::1", dst: "2001:db8::a", proto: protoICMPv6, icmp: icmpv6EchoRequest << 8}, {src: "2001:db8::a", dst: "2001:db8::1", proto: protoICMPv6, icmp: icmpv6EchoReply << 8}},
		{{src: "2001:db8::a", dst: "2001:db8::1", proto: protoICMPv6, icmp: icmpv6EchoRequest<<8 | 2}, {src: "2001:db8::1", dst: "2001:db8::a", proto: protoICMPv6, icmp: icmpv6EchoReply<<8 | 2}},
		{{src: "10.1.1.1", dst: "10.1.1.2", proto: 47, noPorts: true}, {src: "10.1.1.2", dst: "10.1.1.1", proto: 47, noPorts: true}},
	}
	for _, biflow := range []bool{true, false} {
		t.Run(fmt.Sprintf("biflow %v", biflow), func(t *testing.T) {
			cfg := DefaultConfiguration()
			cfg.Biflow = biflow
			ref, tbl, now, late := twinTables(t, cfg)
			var at time.Duration
			for _, c := range conversations {
				for _, p := range c {
					at += time.Millisecond
					p.t, p.ipLen = at, 100
					s := p.build(t)
					ref.Add(&s)
					tbl.AddLate(&s)
				}
			}
			if biflow && tbl.Len() != len(conversations) {
				t.Errorf("%d flows through AddLate, want one per conversation (%d)", tbl.Len(), len(conversations))
			}
			ref.Flush()
			tbl.Flush()
			compareRecords(t, "through Add", *now, "through AddLate", *late)
		})
	}
}

// twinTables makes two tables of cfg, one for Add and one for AddLate, and
// the lists their exported records are shown into.
func twinTables(t *testing.T, cfg Configuration) (ref, late *Table, refOut, lateOut *[]string) {
	t.Helper()
	refOut, lateOut = new([]string), new([]string)
	ref, err := New(cfg, func(r *Record) { *refOut = append(*refOut, show(r)) })
	if err != nil {
		t.Fatal(err)
	}
	late, err = New(cfg, func(r *Record) { *lateOut = append(*lateOut, show(r)) })
	if err != nil {
		t.Fatal(err)
	}
	return ref, late, refOut, lateOut
}
