package flow

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/gimsproject/gims/packet"
)

// udpSummary returns a UDP packet from 10.(n>>16).(n>>8).n:1000 to
// 192.0.2.1:53, n numbering flows.
func udpSummary(n uint32, ts time.Time) packet.Summary {
	s := packet.Summary{
		Timestamp: ts, WireLen: 114, CapLen: 114,
		IPVersion: 4, IPLen: 100, Proto: 17,
		HasPorts: true, SrcPort: 1000, DstPort: 53,
	}
	binary.BigEndian.PutUint32(s.Src[:4], 10<<24|n)
	s.Dst[0], s.Dst[1], s.Dst[2], s.Dst[3] = 192, 0, 2, 1
	return s
}

func TestAllocsSteadyState(t *testing.T) {
	cases := []struct {
		name string
		step func(tbl *Table, s *packet.Summary, i uint32)
	}{
		{"existing flow, both directions", func(tbl *Table, s *packet.Summary, i uint32) {
			s.Timestamp = s.Timestamp.Add(time.Millisecond)
			s.Src, s.Dst = s.Dst, s.Src
			s.SrcPort, s.DstPort = s.DstPort, s.SrcPort
			tbl.Add(s)
		}},
		{"new flow per packet, idle expiry", func(tbl *Table, s *packet.Summary, i uint32) {
			s.Timestamp = s.Timestamp.Add(time.Millisecond)
			binary.BigEndian.PutUint32(s.Src[:4], 10<<24|i)
			tbl.Add(s)
		}},
		{"new flow per packet, eviction", func(tbl *Table, s *packet.Summary, i uint32) {
			binary.BigEndian.PutUint32(s.Src[:4], 11<<24|i)
			tbl.Add(s)
		}},
		{"fragments", func(tbl *Table, s *packet.Summary, i uint32) {
			s.Timestamp = s.Timestamp.Add(time.Millisecond)
			s.Fragment, s.FragID = true, i/2
			s.FragOffset, s.HasPorts = uint16(i%2)*1480, i%2 == 0
			tbl.Add(s)
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfiguration()
			cfg.IdleTimeout = time.Second
			cfg.MaxFlows = 5000
			tbl, err := New(cfg, func(*Record) {})
			if err != nil {
				t.Fatalf("New() error:\n%+v", err)
			}
			s := udpSummary(0, base)
			var n uint32
			// Warm up: grow the slab, the index and the fragment cache.
			for range 20000 {
				n++
				tc.step(tbl, &s, n)
			}
			allocs := testing.AllocsPerRun(10000, func() {
				n++
				tc.step(tbl, &s, n)
			})
			if allocs != 0 {
				t.Errorf("case %d: Add allocates %v times per packet, want 0", i, allocs)
			}
		})
	}
}

// BenchmarkExistingFlow updates one live biflow, alternating directions.
func BenchmarkExistingFlow(b *testing.B) {
	tbl, err := New(DefaultConfiguration(), func(*Record) {})
	if err != nil {
		b.Fatalf("New() error:\n%+v", err)
	}
	fwd := udpSummary(1, base)
	rev := fwd
	rev.Src, rev.Dst = fwd.Dst, fwd.Src
	rev.SrcPort, rev.DstPort = fwd.DstPort, fwd.SrcPort
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		fwd.Timestamp = fwd.Timestamp.Add(time.Microsecond)
		rev.Timestamp = fwd.Timestamp
		if i&1 == 0 {
			tbl.Add(&fwd)
		} else {
			tbl.Add(&rev)
		}
	}
}

// BenchmarkNewFlowChurn starts a new flow with every packet; the idle
// timeout (10k packets of packet time) keeps about 10k flows live, so
// each packet also expires one.
func BenchmarkNewFlowChurn(b *testing.B) {
	cfg := DefaultConfiguration()
	cfg.IdleTimeout = 10 * time.Millisecond
	var exported int
	tbl, err := New(cfg, func(*Record) { exported++ })
	if err != nil {
		b.Fatalf("New() error:\n%+v", err)
	}
	s := udpSummary(0, base)
	var n uint32
	step := func() {
		n++
		s.Timestamp = s.Timestamp.Add(time.Microsecond)
		binary.BigEndian.PutUint32(s.Src[:4], 10<<24|n&0xffffff)
		tbl.Add(&s)
	}
	for range 100000 { // warm up: grow the slab and the index
		step()
	}
	b.ReportAllocs()
	for b.Loop() {
		step()
	}
	b.ReportMetric(float64(tbl.Len()), "live-flows")
}

// BenchmarkManyFlows updates 1M live flows in a scattered order (cache
// misses dominate).
func BenchmarkManyFlows(b *testing.B) {
	const flows = 1 << 20
	tbl, err := New(DefaultConfiguration(), func(*Record) {})
	if err != nil {
		b.Fatalf("New() error:\n%+v", err)
	}
	s := udpSummary(0, base)
	for n := range uint32(flows) {
		binary.BigEndian.PutUint32(s.Src[:4], 10<<24|n)
		tbl.Add(&s)
	}
	if tbl.Len() != flows {
		b.Fatalf("Len() = %d, want %d", tbl.Len(), flows)
	}
	b.ReportAllocs()
	var n uint32
	for b.Loop() {
		n = n*1664525 + 1013904223 // LCG: every flow, scattered
		s.Timestamp = s.Timestamp.Add(time.Microsecond)
		binary.BigEndian.PutUint32(s.Src[:4], 10<<24|n&(flows-1))
		tbl.Add(&s)
	}
	if tbl.Len() != flows {
		b.Fatalf("Len() = %d, want %d", tbl.Len(), flows)
	}
}
