package flow

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gimsproject/gims/packet"
)

// checkInvariants verifies the table's internal structure: the index and
// the slab agree, both lists are well linked, every flow is on the LRU
// list, and exactly the flows with a record in progress are on the active
// list.
func checkInvariants(t testing.TB, tbl *Table) {
	t.Helper()
	checkIndex(t, tbl)
	for l, name := range []string{"lru", "active"} {
		n, prev := 0, none
		for i := tbl.lists[l].head; i != none; i = tbl.links[i][l].next {
			if tbl.links[i][l].prev != prev {
				t.Fatalf("%s list: slot %d prev=%d, want %d", name, i, tbl.links[i][l].prev, prev)
			}
			mk := tbl.slab[i].mkey
			if j, ok := tbl.lookup(&mk, tbl.index.hash(&mk)); !ok || j != i {
				t.Fatalf("%s list: slot %d is not in the index (lookup gives %d, %v)", name, i, j, ok)
			}
			prev = i
			n++
			if n > tbl.Len() {
				t.Fatalf("%s list longer than the index (%d): loop?", name, tbl.Len())
			}
		}
		if tbl.lists[l].tail != prev {
			t.Fatalf("%s list: tail %d, want %d", name, tbl.lists[l].tail, prev)
		}
		if l == lruList && n != tbl.Len() {
			t.Fatalf("lru list holds %d flows, index %d", n, tbl.Len())
		}
	}
	if tbl.Len() > tbl.maxFlows {
		t.Fatalf("%d flows, more than MaxFlows %d", tbl.Len(), tbl.maxFlows)
	}
}

// checkIndex verifies the open-addressing index: it counts its keys right,
// is at most half full, each slot's hash bits are those of its flow's
// index key, no key is there twice, every key can be reached from its
// home slot without crossing an empty one, and each flow's state fits its
// place on the active list.
func checkIndex(t testing.TB, tbl *Table) {
	t.Helper()
	x := &tbl.index
	if len(x.slots) > 0 && (len(x.slots)&(len(x.slots)-1) != 0 || x.mask != uint64(len(x.slots)-1)) {
		t.Fatalf("index: %d slots, mask %#x: not a power of two", len(x.slots), x.mask)
	}
	if 2*x.n > len(x.slots) && x.n > 0 {
		t.Fatalf("index: %d keys in %d slots, more than half full", x.n, len(x.slots))
	}
	if len(x.slots) > x.maxSlots {
		t.Fatalf("index: %d slots, more than the %d MaxFlows needs", len(x.slots), x.maxSlots)
	}
	n := 0
	seen := map[int32]bool{}
	keys := map[Key]int{}
	for pos, s := range x.slots {
		if s == 0 {
			continue
		}
		n++
		i := slotIndex(s)
		if i < 0 || int(i) >= len(tbl.slab) || seen[i] {
			t.Fatalf("index slot %d: slab slot %d out of range or seen twice", pos, i)
		}
		seen[i] = true
		e := &tbl.slab[i]
		mk := e.mkey
		if rk := e.recordKey(); tbl.mapKey(rk) != mk {
			t.Fatalf("slot %d: record key %+v maps to %+v, index key %+v", i, rk, tbl.mapKey(rk), mk)
		}
		if p, dup := keys[mk]; dup {
			t.Fatalf("index slots %d and %d: same key %+v", p, pos, mk)
		}
		keys[mk] = pos
		h := x.hash(&mk)
		if s>>32 != slotTag(h) {
			t.Fatalf("index slot %d: hash bits %#x, its key hashes to %#x", pos, s>>32, slotTag(h))
		}
		for p := h & x.mask; p != uint64(pos); p = (p + 1) & x.mask {
			if x.slots[p] == 0 {
				t.Fatalf("index slot %d: empty slot %d between it and its home %d", pos, p, h&x.mask)
			}
		}
		if e.inActive == e.empty() {
			t.Fatalf("slot %d: inActive=%v with %d+%d packets", i, e.inActive, e.packets, e.revPackets)
		}
	}
	if n != x.n {
		t.Fatalf("index: %d keys in the slots, count says %d", n, x.n)
	}
}

// totals sums exported records and checks each one on the way.
type totals struct {
	t              testing.TB
	biflow         bool
	records        uint64
	packets, bytes uint64
	evicted        uint64
}

