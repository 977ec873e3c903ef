package flow

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/gimsproject/gims/packet"
)

// clusteredSummary returns a TCP packet of flow n of a clustered family
// (issue 14): every address in 10.1.0.0/16 or 2001:db8:1::/48, differing
// only in its last 16 bits, as on a campus tap.
//
//   - hosts: client n (last 16 bits n) to one of 700 servers, port 443,
//     the client port sequential past 65,536 clients;
//   - ports: one host pair, the client port sequential (n), then the
//     server port;
//   - both: clients and ports sequential together.
func clusteredSummary(family string, n uint32, v6 bool, ts time.Time) packet.Summary {
	s := packet.Summary{
		Timestamp: ts, WireLen: 60, CapLen: 60,
		IPLen: 40, Proto: 6, HasPorts: true, TCPFlags: 0x10,
	}
	var cli, srv uint16
	switch family {
	case "hosts":
		cli, srv = uint16(n), uint16(0x8000+n%700)
		s.SrcPort, s.DstPort = uint16(32768+n>>16), 443
	case "ports":
		cli, srv = 1, 0x8001
		s.SrcPort, s.DstPort = uint16(n), uint16(443+n>>16)
	case "scattered": // the reference: addresses spread over the space
		s.SrcPort, s.DstPort = uint16(32768+n%28000), 443
		h := uint64(n+1) * 0x9e3779b97f4a7c15
		binary.BigEndian.PutUint64(s.Src[:8], h)
		binary.BigEndian.PutUint64(s.Src[8:], h*0x9e3779b97f4a7c15)
		binary.BigEndian.PutUint64(s.Dst[:8], h^0xff51afd7ed558ccd)
		binary.BigEndian.PutUint64(s.Dst[8:], h*0xc4ceb9fe1a85ec53)
		if v6 {
			s.IPVersion = 6
		} else {
			s.IPVersion = 4
			clear(s.Src[4:])
			clear(s.Dst[4:])
		}
		return s
	default:
		cli, srv = uint16(n), 0x8001
		s.SrcPort, s.DstPort = uint16(n), uint16(n>>16)
	}
	if v6 {
		s.IPVersion = 6
		for _, a := range []*[16]byte{&s.Src, &s.Dst} {
			copy(a[:], []byte{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01})
		}
		binary.BigEndian.PutUint16(s.Src[14:], cli)
		binary.BigEndian.PutUint16(s.Dst[14:], srv)
	} else {
		s.IPVersion = 4
		binary.BigEndian.PutUint32(s.Src[:4], 10<<24|1<<16|uint32(cli))
		binary.BigEndian.PutUint32(s.Dst[:4], 10<<24|1<<16|uint32(srv))
	}
	return s
}

// probeLengths returns the mean and the longest distance, in slots, from a
// key's home slot to the slot that holds it: the extra slots a lookup of
// that key reads.
func probeLengths(x *flowIndex) (mean float64, longest int) {
	var sum, n int
	for j, s := range x.slots {
		if s == 0 {
			continue
		}
		d := int((uint64(j) - (s >> 32)) & x.mask)
		sum += d
		longest = max(longest, d)
		n++
	}
	if n == 0 {
		return 0, 0
	}
	return float64(sum) / float64(n), longest
}

// Bounds on probe lengths over 100k keys at the index's load (at most one
// half): a hash that spreads them gives a mean near 0.3–0.5 and a longest
// run of a few dozen slots; a hash that does not spread clustered keys
// gives runs of thousands.
const (
	maxMeanProbe    = 1.0
	maxLongestProbe = 80
)

// TestIndexSpreadsClusteredKeys puts 100,000 flows whose addresses differ
// only in their last 16 bits (IPv4 and IPv6), with sequential ports, in a
// table (uni- and biflow) and fails if the probe runs explode: the index
// must take its home slot from bits that depend on the whole key.
func TestIndexSpreadsClusteredKeys(t *testing.T) {
	const flows = 100_000
	for _, family := range []string{"hosts", "ports", "both"} {
		for _, v6 := range []bool{false, true} {
			for _, biflow := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/v6 %v/biflow %v", family, v6, biflow), func(t *testing.T) {
					cfg := DefaultConfiguration()
					cfg.Biflow = biflow
					cfg.MaxFlows = 2 * flows
					tbl, err := New(cfg, func(*Record) {})
					if err != nil {
						t.Fatalf("New() error:\n%+v", err)
					}
					for n := range uint32(flows) {
						s := clusteredSummary(family, n, v6, base)
						tbl.Add(&s)
					}
					if tbl.Len() != flows {
						t.Fatalf("Len() = %d, want %d distinct flows", tbl.Len(), flows)
					}
					mean, longest := probeLengths(&tbl.index)
					if mean > maxMeanProbe || longest > maxLongestProbe {
						t.Errorf("probe lengths over %d slots: mean %.2f (at most %v), longest %d (at most %d)",
							len(tbl.index.slots), mean, maxMeanProbe, longest, maxLongestProbe)
					}
					t.Logf("%d keys in %d slots: mean probe %.2f, longest %d", flows, len(tbl.index.slots), mean, longest)
				})
			}
		}
	}
}

// TestProbeLengthsCatchWeakHash shows that the bounds above catch an index
// that does not spread clustered keys: the same keys, placed by a hash
// that only folds the key's words together (no multiplication), make runs
// far longer than the bounds.
func TestProbeLengthsCatchWeakHash(t *testing.T) {
	x := newFlowIndex(40_000)
	for n := range uint32(20_000) { // fewer keys than above: filling long runs is quadratic
		s := clusteredSummary("hosts", n, false, base)
		k := Key{Src: s.Src, Dst: s.Dst, SrcPort: s.SrcPort, DstPort: s.DstPort, Proto: s.Proto, IPVersion: s.IPVersion}
		weak := binary.LittleEndian.Uint64(k.Src[:8]) ^ binary.LittleEndian.Uint64(k.Dst[:8])<<1 ^
			uint64(k.SrcPort)<<32 ^ uint64(k.DstPort)<<48
		x.insert(weak&0xffffffff, int32(n))
	}
	mean, longest := probeLengths(&x)
	if mean <= maxMeanProbe && longest <= maxLongestProbe {
		t.Errorf("a weak hash passes the bounds: mean %.2f, longest %d", mean, longest)
	}
	t.Logf("weak hash: mean probe %.2f, longest %d", mean, longest)
}

// BenchmarkClusteredFlows updates 20,000 live biflows of the clustered
// families in a scattered order, IPv4 and IPv6 (the shape of issue 14's
// clustered trace, flow table only).
func BenchmarkClusteredFlows(b *testing.B) {
	const flows = 20_000
	for _, family := range []string{"hosts", "ports", "scattered"} {
		for _, v6 := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/v6 %v", family, v6), func(b *testing.B) {
				tbl, err := New(DefaultConfiguration(), func(*Record) {})
				if err != nil {
					b.Fatalf("New() error:\n%+v", err)
				}
				for n := range uint32(flows) {
					s := clusteredSummary(family, n, v6, base)
					tbl.Add(&s)
				}
				b.ReportAllocs()
				var n uint32
				ts := base
				for b.Loop() {
					// The packet is built anew each time, as the decoder does,
					// so that the benchmark's own memory stays in cache.
					n = n*1664525 + 1013904223
					ts = ts.Add(time.Microsecond)
					s := clusteredSummary(family, n%flows, v6, ts)
					tbl.Add(&s)
				}
				if tbl.Len() != flows {
					b.Fatalf("Len() = %d, want %d", tbl.Len(), flows)
				}
			})
		}
	}
}
