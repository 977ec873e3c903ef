package meter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/google/gopacket"

	"github.com/gimsproject/gims/packet"
	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/flow"
)

// TestPrefetcherMatchesRun runs every sample capture, three times over,
// through a meter fed directly and through a Prefetcher, with batches that
// hold many packets, a few, or less than one (packets longer than a batch),
// with and without a key and a packet sink: the written packets, flows,
// counters and totals are the same.
func TestPrefetcherMatchesRun(t *testing.T) {
	files, err := filepath.Glob("../../packet/testdata/pcaps/*.pcap*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample captures: %v", err)
	}
	type result struct {
		w     fuzzWriter
		flows []flow.Record
		ctrs  []counters.Record
		stats Stats
	}
	configs := []PrefetchConfiguration{
		DefaultPrefetchConfiguration(),
		{BatchBytes: 2000, Batches: 2},
		{BatchBytes: 100, Batches: 3}, // most packets get a batch of their own, grown
	}
	for _, path := range files {
		lt, once := readCapture(t, path)
		var pkts []fuzzPacket
		for i := range 3 {
			for _, p := range once {
				p.ci.Timestamp = p.ci.Timestamp.Add(time.Duration(i) * time.Hour)
				pkts = append(pkts, p)
			}
		}
		for _, key := range []bool{false, true} {
			build := func(res *result) *Meter {
				cfg := Configuration{Counters: &counters.Configuration{Interval: time.Second}, Flows: ptr(flow.DefaultConfiguration())}
				if key {
					cfg.Key = &testKey
				}
				m, err := New(cfg, lt, Sinks{
					Packets:  &res.w,
					Counters: func(r counters.Record) { res.ctrs = append(res.ctrs, r) },
					Flows:    func(r *flow.Record) { res.flows = append(res.flows, *r) },
				})
				if err != nil {
					t.Fatalf("New() error:\n%+v", err)
				}
				return m
			}
			var want result
			m := build(&want)
			if err := m.Run(context.Background(), &sliceReader{pkts: pkts}); err != nil {
				t.Fatalf("Run() error:\n%+v", err)
			}
			if err := m.Flush(); err != nil {
				t.Fatal(err)
			}
			want.stats = m.Stats()
			for _, pc := range configs {
				t.Run(fmt.Sprintf("%s/key %v/batch %d×%d", filepath.Base(path), key, pc.Batches, pc.BatchBytes), func(t *testing.T) {
					var got result
					m := build(&got)
					p, err := NewPrefetcher(context.Background(), pc, &sliceReader{pkts: pkts})
					if err != nil {
						t.Fatalf("NewPrefetcher() error:\n%+v", err)
					}
					defer p.Close()
					if err := m.Run(context.Background(), p); err != nil {
						t.Fatalf("Run() error:\n%+v", err)
					}
					if err := m.Flush(); err != nil {
						t.Fatal(err)
					}
					got.stats = m.Stats()
					if !reflect.DeepEqual(got.w, want.w) {
						t.Errorf("%d packets written through the prefetcher, %d without, or they differ", len(got.w.packets), len(want.w.packets))
					}
					if !reflect.DeepEqual(got.flows, want.flows) {
						t.Errorf("%d flows through the prefetcher, %d without, or they differ", len(got.flows), len(want.flows))
					}
					if !reflect.DeepEqual(got.ctrs, want.ctrs) || got.stats != want.stats {
						t.Errorf("counters or totals differ: %+v, want %+v", got.stats, want.stats)
					}
					if got.stats.Packets != uint64(len(pkts)) {
						t.Errorf("%d packets counted, want %d", got.stats.Packets, len(pkts))
					}
				})
			}
		}
	}
}

// scriptReader returns n packets of 100 bytes numbered in their first
// byte, with errs[i] in place of packet i where set, then io.EOF; with
// n < 0 it never ends.
type scriptReader struct {
	n, i int
	errs map[int]error
	buf  [100]byte
}

func (r *scriptReader) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	if r.n >= 0 && r.i >= r.n {
		return nil, gopacket.CaptureInfo{}, io.EOF
	}
	i := r.i
	r.i++
	if err := r.errs[i]; err != nil {
		return nil, gopacket.CaptureInfo{}, err
	}
	r.buf[0] = byte(i)
	return r.buf[:], gopacket.CaptureInfo{CaptureLength: 100, Length: 100, Timestamp: time.Unix(int64(i), 0)}, nil
}

