package ipfix

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/gimsproject/gims/transform/flow"
)

// FlowRow is one flow record as results show it: what the exporter writes
// of a flow.Record, and what ReadTopFlows reads back from a file.
type FlowRow struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8
	VLAN             uint16
	Packets, Bytes   uint64
	// RevPackets and RevBytes count the reverse direction (biflow).
	RevPackets, RevBytes uint64
	// Start and End are in UTC, in whole milliseconds as IPFIX carries
	// them (flowStartMilliseconds, flowEndMilliseconds).
	Start, End time.Time
	// EndReason is "idle", "active", "end", "forced" or "resources".
	EndReason string
}

// FlowRowOf is the row of a flow as the exporter writes it, so that rows
// of flows kept in memory equal those read back from the file.
func FlowRowOf(r *flow.Record) FlowRow {
	return FlowRow{
		Src: r.Key.SrcAddr(), Dst: r.Key.DstAddr(),
		SrcPort: r.Key.SrcPort, DstPort: r.Key.DstPort, Proto: r.Key.Proto, VLAN: r.Key.VLAN,
		Packets: r.Packets, Bytes: r.Bytes, RevPackets: r.RevPackets, RevBytes: r.RevBytes,
		Start: wholeMillis(r.Start), End: wholeMillis(r.End), EndReason: r.EndReason.String(),
	}
}

// wholeMillis is t as IPFIX carries it (flowStartMilliseconds), in UTC.
func wholeMillis(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

func (r *FlowRow) size() uint64 { return r.Bytes + r.RevBytes }

// compareFlows orders flows for results: the most bytes in both
// directions first, then the most packets, then the earliest start, then
// by key so that the order is total.
func compareFlows(a, b *FlowRow) int {
	if c := cmp.Compare(b.size(), a.size()); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Packets+b.RevPackets, a.Packets+a.RevPackets); c != 0 {
		return c
	}
	if c := a.Start.Compare(b.Start); c != 0 {
		return c
	}
	if c := a.Src.Compare(b.Src); c != 0 {
		return c
	}
	if c := a.Dst.Compare(b.Dst); c != 0 {
		return c
	}
	if c := cmp.Compare(a.SrcPort, b.SrcPort); c != 0 {
		return c
	}
	if c := cmp.Compare(a.DstPort, b.DstPort); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Proto, b.Proto); c != 0 {
		return c
	}
	if c := cmp.Compare(a.VLAN, b.VLAN); c != 0 {
		return c
	}
	return a.End.Compare(b.End)
}

// larger tells whether a comes before b in results.
func larger(a, b *FlowRow) bool { return compareFlows(a, b) < 0 }

// TopFlows keeps the n largest flows (bytes both ways, then packets, then
// the earliest start): the flows results show, largest first. It is a
// min-heap, the smallest kept flow at the root, replaced when a larger
// one comes; Add does not allocate once it is full. It is safe for
// concurrent use.
type TopFlows struct {
	mu   sync.Mutex
	n    int
	heap []FlowRow
}

// NewTopFlows returns an empty TopFlows that keeps n flows.
func NewTopFlows(n int) *TopFlows { return &TopFlows{n: n} }

// Add offers a flow.
func (t *TopFlows) Add(r FlowRow) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.heap
	if len(h) < t.n {
		h = append(h, r)
		for i := len(h) - 1; i > 0; {
			p := (i - 1) / 2
			if !larger(&h[p], &h[i]) {
				break
			}
			h[p], h[i] = h[i], h[p]
			i = p
		}
		t.heap = h
		return
	}
	if len(h) == 0 || !larger(&r, &h[0]) {
		return
	}
	h[0] = r
	for i := 0; ; {
		s, l, rr := i, 2*i+1, 2*i+2
		if l < len(h) && larger(&h[s], &h[l]) {
			s = l
		}
		if rr < len(h) && larger(&h[s], &h[rr]) {
			s = rr
		}
		if s == i {
			return
		}
		h[s], h[i] = h[i], h[s]
		i = s
	}
}

// Sorted returns the kept flows, largest first.
func (t *TopFlows) Sorted() []FlowRow {
	t.mu.Lock()
	rows := slices.Clone(t.heap)
	t.mu.Unlock()
	slices.SortFunc(rows, func(a, b FlowRow) int { return compareFlows(&a, &b) })
	return rows
}

// Reset forgets every kept flow.
func (t *TopFlows) Reset() {
	t.mu.Lock()
	t.heap = t.heap[:0]
	t.mu.Unlock()
}

// Load offers every flow of an IPFIX file (see ReadFlows) and returns how
// many it read.
func (t *TopFlows) Load(path string) (int, error) { return ReadFlows(path, t.Add) }

// ReadTopFlows returns the n largest flows of an IPFIX file written by the
// exporter, largest first; a missing file has none.
func ReadTopFlows(path string, n int) ([]FlowRow, error) {
	t := NewTopFlows(n)
	if _, err := t.Load(path); err != nil {
		return nil, err
	}
	return t.Sorted(), nil
}

// WalkMessages reads consecutive IPFIX messages from r, calls fn (when not
// nil) with each complete one (valid until the next call), and returns the
// length of the complete messages. It stops at the end of the data, at a
// partial message, or at something that is not an IPFIX message header:
// the length is where a file cut short by a crash is cut back to.
func WalkMessages(r io.Reader, fn func(msg []byte) error) (int64, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var good int64
	buf := make([]byte, 0, 1<<16)
	for {
		hdr, err := br.Peek(msgHeaderLength)
		if err != nil {
			return good, endErr(err)
		}
		n := int(binary.BigEndian.Uint16(hdr[2:4]))
		if binary.BigEndian.Uint16(hdr[0:2]) != ipfixVersion || n < msgHeaderLength {
			return good, nil
		}
		buf = buf[:n]
		if _, err := io.ReadFull(br, buf); err != nil {
			return good, endErr(err)
		}
		if fn != nil {
			if err := fn(buf); err != nil {
				return good, err
			}
		}
		good += int64(n)
	}
}

// endErr maps the end of the data (complete or not) to no error.
func endErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, bufio.ErrBufferFull) {
		return nil
	}
	return fmt.Errorf("unable to read: %w", err)
}
