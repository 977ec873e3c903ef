package flow

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/gimsproject/gims/packet"
)

// TestOffHeapMatchesHeap drives two tables with the same packets over
// enough flows that one moves its slab, links and index off the heap
// (tablemem.Reserve), while the other is kept on the heap: the records,
// their order and the counters must be the same, across evictions,
// timeouts, a Flush and the table's reuse after it.
func TestOffHeapMatchesHeap(t *testing.T) {
	cfg := Configuration{ActiveTimeout: 40 * time.Second, IdleTimeout: 20 * time.Second, Biflow: true, MaxFlows: 100_000}
	var got, want []string
	off, err := New(cfg, func(r *Record) { got = append(got, show(r)) })
	if err != nil {
		t.Fatal(err)
	}
	on, err := New(cfg, func(r *Record) { want = append(want, show(r)) })
	if err != nil {
		t.Fatal(err)
	}
	on.mem, on.index.mem = nil, nil // the reference: every array on the heap
	rnd := rand.New(rand.NewPCG(14, 15))
	var s packet.Summary
	now := base
	feed := func(packets, flows int) {
		for range packets {
			f := rnd.IntN(flows)
			s = packet.Summary{IPVersion: 4, Proto: 17, HasPorts: true, IPLen: 28 + f%100}
			s.Src[0], s.Src[1], s.Src[2], s.Src[3] = 10, byte(f>>16), byte(f>>8), byte(f)
			s.Dst[0], s.Dst[3] = 192, 1
			s.SrcPort, s.DstPort = uint16(1024+f%50000), 53
			if rnd.IntN(2) == 0 { // the reply
				s.Src, s.Dst = s.Dst, s.Src
				s.SrcPort, s.DstPort = s.DstPort, s.SrcPort
			}
			now = now.Add(time.Duration(rnd.IntN(200)) * time.Microsecond)
			s.Timestamp = now
			off.Add(&s)
			on.Add(&s)
		}
	}
	feed(400_000, 150_000)
	if off.mem.slab == nil || off.mem.links == nil || off.mem.index == nil {
		t.Fatalf("the table's arrays are not off the heap at %d flows: %+v", off.Len(), *off.mem)
	}
	checkInvariants(t, off)
	off.Flush()
	on.Flush()
	feed(100_000, 20_000) // reuse after Flush
	checkInvariants(t, off)
	off.Flush()
	on.Flush()
	if off.Stats() != on.Stats() {
		t.Errorf("stats off the heap %+v, on the heap %+v", off.Stats(), on.Stats())
	}
	if len(got) != len(want) {
		t.Fatalf("%d records off the heap, %d on the heap", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("record %d off the heap:\n%s\non the heap:\n%s", i, got[i], want[i])
		}
	}
	st := off.Stats()
	if st.Evicted == 0 || st.Exported <= st.Evicted {
		t.Errorf("stats %+v: the test should see evictions and timeouts", st)
	}
	t.Logf("%d records, %+v", len(got), st)
	runtime.KeepAlive(off)
}

// TestOffHeapRelease: the arrays of a table that is no longer reachable
// are given back by its cleanup.
func TestOffHeapRelease(t *testing.T) {
	released := make(chan struct{})
	func() {
		tbl, err := New(Configuration{ActiveTimeout: time.Hour, IdleTimeout: time.Hour, Biflow: true, MaxFlows: 10_000}, func(*Record) {})
		if err != nil {
			t.Fatal(err)
		}
		var s packet.Summary
		for f := range 5000 {
			s = packet.Summary{IPVersion: 4, Proto: 17, HasPorts: true, Timestamp: base, IPLen: 28}
			s.Src[0], s.Src[2], s.Src[3] = 10, byte(f>>8), byte(f)
			tbl.Add(&s)
		}
		if tbl.mem.slab == nil {
			t.Fatalf("slab not off the heap at %d flows", tbl.Len())
		}
		rs := tbl.mem.slab
		tbl.mem.slab = func() { rs(); close(released) }
	}()
	// One collection finds the table unreachable and queues its cleanup;
	// the receive waits for the cleanup goroutine to run it.
	runtime.GC()
	<-released
}

// TestOffHeapLargeBound: a table allowed the largest MaxFlows reserves
// address space for all of them (about 200 GiB, none of it touched but
// what the flows use) or, where the system refuses, grows on the heap;
// either way its flows come out whole.
func TestOffHeapLargeBound(t *testing.T) {
	var records, packets uint64
	tbl, err := New(Configuration{ActiveTimeout: time.Hour, IdleTimeout: time.Hour, Biflow: true, MaxFlows: math.MaxInt32},
		func(r *Record) { records++; packets += r.Packets + r.RevPackets })
	if err != nil {
		t.Fatal(err)
	}
	var s packet.Summary
	for i := range 20_000 {
		f := i % 10_000
		s = packet.Summary{IPVersion: 4, Proto: 6, HasPorts: true, Timestamp: base, IPLen: 40}
		s.Src[0], s.Src[2], s.Src[3] = 10, byte(f>>8), byte(f)
		s.Dst[0], s.Dst[3] = 192, 1
		s.SrcPort, s.DstPort = 40000, 443
		tbl.Add(&s)
	}
	checkInvariants(t, tbl)
	tbl.Flush()
	if records != 10_000 || packets != 20_000 {
		t.Errorf("%d records holding %d packets, want 10000 holding 20000", records, packets)
	}
	t.Logf("slab off the heap: %v", tbl.mem.slab != nil)
}