// TestPrefetcherErrors: packets before an error come first, then the
// error, for good; timeouts are passed on where they were and reading goes
// on; Close stops a source that never ends.
func TestPrefetcherErrors(t *testing.T) {
	boom := errors.New("disk on fire")
	cfg := PrefetchConfiguration{BatchBytes: 250, Batches: 2} // two packets a batch
	read := func(p *Prefetcher, n int) (got []string) {
		for range n {
			data, ci, err := p.ZeroCopyReadPacketData()
			switch {
			case err != nil:
				got = append(got, err.Error())
			case int(data[0]) != int(ci.Timestamp.Unix()) || len(data) != 100:
				got = append(got, "mangled")
			default:
				got = append(got, fmt.Sprint(data[0]))
			}
		}
		return got
	}
	p, err := NewPrefetcher(context.Background(), cfg, &scriptReader{n: 10, errs: map[int]error{3: packet.ErrTimeout, 5: boom}})
	if err != nil {
		t.Fatal(err)
	}
	got := read(p, 8)
	p.Close()
	want := []string{"0", "1", "2", packet.ErrTimeout.Error(), "4", "disk on fire", "disk on fire", "disk on fire"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read %q, want %q", got, want)
	}

	p, err = NewPrefetcher(context.Background(), cfg, &scriptReader{n: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := read(p, 5), []string{"0", "1", "2", "EOF", "EOF"}; !reflect.DeepEqual(got, want) {
		t.Errorf("read %q, want %q", got, want)
	}
	p.Close()
	p.Close() // twice is fine

	// A source that never ends: Close returns, and reading then ends with
	// the context's error once what was read ahead is used up.
	p, err = NewPrefetcher(context.Background(), cfg, &scriptReader{n: -1})
	if err != nil {
		t.Fatal(err)
	}
	read(p, 3)
	p.Close()
	for i := 0; ; i++ {
		_, _, err := p.ZeroCopyReadPacketData()
		if errors.Is(err, context.Canceled) {
			break
		}
		if err != nil || i > 2*cfg.Batches*3 {
			t.Fatalf("after Close, read %d more packets, then %v; want context.Canceled after what was read ahead", i, err)
		}
	}

	// Run stops with its context.
	ctx, cancel := context.WithCancel(context.Background())
	p, err = NewPrefetcher(ctx, cfg, &scriptReader{n: -1})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(DefaultConfiguration(), 1, Sinks{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := m.Run(ctx, p); !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v, want context.Canceled", err)
	}
	p.Close()

	for _, bad := range []PrefetchConfiguration{{BatchBytes: 0, Batches: 4}, {BatchBytes: 100, Batches: 1}} {
		if _, err := NewPrefetcher(context.Background(), bad, &scriptReader{}); err == nil {
			t.Errorf("NewPrefetcher(%+v) accepted", bad)
		}
	}
}

// aheadReader is a MappedAheadReader over a backing array: packet i is
// 100 bytes of it, numbered in its first byte; the packets in "the
// mapping" are the even ones, the odd ones are handed out in a buffer that
// the next read overwrites. It records how far ReleaseTo went. With n < 0
// it never ends, going round the array.
type aheadReader struct {
	back     []byte
	buf      [100]byte
	n, i     int
	held     bool
	released atomic.Int64 // the end of the last packet given to ReleaseTo
}

func (r *aheadReader) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	if r.n >= 0 && r.i >= r.n {
		return nil, gopacket.CaptureInfo{}, io.EOF
	}
	i := r.i
	r.i++
	ci := gopacket.CaptureInfo{CaptureLength: 100, Length: 100, Timestamp: time.Unix(int64(i), 0)}
	if i%2 == 1 {
		r.buf[0] = byte(i)
		return r.buf[:], ci, nil
	}
	at := i % (len(r.back) / 100) * 100
	return r.back[at : at+100 : at+100], ci, nil
}

func (r *aheadReader) MappedFault(uintptr) error { return nil }
func (r *aheadReader) HoldMapped() bool          { r.held = true; return true }

func (r *aheadReader) InMapping(data []byte) bool {
	return &data[0] != &r.buf[0]
}

func (r *aheadReader) ReleaseTo(data []byte) {
	r.released.Store(int64(uintptr(unsafe.Pointer(&data[0]))-uintptr(unsafe.Pointer(&r.back[0]))) + int64(len(data)))
}

// TestPrefetcherHandsMappedPackets: from a MappedAheadReader the
// prefetcher hands out the packets in the mapping where they lie, copies
// the others, and releases the mapping only behind the packets the meter
// is done with.
func TestPrefetcherHandsMappedPackets(t *testing.T) {
	const n = 10_000
	r := &aheadReader{back: make([]byte, n*100), n: n}
	for i := range n {
		r.back[i*100] = byte(i)
	}
	p, err := NewPrefetcher(context.Background(), PrefetchConfiguration{BatchBytes: 1000, BatchPackets: 64, Batches: 3}, r)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !r.held {
		t.Fatal("HoldMapped not called")
	}
	done := int64(0) // the end of the packets the "meter" is done with
	for i := 0; ; i++ {
		var ci gopacket.CaptureInfo
		data, err := p.ReadPacket(&ci)
		if got := r.released.Load(); got > done {
			t.Fatalf("before packet %d: released up to byte %d, the meter done with %d", i, got, done)
		}
		if err == io.EOF && i == n {
			break
		}
		if err != nil || len(data) != 100 || data[0] != byte(i) || ci.Timestamp.Unix() != int64(i) {
			t.Fatalf("packet %d: %d bytes, first %d, time %d, error %v", i, len(data), data[0], ci.Timestamp.Unix(), err)
		}
		if inMap := &data[0] == &r.back[i*100]; inMap != (i%2 == 0) {
			t.Fatalf("packet %d handed out in the mapping: %t, want %t", i, inMap, i%2 == 0)
		}
		if i%2 == 0 {
			done = int64(i*100 + 100)
		}
	}
	if got := r.released.Load(); got < n*100/2 {
		t.Errorf("released up to byte %d of %d", got, n*100)
	}
}