func (c *totals) export(r *Record) {
	c.records++
	c.packets += r.Packets + r.RevPackets
	c.bytes += r.Bytes + r.RevBytes
	if r.Packets+r.RevPackets == 0 {
		c.t.Errorf("empty record exported: %s", show(r))
	}
	if r.End.Before(r.Start) {
		c.t.Errorf("record ends before it starts: %s", show(r))
	}
	if !c.biflow && (r.RevPackets != 0 || r.RevBytes != 0 || r.RevTCPFlags != 0) {
		c.t.Errorf("uni-flow record with reverse counters: %s", show(r))
	}
	if r.EndReason.String() == "unknown" {
		c.t.Errorf("record with end reason %d", r.EndReason)
	}
	if r.EndReason == EndLackOfResources {
		c.evicted++
	}
}

// checkConservation flushes tbl and checks that the records carry exactly
// what was added.
func checkConservation(t testing.TB, tbl *Table, c *totals, ipPackets, ipBytes, nonIP uint64) {
	t.Helper()
	tbl.Flush()
	checkInvariants(t, tbl)
	st := tbl.Stats()
	if tbl.Len() != 0 || st.Active != 0 {
		t.Errorf("Len() = %d, Active = %d after Flush, want 0", tbl.Len(), st.Active)
	}
	if c.packets != ipPackets || st.Packets != ipPackets {
		t.Errorf("records hold %d packets, Stats.Packets %d, added %d", c.packets, st.Packets, ipPackets)
	}
	if c.bytes != ipBytes || st.Bytes != ipBytes {
		t.Errorf("records hold %d bytes, Stats.Bytes %d, added %d", c.bytes, st.Bytes, ipBytes)
	}
	if c.records != st.Exported {
		t.Errorf("%d records exported, Stats.Exported %d", c.records, st.Exported)
	}
	if c.evicted != st.Evicted {
		t.Errorf("%d records ended for lack of resources, Stats.Evicted %d", c.evicted, st.Evicted)
	}
	if st.NonIP != nonIP {
		t.Errorf("Stats.NonIP = %d, want %d", st.NonIP, nonIP)
	}
	if st.FragmentsUnmatched > st.Fragments {
		t.Errorf("Stats.FragmentsUnmatched %d > Stats.Fragments %d", st.FragmentsUnmatched, st.Fragments)
	}
}

// gen turns a stream of random values into packet summaries: a few
// conversations seen in both directions, with the odd stray packet,
// fragment, ICMP message, TCP end, out-of-order timestamp and non-IP
// frame, so that flows collide, reverse, time out and end in every way.
type gen struct {
	now time.Time
}

func (g *gen) next(s *packet.Summary, r func() uint64) {
	v := r()
	// Time moves forward by up to ~0.5s, sometimes backwards a little.
	step := time.Duration(v&0x1ff) * time.Millisecond
	if v>>9&0xf == 0 {
		step = -step / 4
	}
	if v>>13&0xff == 0 {
		step = time.Duration(v>>21&0x3ff) * time.Second // a long pause
	}
	g.now = g.now.Add(step)
	*s = packet.Summary{Timestamp: g.now, WireLen: 60}
	w := r()
	if w&0x1f == 0 {
		return // not IP
	}
	// Conversation c among 16: hosts, protocol and ports follow from it.
	c := w >> 5 & 0xf
	s.IPVersion = 4
	if c&8 != 0 {
		s.IPVersion = 6
	}
	// The host in the address's last byte: an IPv4 address's is its
	// fourth, and its other 12 bytes stay zero (Summary's contract, which
	// AddLate relies on).
	last := 15
	if s.IPVersion == 4 {
		last = 3
	}
	s.Src[0], s.Dst[0] = 10, 10
	s.Src[last], s.Dst[last] = byte(c&1), byte(2+c>>1&1)
	if w>>9&0xf == 0 {
		s.Src[last] = byte(w >> 13 & 0xff) // a stray host
	}
	s.Proto = [...]uint8{6, 6, 17, 1, 6, 58, 17, 47}[c&7]
	s.IPLen = int(w >> 21 & 0x7ff)
	if w>>32&0x1f == 0 {
		s.VLAN = 7
	}
	switch s.Proto {
	case 6, 17:
		s.HasPorts = true
		s.SrcPort, s.DstPort = 40000+uint16(c), 80
		if s.Proto == 6 {
			s.TCPFlags = [...]uint8{0x02, 0x12, 0x10, 0x10, 0x10, 0x18, 0x18, 0x10,
				0x10, 0x18, 0x18, 0x10, 0x11, 0x11, 0x04, 0x10}[w>>37&0xf]
		}
	case 1, 58:
		s.HasPorts = true
		s.DstPort = [...]uint16{0, 8 << 8, 128 << 8, 129 << 8, 3<<8 | 1, 11 << 8, 8 << 8, 0}[w>>37&7]
	}
	if w>>41&1 == 1 { // the other direction
		s.Src, s.Dst = s.Dst, s.Src
		s.SrcPort, s.DstPort = s.DstPort, s.SrcPort
		if s.Proto == 1 || s.Proto == 58 {
			s.SrcPort, s.DstPort = 0, s.SrcPort
		}
	}
	if w>>42&7 == 0 {
		s.Fragment = true
		s.FragID = uint32(w >> 45 & 3)
		if w>>47&1 == 1 {
			s.FragOffset = 1480
			s.HasPorts, s.SrcPort, s.DstPort, s.TCPFlags = false, 0, 0, 0
		}
		s.MoreFragments = w>>48&1 == 1
	}
	s.Truncated = w>>49&0x1f == 0
	s.Malformed = w>>54&0x1f == 0
}

