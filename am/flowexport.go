package am

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/flowstore"
	"github.com/gimsproject/gims/packet"
)

// Names of the flow exports under /files/<id>/.
const (
	ExportCSV     = "flows.csv"
	ExportParquet = "flows.parquet"
	ExportPcap    = "query.pcap"
)

// FlowExport is an export of an experiment's flows being served: checked
// and opened by OpenFlowExport, written by WriteTo, then closed.
type FlowExport struct {
	// Name is the download name ("exp<id>-flows.csv").
	Name string
	// ContentType is its media type.
	ContentType string

	m     *Manager
	e     db.Experiment
	p     Principal
	kind  string
	query flowstore.Query
	store *flowstore.Store
}

// OpenFlowExport checks p's access to experiment id and the query
// (filter, from, to of q; the rest is ignored) and opens the flow store
// for an export named name: flows.csv, flows.parquet or query.pcap.
func (m *Manager) OpenFlowExport(ctx context.Context, p Principal, id int64, name string, q amapi.FlowQuery) (*FlowExport, error) {
	e, err := m.experiment(ctx, p, id)
	if err != nil {
		return nil, err
	}
	x := &FlowExport{m: m, e: e, p: p, kind: name, Name: fmt.Sprintf("exp%d-%s", id, name)}
	switch name {
	case ExportCSV:
		x.ContentType = "text/csv; charset=utf-8"
	case ExportParquet:
		x.ContentType = "application/vnd.apache.parquet"
	case ExportPcap:
		x.ContentType = "application/vnd.tcpdump.pcap"
	default:
		return nil, fmt.Errorf("%w: export %q of experiment %d", ErrNotFound, name, id)
	}
	if x.query, err = storeQuery(q.Filter, q.From, q.To); err != nil {
		return nil, err
	}
	if x.store, err = m.openFlows(ctx, &e); err != nil {
		return nil, err
	}
	return x, nil
}

// Close closes the flow store.
func (x *FlowExport) Close() error { return x.store.Close() }

// WriteTo writes the export to w, streaming.
func (x *FlowExport) WriteTo(ctx context.Context, w io.Writer) error {
	switch x.kind {
	case ExportCSV:
		return x.store.WriteCSV(ctx, w, x.query)
	case ExportParquet:
		return x.store.WriteParquet(ctx, w, x.query)
	}
	return x.writePcap(ctx, w)
}

// flowKey is a flow's key with its ends in a canonical order, so that
// packets of both directions find it.
type flowKey struct {
	a, b         [16]byte
	pa, pb, vlan uint16
	proto        uint8
}

// fragKey finds the flows of fragments that carry no ports.
type fragKey struct {
	a, b  [16]byte
	vlan  uint16
	proto uint8
}

// window is when a flow saw packets: [start, end] in milliseconds.
type window struct{ start, end int64 }

// flowCut is the set of flows whose packets query.pcap keeps.
type flowCut struct {
	flows map[flowKey][]window
	frags map[fragKey][]window
}

// canonicalKey is the key of a flow or a packet with its ends ordered;
// an ICMP echo reply is keyed as its request, as the flow meter does.
func canonicalKey(a, b [16]byte, pa, pb, vlan uint16, proto uint8) flowKey {
	if proto == 1 || proto == 58 {
		typ, code := pb>>8, pb&0xff
		switch {
		case proto == 1 && typ == 0:
			pb = 8<<8 | code
		case proto == 58 && typ == 129:
			pb = 128<<8 | code
		}
		if string(b[:]) < string(a[:]) {
			a, b = b, a
		}
		return flowKey{a: a, b: b, pa: pa, pb: pb, vlan: vlan, proto: proto}
	}
	k := flowKey{a: a, b: b, pa: pa, pb: pb, vlan: vlan, proto: proto}
	if string(b[:]) < string(a[:]) || (a == b && pb < pa) {
		k.a, k.b, k.pa, k.pb = b, a, pb, pa
	}
	return k
}

func canonicalFrag(a, b [16]byte, vlan uint16, proto uint8) fragKey {
	if string(b[:]) < string(a[:]) {
		a, b = b, a
	}
	return fragKey{a: a, b: b, vlan: vlan, proto: proto}
}

// summaryAddr is an address as packet.Summary holds it: IPv4 in the
// first 4 bytes.
func summaryAddr(r *flowstore.Row, dst bool) [16]byte {
	a := r.Src
	if dst {
		a = r.Dst
	}
	var out [16]byte
	if a.Is4() {
		b := a.As4()
		copy(out[:], b[:])
		return out
	}
	return a.As16()
}

func (c *flowCut) add(r *flowstore.Row) {
	a, b := summaryAddr(r, false), summaryAddr(r, true)
	w := window{start: r.Start.UnixMilli(), end: r.End.UnixMilli()}
	k := canonicalKey(a, b, r.SrcPort, r.DstPort, r.VLAN, r.Proto)
	c.flows[k] = append(c.flows[k], w)
	f := canonicalFrag(a, b, r.VLAN, r.Proto)
	c.frags[f] = append(c.frags[f], w)
}

