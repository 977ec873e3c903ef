package meter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/google/gopacket"

	"github.com/gimsproject/gims/packet"
	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/flow"
)

// TestPrefetcherMatchesRun runs every sample capture, three times over,
// through a meter fed directly and through a Prefetcher, with batches that
// hold many packets, a few, or less than one (packets longer than a batch),
// with and without a key and a packet sink: the written packets, flows,
// counters and totals are the same. So are they when Run reads the
// packets from a BatchReader (batchReader: batches of 1 to 17 packets),
// decoding and preparing a batch before it accounts its packets.
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
			t.Run(fmt.Sprintf("%s/key %v/BatchReader", filepath.Base(path), key), func(t *testing.T) {
				var got result
				m := build(&got)
				br := &batchReader{sliceReader: sliceReader{pkts: pkts}}
				if err := m.Run(context.Background(), br); err != nil {
					t.Fatalf("Run() error:\n%+v", err)
				}
				if err := m.Flush(); err != nil {
					t.Fatal(err)
				}
				got.stats = m.Stats()
				if br.batches == 0 {
					t.Error("Run did not read through ReadPackets")
				}
				if !reflect.DeepEqual(got.w, want.w) {
					t.Errorf("%d packets written from batches, %d one by one, or they differ", len(got.w.packets), len(want.w.packets))
				}
				if !reflect.DeepEqual(got.flows, want.flows) {
					t.Errorf("%d flows from batches, %d one by one, or they differ", len(got.flows), len(want.flows))
				}
				if !reflect.DeepEqual(got.ctrs, want.ctrs) || got.stats != want.stats {
					t.Errorf("counters or totals differ: %+v, want %+v", got.stats, want.stats)
				}
			})
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

// batchReader is a sliceReader that is a BatchReader too: batches of 1 to
// 17 packets in turn, each packet its own copy, valid until the next call.
type batchReader struct {
	sliceReader
	batches int
}

func (r *batchReader) ReadPackets(cis []gopacket.CaptureInfo, data [][]byte) (int, error) {
	want := min(len(cis), 1+r.batches%17)
	r.batches++
	n := 0
	for ; n < want; n++ {
		d, ci, err := r.ZeroCopyReadPacketData()
		if err != nil {
			if n == 0 {
				return 0, err
			}
			break
		}
		data[n], cis[n] = d, ci
	}
	return n, nil
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