func TestConservationRandom(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
			cfg := Configuration{
				ActiveTimeout: time.Duration(1+rnd.IntN(120)) * time.Second,
				IdleTimeout:   time.Duration(1+rnd.IntN(60)) * time.Second,
				Biflow:        rnd.IntN(3) != 0,
				MaxFlows:      1 + rnd.IntN(200),
			}
			c := &totals{t: t, biflow: cfg.Biflow}
			tbl, err := New(cfg, c.export)
			if err != nil {
				t.Fatalf("New() error:\n%+v", err)
			}
			g := gen{now: base}
			var s packet.Summary
			var ipPackets, ipBytes, nonIP uint64
			for i := range 5000 {
				g.next(&s, rnd.Uint64)
				if s.IPVersion == 0 {
					nonIP++
				} else {
					ipPackets++
					ipBytes += uint64(s.IPLen)
				}
				tbl.Add(&s)
				if i%97 == 0 {
					tbl.Expire(g.now.Add(time.Duration(rnd.IntN(30)) * time.Second))
				}
				if i%250 == 0 {
					checkInvariants(t, tbl)
				}
			}
			checkConservation(t, tbl, c, ipPackets, ipBytes, nonIP)
			t.Logf("%+v: %+v", cfg, tbl.Stats())
		})
	}
}

// FuzzTable feeds the table summaries derived from the fuzz input: the
// first bytes choose the configuration, then every 16 bytes make one
// packet. It checks that nothing panics, the internal structure holds and
// every packet and byte added comes out in exactly one record.
func FuzzTable(f *testing.F) {
	f.Add([]byte{0, 10, 20, 5, 1})
	f.Add([]byte("\x01\x03\x02\x02\x00" + "0123456789abcdef0123456789abcdef\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add(make([]byte, 5+16*40))
	seed := make([]byte, 5+16*200)
	for i := range seed {
		seed[i] = byte(i * 131)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 5 {
			return
		}
		cfg := Configuration{
			ActiveTimeout: time.Duration(1+int(data[0])) * time.Second,
			IdleTimeout:   time.Duration(1+int(data[1])) * time.Second,
			Biflow:        data[2]&1 == 0,
			MaxFlows:      1 + int(data[3]&0x3f),
		}
		expireEvery := 1 + int(data[4])
		data = data[5:]
		c := &totals{t: t, biflow: cfg.Biflow}
		tbl, err := New(cfg, c.export)
		if err != nil {
			t.Fatalf("New() error:\n%+v", err)
		}
		g := gen{now: base}
		var s packet.Summary
		var ipPackets, ipBytes, nonIP uint64
		for n := 0; len(data) >= 16; n++ {
			chunk := data[:16]
			data = data[16:]
			k := 0
			r := func() uint64 {
				v := binary.LittleEndian.Uint64(chunk[k%16:])
				k += 8
				return v
			}
			g.next(&s, r)
			if s.IPVersion == 0 {
				nonIP++
			} else {
				ipPackets++
				ipBytes += uint64(s.IPLen)
			}
			tbl.Add(&s)
			if n%expireEvery == 0 {
				tbl.Expire(g.now)
			}
		}
		checkInvariants(t, tbl)
		checkConservation(t, tbl, c, ipPackets, ipBytes, nonIP)
	})
}
