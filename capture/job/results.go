package job

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	calmh "github.com/calmh/ipfix"

	"github.com/gimsproject/gims/transform/flow"
)

// Result kinds of Results.
const (
	KindCounters = "counters"
	KindFlows    = "flows"
	KindFiles    = "files"
)

// Paging of Results.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// TopFlows is how many flows, the largest, a job keeps for Results; all
// of them are in flows.ipfix.
const TopFlows = 10000

// CounterRow is one interval of counters.csv.
type CounterRow struct {
	Time                                              time.Time
	Packets, Bytes                                    uint64
	TCPPackets, UDPPackets, ICMPPackets, OtherPackets uint64
	// TCPBytes, UDPBytes, ICMPBytes and OtherBytes are the wire bytes of
	// each protocol class; they add up to Bytes. They are zero in files
	// written before these columns were added (7 columns instead of 11).
	TCPBytes, UDPBytes, ICMPBytes, OtherBytes uint64
}

// FlowRow is one exported flow record.
type FlowRow struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8
	VLAN             uint16
	Packets, Bytes   uint64
	// RevPackets and RevBytes count the reverse direction (biflow).
	RevPackets, RevBytes uint64
	Start, End           time.Time
	// EndReason is "idle", "active", "end", "forced" or "resources".
	EndReason string
}

func (r *FlowRow) size() uint64 { return r.Bytes + r.RevBytes }

// compareFlows orders flows for Results: the most bytes in both
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

// larger tells whether a comes before b in Results.
func larger(a, b *FlowRow) bool { return compareFlows(a, b) < 0 }

// FileInfo is one result file of a job.
type FileInfo struct {
	Name string
	Size int64
}

// millis is t as IPFIX carries it (flowStartMilliseconds), in UTC, so that
// flows read back from flows.ipfix equal those kept in memory.
func millis(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

func flowRow(r *flow.Record) FlowRow {
	return FlowRow{
		Src: r.Key.SrcAddr(), Dst: r.Key.DstAddr(),
		SrcPort: r.Key.SrcPort, DstPort: r.Key.DstPort, Proto: r.Key.Proto, VLAN: r.Key.VLAN,
		Packets: r.Packets, Bytes: r.Bytes, RevPackets: r.RevPackets, RevBytes: r.RevBytes,
		Start: millis(r.Start), End: millis(r.End), EndReason: r.EndReason.String(),
	}
}

// topFlows keeps the n largest flows in a min-heap (the smallest kept flow
// at the root, replaced when a larger one comes). Add does not allocate
// once the heap is full.
type topFlows struct {
	mu   sync.Mutex
	n    int
	heap []FlowRow
}

func newTopFlows(n int) *topFlows { return &topFlows{n: n} }

func (t *topFlows) add(r FlowRow) {
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

// sorted returns the kept flows, largest first.
func (t *topFlows) sorted() []FlowRow {
	t.mu.Lock()
	rows := slices.Clone(t.heap)
	t.mu.Unlock()
	slices.SortFunc(rows, func(a, b FlowRow) int { return compareFlows(&a, &b) })
	return rows
}

func (t *topFlows) reset() {
	t.mu.Lock()
	t.heap = t.heap[:0]
	t.mu.Unlock()
}

// loadFlows reads an IPFIX file written by a job back into t, so that
// Results survive a restart of the daemon. It returns the number of records
// read.
func loadFlows(path string, t *topFlows) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("unable to read flows: %w", err)
	}
	defer f.Close()
	s := calmh.NewSession()
	in := calmh.NewInterpreter(s)
	var fields []calmh.InterpretedField
	n := 0
	_, err = walkIPFIX(f, func(buf []byte) error {
		msg, err := s.ParseBuffer(buf)
		if err != nil {
			return fmt.Errorf("unable to parse %s: %w", path, err)
		}
		for _, dr := range msg.DataRecords {
			fields = in.InterpretInto(dr, fields[:0])
			r := decodeFlow(fields)
			t.add(r)
			n++
		}
		return nil
	})
	return n, err
}