// match tells whether a packet belongs to one of the flows: its key and
// its time (truncated to the millisecond, as IPFIX carries flow times).
func (c *flowCut) match(s *packet.Summary) bool {
	if s.IPVersion == 0 {
		return false
	}
	var ws []window
	switch {
	case s.HasPorts && !(s.Fragment && s.FragOffset != 0):
		ws = c.flows[canonicalKey(s.Src, s.Dst, s.SrcPort, s.DstPort, s.VLAN, s.Proto)]
	case s.Fragment:
		ws = c.frags[canonicalFrag(s.Src, s.Dst, s.VLAN, s.Proto)]
	default:
		ws = c.flows[canonicalKey(s.Src, s.Dst, 0, 0, s.VLAN, s.Proto)]
	}
	ms := s.Timestamp.UnixMilli()
	for _, w := range ws {
		if ms >= w.start && ms <= w.end {
			return true
		}
	}
	return false
}

// pcapSource is one stored pcap being read, with its next packet.
type pcapSource struct {
	file *ResultFile
	r    *pcapgo.Reader
	cut  *flowCut
	dec  *packet.Decoder
	data []byte
	ci   gopacket.CaptureInfo
	ok   bool
}

// next reads the source's next matching packet.
func (s *pcapSource) next() error {
	var sum packet.Summary
	for {
		// Packets are read in place and only the kept ones copied: the
		// cut of one flow out of a large pcap allocates nothing per
		// packet.
		data, ci, err := s.r.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			s.ok = false
			return nil
		}
		if err != nil {
			return err
		}
		s.dec.Decode(data, ci, &sum)
		if s.cut.match(&sum) {
			s.data = append(s.data[:0], data...)
			s.ci, s.ok = ci, true
			return nil
		}
	}
}

// writePcap writes the packets of the selected flows from the stored
// pcaps of every device, merged by time, streaming: only the flow keys
// are held in memory.
func (x *FlowExport) writePcap(ctx context.Context, w io.Writer) error {
	cuts := map[string]*flowCut{}
	err := x.store.Each(ctx, x.query, func(r *flowstore.Row) error {
		k := r.Device + "\x00" + r.Interface
		c := cuts[k]
		if c == nil {
			c = &flowCut{flows: map[flowKey][]window{}, frags: map[fragKey][]window{}}
			cuts[k] = c
		}
		c.add(r)
		return nil
	})
	if err != nil {
		return err
	}
	files, err := x.m.files(ctx, &x.e)
	if err != nil {
		return err
	}
	var srcs []*pcapSource
	defer func() {
		for _, s := range srcs {
			s.file.Close()
		}
	}()
	var linkType layers.LinkType
	snaplen := uint32(0)
	for _, f := range files {
		cut := cuts[f.Device+"\x00"+f.Interface]
		if cut == nil || !strings.HasSuffix(f.Name, ".pcap") {
			continue
		}
		pos := -1
		for i := range x.e.Devices {
			if x.e.Devices[i].Device == f.Device && x.e.Devices[i].Interface == f.Interface {
				pos = x.e.Devices[i].Position
			}
		}
		rf, err := x.m.OpenResultFile(ctx, x.p, x.e.ID, pos, f.Name)
		if err != nil {
			return err
		}
		var body io.Reader = rf.Body
		if rf.File != nil {
			body = rf.File
		}
		s := &pcapSource{file: rf, cut: cut}
		srcs = append(srcs, s)
		if s.r, err = pcapgo.NewReader(bufio.NewReaderSize(body, 1<<16)); err != nil {
			return fmt.Errorf("%s of %s: %w", f.Name, f.Device, err)
		}
		if linkType == 0 {
			linkType = s.r.LinkType()
		} else if s.r.LinkType() != linkType {
			return fmt.Errorf("%w: the pcaps of this experiment have different link types (%s, %s): cut one device at a time",
				ErrInvalid, linkType, s.r.LinkType())
		}
		snaplen = max(snaplen, s.r.Snaplen())
		if s.dec, err = packet.NewDecoder(s.r.LinkType()); err != nil {
			return fmt.Errorf("%s of %s: %w", f.Name, f.Device, err)
		}
		if err := s.next(); err != nil {
			return fmt.Errorf("%s of %s: %w", f.Name, f.Device, err)
		}
	}
	if linkType == 0 {
		linkType = layers.LinkTypeEthernet
	}
	if snaplen == 0 {
		snaplen = 262144
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	pw := pcapgo.NewWriterNanos(bw)
	if err := pw.WriteFileHeader(snaplen, linkType); err != nil {
		return err
	}
	for {
		var first *pcapSource
		for _, s := range srcs {
			if s.ok && (first == nil || s.ci.Timestamp.Before(first.ci.Timestamp)) {
				first = s
			}
		}
		if first == nil {
			break
		}
		if err := pw.WritePacket(first.ci, first.data); err != nil {
			return err
		}
		if err := first.next(); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return bw.Flush()
}
