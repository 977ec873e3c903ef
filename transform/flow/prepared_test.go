package flow

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gimsproject/gims/packet"
)

// addBatches adds sums to tbl the way the meter's batched loop does: in
// batches of random sizes, every packet of a batch prepared first, the
// batch's slots fetched, then each packet added with its prepared key,
// in order; expire is called between batches.
func addBatches(tbl *Table, sums []packet.Summary, rnd *rand.Rand, expire func(i int)) {
	ps := make([]Prepared, 32)
	for i := 0; i < len(sums); {
		n := min(1+rnd.IntN(len(ps)), len(sums)-i)
		batch := sums[i : i+n]
		for j := range batch {
			tbl.Prepare(&batch[j], &ps[j])
		}
		if rnd.IntN(4) != 0 {
			tbl.Fetch(ps[:n])
		}
		for j := range batch {
			tbl.AddPrepared(&batch[j], &ps[j])
		}
		i += n
		expire(i)
	}
}

// TestPreparedMatchesAdd: packets added in batches through Prepare, Fetch
// and AddPrepared give the records, in the same order, and the stats
// that Add gives one packet at a time, with fragments (whose ports come
// from the fragment cache in packet order), TCP ends, ICMP echoes,
// out-of-order times, timeouts, evictions and non-IP frames (gen), and on
// a table that grows its index and slab in the middle of a batch.
func TestPreparedMatchesAdd(t *testing.T) {
	type stream struct {
		cfg  Configuration
		sums []packet.Summary
	}
	var streams []stream
	for seed := range uint64(20) {
		rnd := rand.New(rand.NewPCG(seed, 77))
		cfg := Configuration{
			ActiveTimeout: time.Duration(1+rnd.IntN(120)) * time.Second,
			IdleTimeout:   time.Duration(1+rnd.IntN(60)) * time.Second,
			Biflow:        rnd.IntN(3) != 0,
			MaxFlows:      1 + rnd.IntN(200),
		}
		g := gen{now: base}
		sums := make([]packet.Summary, 3000)
		for i := range sums {
			g.next(&sums[i], rnd.Uint64)
		}
		streams = append(streams, stream{cfg, sums})
	}
	// Many flows: the index and slab grow (off the heap) while batches
	// prepared against the smaller arrays are added.
	rnd := rand.New(rand.NewPCG(5, 6))
	many := make([]packet.Summary, 300_000)
	now := base
	for i := range many {
		f := rnd.IntN(100_000)
		s := &many[i]
		*s = packet.Summary{IPVersion: 4, Proto: 17, HasPorts: true, IPLen: 28 + f%100}
		s.Src[0], s.Src[1], s.Src[2], s.Src[3] = 10, byte(f>>16), byte(f>>8), byte(f)
		s.Dst[0], s.Dst[3] = 192, 1
		s.SrcPort, s.DstPort = uint16(1024+f%50000), 53
		if rnd.IntN(2) == 0 {
			s.Src, s.Dst = s.Dst, s.Src
			s.SrcPort, s.DstPort = s.DstPort, s.SrcPort
		}
		now = now.Add(time.Duration(rnd.IntN(200)) * time.Microsecond)
		s.Timestamp = now
	}
	streams = append(streams, stream{Configuration{ActiveTimeout: 10 * time.Second, IdleTimeout: 5 * time.Second, Biflow: true, MaxFlows: 80_000}, many})

	for k, st := range streams {
		t.Run(fmt.Sprintf("stream %d", k), func(t *testing.T) {
			var got, want []string
			one, err := New(st.cfg, func(r *Record) { want = append(want, show(r)) })
			if err != nil {
				t.Fatal(err)
			}
			batched, err := New(st.cfg, func(r *Record) { got = append(got, show(r)) })
			if err != nil {
				t.Fatal(err)
			}
			expire := func(tbl *Table, i int) {
				if i%7 == 0 {
					tbl.Expire(st.sums[i-1].Timestamp.Add(time.Duration(i%30) * time.Second))
				}
			}
			// The same expiry points for both: after each batch, which
			// Add's loop reproduces packet by packet.
			rnd := rand.New(rand.NewPCG(uint64(k), 1))
			var ends []int
			addBatches(batched, st.sums, rnd, func(i int) {
				ends = append(ends, i)
				expire(batched, i)
			})
			i := 0
			for _, end := range ends {
				for ; i < end; i++ {
					one.Add(&st.sums[i])
				}
				expire(one, end)
			}
			checkInvariants(t, batched)
			one.Flush()
			batched.Flush()
			if one.Stats() != batched.Stats() {
				t.Errorf("stats batched %+v, one by one %+v", batched.Stats(), one.Stats())
			}
			if len(got) != len(want) {
				t.Fatalf("%d records batched, %d one by one", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("record %d batched:\n%s\none by one:\n%s", i, got[i], want[i])
				}
			}
			if len(got) == 0 {
				t.Fatal("no records: the stream tests nothing")
			}
		})
	}
}
