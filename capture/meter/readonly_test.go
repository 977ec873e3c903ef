package meter

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/gopacket"

	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/flow"
)

// sliceReader hands out copies of packets and keeps them, so a test can see
// what the meter did to them.
type sliceReader struct {
	pkts   []fuzzPacket
	handed [][]byte
}

func (r *sliceReader) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	if len(r.handed) == len(r.pkts) {
		return nil, gopacket.CaptureInfo{}, io.EOF
	}
	p := r.pkts[len(r.handed)]
	data := slices.Clone(p.data)
	r.handed = append(r.handed, data)
	return data, p.ci, nil
}

// TestRunLeavesPacketsUnchanged checks that Run, which sanitizes the
// packets it reads into a copy of its own (it may read a file mapped
// copy-on-write, where a write copies a page), produces exactly what
// Process produces (written packets, flows, counters, totals) on every
// sample capture, and never writes into a packet it was handed; that
// with a record buffer (Sinks.Records, where most packets are sanitized
// straight into the output) it writes the same packets; and that
// a meter without a packet sink, which only anonymizes flow records on
// export, exports the same flows.
func TestRunLeavesPacketsUnchanged(t *testing.T) {
	files, err := filepath.Glob("../../packet/testdata/pcaps/*.pcap*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample captures: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			lt, pkts := readCapture(t, path)
			if len(pkts) == 0 {
				t.Fatal("no packet readable by pcapgo")
			}
			type result struct {
				w     fuzzWriter
				flows []flow.Record
				ctrs  []counters.Record
				stats Stats
			}
			// build makes a meter whose sinks keep what it emits in res,
			// the packets written in res.w (writePackets) or in rc.
			build := func(res *result, writePackets bool, rc *recordCollector) *Meter {
				sinks := Sinks{
					Counters: func(r counters.Record) { res.ctrs = append(res.ctrs, r) },
					Flows:    func(r *flow.Record) { res.flows = append(res.flows, *r) },
				}
				if writePackets {
					sinks.Packets = &res.w
				}
				if rc != nil {
					sinks.Packets, sinks.Records = rc, &rc.rb
				}
				m, err := New(Configuration{
					Key:      &testKey,
					Counters: &counters.Configuration{Interval: time.Second},
					Flows:    ptr(flow.DefaultConfiguration()),
				}, lt, sinks)
				if err != nil {
					t.Fatalf("New() error:\n%+v", err)
				}
				return m
			}

			var copied, run, direct, flowsOnly result
			orig := make([][]byte, len(pkts))
			m := build(&copied, true, nil)
			for i, p := range pkts {
				orig[i] = slices.Clone(p.data)
				m.Process(p.data, p.ci)
			}
			if err := m.Flush(); err != nil {
				t.Fatal(err)
			}
			copied.stats = m.Stats()

			r := &sliceReader{pkts: pkts}
			m = build(&run, true, nil)
			if err := m.Run(context.Background(), r); err != nil {
				t.Fatalf("Run() error:\n%+v", err)
			}
			if err := m.Flush(); err != nil {
				t.Fatal(err)
			}
			run.stats = m.Stats()

			// With a record buffer (Sinks.Records, as -w has), the
			// packets of the sanitizer's fast path are sanitized
			// straight into it: the same records, the packets read
			// unchanged. The buffer is small, so that its end is met.
			rc := newRecordCollector(1 << 10)
			r3 := &sliceReader{pkts: pkts}
			m = build(&direct, false, rc)
			if err := m.Run(context.Background(), r3); err != nil {
				t.Fatalf("Run() error:\n%+v", err)
			}
			if err := m.Flush(); err != nil {
				t.Fatal(err)
			}
			rc.drain()
			if n := countChanged(orig, r3.handed); n != 0 {
				t.Errorf("with a record buffer, Run modified %d packets it read", n)
			}
			if len(rc.w.packets) != len(run.w.packets) {
				t.Errorf("with a record buffer, Run wrote %d packets, without %d", len(rc.w.packets), len(run.w.packets))
			}
			for i := range min(len(rc.w.packets), len(run.w.packets)) {
				a, b := rc.w.cis[i], run.w.cis[i]
				if !bytes.Equal(rc.w.packets[i], run.w.packets[i]) || !a.Timestamp.Equal(b.Timestamp) ||
					a.CaptureLength != b.CaptureLength || a.Length != b.Length {
					t.Fatalf("written packet %d: with a record buffer %x (%+v), without %x (%+v)", i, rc.w.packets[i], a, run.w.packets[i], b)
				}
			}
			if rc.direct == 0 {
				t.Logf("no packet written to the record buffer")
			}
			if m.Stats() != run.stats {
				t.Errorf("with a record buffer, Run's totals %+v, without %+v", m.Stats(), run.stats)
			}

			// Without a packet sink the packets are not rewritten at all;
			// the flow records are anonymized on export.
			r2 := &sliceReader{pkts: pkts}
			m = build(&flowsOnly, false, nil)
			if err := m.Run(context.Background(), r2); err != nil {
				t.Fatalf("Run() error:\n%+v", err)
			}
			if err := m.Flush(); err != nil {
				t.Fatal(err)
			}
			flowsOnly.stats = m.Stats()
			if n := countChanged(orig, r2.handed); n != 0 {
				t.Errorf("without a packet sink, %d packets were rewritten", n)
			}
			if !reflect.DeepEqual(flowsOnly.flows, copied.flows) {
				t.Errorf("without a packet sink: %d flows, with one %d, or they differ", len(flowsOnly.flows), len(copied.flows))
				for i := range min(len(flowsOnly.flows), len(copied.flows)) {
					if flowsOnly.flows[i] != copied.flows[i] {
						t.Errorf("first difference, flow %d:\n%+v\n%+v", i, flowsOnly.flows[i], copied.flows[i])
						break
					}
				}
			}
			withoutDrops := copied.stats
			withoutDrops.SanitizedDrops = 0 // nothing is written, so nothing is dropped
			if !reflect.DeepEqual(flowsOnly.ctrs, copied.ctrs) || flowsOnly.stats != withoutDrops {
				t.Errorf("without a packet sink, the counters or totals differ")
			}

			if !reflect.DeepEqual(run.w, copied.w) {
				t.Fatalf("Run wrote %d packets, Process %d, or they differ", len(run.w.packets), len(copied.w.packets))
			}
			ref, drops := sanitizeReference(t, lt, pkts)
			written := 0
			for i := range pkts {
				if !bytes.Equal(pkts[i].data, orig[i]) {
					t.Fatalf("packet %d: Process modified its input", i)
				}
				if !bytes.Equal(r.handed[i], orig[i]) {
					t.Fatalf("packet %d: Run modified the packet it read", i)
				}
				if drops[i] {
					continue
				}
				if !bytes.Equal(ref[i], run.w.packets[written]) {
					t.Fatalf("packet %d: Run wrote\n%x\nthe reference sanitizes it to\n%x", i, run.w.packets[written], ref[i])
				}
				written++
			}
			if !reflect.DeepEqual(run.flows, copied.flows) {
				t.Errorf("Run exported %d flows, Process %d, or they differ", len(run.flows), len(copied.flows))
			}
			if !reflect.DeepEqual(run.ctrs, copied.ctrs) {
				t.Errorf("Run emitted %d counter intervals, Process %d, or they differ", len(run.ctrs), len(copied.ctrs))
			}
			if run.stats != copied.stats {
				t.Errorf("Run's totals %+v, Process's %+v", run.stats, copied.stats)
			}
		})
	}
}