// decodeFlow turns the fields of one data record into a FlowRow, by the
// IANA and RFC 5103 names of calmh/ipfix's dictionary.
func decodeFlow(fields []calmh.InterpretedField) FlowRow {
	var r FlowRow
	for _, f := range fields {
		switch f.Name {
		case "sourceIPv4Address", "sourceIPv6Address":
			r.Src = ipValue(f.Value)
		case "destinationIPv4Address", "destinationIPv6Address":
			r.Dst = ipValue(f.Value)
		case "sourceTransportPort":
			r.SrcPort = uint16(uintValue(f.Value))
		case "destinationTransportPort":
			r.DstPort = uint16(uintValue(f.Value))
		case "protocolIdentifier":
			r.Proto = uint8(uintValue(f.Value))
		case "vlanId":
			r.VLAN = uint16(uintValue(f.Value))
		case "octetDeltaCount":
			r.Bytes = uintValue(f.Value)
		case "packetDeltaCount":
			r.Packets = uintValue(f.Value)
		case "reverseOctetDeltaCount":
			r.RevBytes = uintValue(f.Value)
		case "reversePacketDeltaCount":
			r.RevPackets = uintValue(f.Value)
		case "flowEndReason":
			r.EndReason = flow.EndReason(uintValue(f.Value)).String()
		case "flowStartMilliseconds", "flowEndMilliseconds":
			if t, ok := f.Value.(time.Time); ok {
				t = millis(t)
				if f.Name == "flowStartMilliseconds" {
					r.Start = t
				} else {
					r.End = t
				}
			}
		}
	}
	return r
}

func ipValue(v any) netip.Addr {
	var ip net.IP
	switch v := v.(type) {
	case *net.IP:
		ip = *v
	case net.IP:
		ip = v
	}
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

func uintValue(v any) uint64 {
	switch v := v.(type) {
	case uint8:
		return uint64(v)
	case uint16:
		return uint64(v)
	case uint32:
		return uint64(v)
	case uint64:
		return v
	}
	return 0
}

// readCounters returns rows [offset, offset+limit) of a counters CSV file.
// A partial last line (being written) is left out.
func readCounters(path string, offset, limit int) ([]CounterRow, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return []CounterRow{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("unable to read counters: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	rows := []CounterRow{}
	for i := -1; len(rows) < limit; i++ { // row -1 is the header
		line, err := br.ReadString('\n')
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("unable to read counters: %w", err)
		}
		if i < offset {
			continue
		}
		row, err := parseCounterRow(strings.TrimSuffix(line, "\n"))
		if err != nil {
			return nil, fmt.Errorf("%s row %d: %w", filepath.Base(path), i+1, err)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// parseCounterRow parses one row of counters.csv: 11 columns, or the 7 of
// files written before the per-protocol byte columns were added (whose
// per-protocol bytes are then left at zero).
func parseCounterRow(line string) (CounterRow, error) {
	var r CounterRow
	cols := strings.Split(line, ",")
	if len(cols) != 7 && len(cols) != 11 {
		return r, fmt.Errorf("want 11 columns (or 7), got %d", len(cols))
	}
	var err error
	if r.Time, err = time.Parse(time.RFC3339Nano, cols[0]); err != nil {
		return r, fmt.Errorf("bad time: %w", err)
	}
	dsts := []*uint64{
		&r.Packets, &r.Bytes, &r.TCPPackets, &r.UDPPackets, &r.ICMPPackets, &r.OtherPackets,
		&r.TCPBytes, &r.UDPBytes, &r.ICMPBytes, &r.OtherBytes,
	}
	for i, dst := range dsts[:len(cols)-1] {
		if *dst, err = strconv.ParseUint(cols[i+1], 10, 64); err != nil {
			return r, fmt.Errorf("column %d: %w", i+2, err)
		}
	}
	return r, nil
}

// page bounds offset and limit as Results documents.
func page(offset, limit int) (int, int, error) {
	if offset < 0 {
		return 0, 0, invalidf("offset must not be negative, got %d", offset)
	}
	if limit < 0 || limit > MaxLimit {
		return 0, 0, invalidf("limit must be between 1 and %d, got %d", MaxLimit, limit)
	}
	if limit == 0 {
		limit = DefaultLimit
	}
	return offset, limit, nil
}