func countChanged(a, b [][]byte) int {
	n := 0
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			n++
		}
	}
	return n
}

// recordCollector is a Packets sink with a record buffer (Sinks.Records)
// that keeps what is written, both ways, in order, as a fuzzWriter
// would have been handed it: records are read back from the buffer
// whenever a packet goes through the sink, and by drain.
type recordCollector struct {
	w      fuzzWriter
	buf    []byte
	n      int
	rb     RecordBuffer
	direct int // records read back from the buffer
}

func newRecordCollector(size int) *recordCollector {
	c := &recordCollector{buf: make([]byte, size)}
	c.rb = RecordBuffer{Buf: c.buf, N: &c.n}
	return c
}

// drain reads the records back from the buffer and empties it.
func (c *recordCollector) drain() {
	b := c.buf[:c.n]
	for len(b) > 0 {
		h0, h1 := binary.LittleEndian.Uint64(b[0:8]), binary.LittleEndian.Uint64(b[8:16])
		n := int(uint32(h1))
		c.w.packets = append(c.w.packets, slices.Clone(b[pcapRecordHeader:pcapRecordHeader+n]))
		c.w.cis = append(c.w.cis, gopacket.CaptureInfo{
			Timestamp:     time.Unix(int64(uint32(h0)), int64(h0>>32)),
			CaptureLength: n,
			Length:        int(h1 >> 32),
		})
		b = b[pcapRecordHeader+n:]
		c.direct++
	}
	c.n = 0
}

func (c *recordCollector) WritePacket(ci gopacket.CaptureInfo, data []byte) error {
	c.drain()
	return c.w.WritePacket(ci, data)
}

func (c *recordCollector) WriteRecord(ts time.Time, length int, data []byte) error {
	return c.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(data), Length: length}, data)
}
