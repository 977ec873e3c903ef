package flowstore

import (
	"bytes"
	"cmp"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/gimsproject/gims/flowfilter"
)

// SnapshotMaxFlows is the most flows a store keeps in its in-memory
// snapshot (about 75 bytes each: 20,000,000 flows take about 1.4 GiB); a
// store holding more answers every query in SQL.
const SnapshotMaxFlows = 20_000_000

// snapshot is a columnar copy of a store's flows in memory, for the
// grouped queries with a filter or time bounds: neither the rollup nor
// an index serves those, and SQLite's pass over every row costs about
// ten times a Go loop over columns with the compiled predicate
// (flowfilter's Match). Addresses and devices are interned: the columns
// hold their indexes.
//
// It is loaded on the first such query and kept up to date by meta's
// generation (flows appended: the new rows are read) and epoch (flows
// replaced: loaded again).
type snapshot struct {
	gen, epoch int64
	maxRowid   int64
	// fileOff is where the column file's chunks read so far end;
	// sqlRows counts the flows read from SQLite instead.
	fileOff int64
	sqlRows int

	cols
	ips []netip.Addr
}

func newSnapshot() *snapshot { return &snapshot{cols: newCols()} }

// addr interns an address, and keeps its netip.Addr for the filters.
func (sn *snapshot) addr(a [16]byte) uint32 {
	n := len(sn.addrs)
	i := sn.cols.addr(a)
	if len(sn.addrs) > n {
		sn.ips = append(sn.ips, netip.AddrFrom16(a).Unmap())
	}
	return i
}

// flowColumns are the columns of a flow as load and the column file's
// gap fill read them: the stored ones (schema), fewer calls into SQLite.
const flowColumns = `rowid, device, addrs, tuple, packets, bytes, rev_packets, rev_bytes, start_ms, end_ms`

// colFlowOf decodes a row of flowColumns.
func colFlowOf(v []driver.Value, f *colFlow) error {
	rowid, _ := v[0].(int64)
	dev, ok1 := v[1].(string)
	addrs, ok2 := v[2].([]byte)
	if !ok1 || !ok2 || len(addrs) != 32 {
		return fmt.Errorf("row %d is not a flow (%T %T)", rowid, v[1], v[2])
	}
	var n [7]int64
	for i := range n {
		x, ok := v[3+i].(int64)
		if !ok {
			return fmt.Errorf("row %d is not a flow (%T)", rowid, v[3+i])
		}
		n[i] = x
	}
	*f = colFlow{rowid: rowid, dev: dev, src: [16]byte(addrs[:16]), dst: [16]byte(addrs[16:]),
		sport: uint16(n[0]), dport: uint16(n[0] >> 16), proto: uint8(n[0] >> 32), vlan: uint16(n[0] >> 40),
		fwdPackets: n[1], fwdBytes: n[2], revPackets: n[3], revBytes: n[4], startMs: n[5], endMs: n[6]}
	return nil
}

// load appends the flows past sn.maxRowid from SQLite. It reads the
// driver's rows directly: database/sql's Scan of eleven columns costs
// three times what SQLite spends producing them.
func (sn *snapshot) load(ctx context.Context, s *Store) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("unable to load the flows: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("the driver's connection %T cannot query", dc)
		}
		rows, err := qc.QueryContext(ctx, `SELECT `+flowColumns+` FROM flows WHERE rowid > ? ORDER BY rowid`,
			[]driver.NamedValue{{Ordinal: 1, Value: sn.maxRowid}})
		if err != nil {
			return err
		}
		defer rows.Close()
		v := make([]driver.Value, 10)
		var f colFlow
		for {
			if err := rows.Next(v); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return err
			}
			if err := colFlowOf(v, &f); err != nil {
				return err
			}
			if err := sn.add(&f); err != nil {
				return err
			}
			sn.sqlRows++
		}
	})
	if err != nil {
		return fmt.Errorf("unable to load the flows: %w", err)
	}
	return nil
}

// add appends one flow.
func (sn *snapshot) add(f *colFlow) error {
	if err := sn.addIndexed(f, sn.addr(f.src), sn.addr(f.dst)); err != nil {
		return err
	}
	sn.maxRowid = f.rowid
	return nil
}

// snapEntry is a store's snapshot and the lock a query or a load holds
// on it.
type snapEntry struct {
	mu   sync.Mutex
	snap *snapshot
	// preloaded is closed when the preload last started ends.
	preloaded chan struct{}
}

// Snapshots keeps the snapshots of the stores opened with OpenShared
// across their opens (the AM opens a store per request), for the
// stores used last, at most MaxStores of them (each at most
// SnapshotMaxFlows flows, about 1 GiB). It is safe for concurrent use.
type Snapshots struct {
	maxStores int
	mu        sync.Mutex
	entries   map[string]*snapEntry
	used      []string // paths, the last used last
}

// NewSnapshots returns a Snapshots that keeps the snapshots of
// maxStores stores (at least 1).
func NewSnapshots(maxStores int) *Snapshots {
	return &Snapshots{maxStores: max(maxStores, 1), entries: map[string]*snapEntry{}}
}

// entry returns the entry of the store at path, a new one of its own
// when c is nil, and forgets the least recently used ones past
// maxStores (a query running on one keeps it until it ends).
func (c *Snapshots) entry(path string) *snapEntry {
	if c == nil {
		return &snapEntry{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.used = slices.DeleteFunc(c.used, func(p string) bool { return p == path })
	c.used = append(c.used, path)
	e := c.entries[path]
	if e == nil {
		e = &snapEntry{}
		c.entries[path] = e
	}
	for len(c.used) > c.maxStores {
		delete(c.entries, c.used[0])
		c.used = c.used[1:]
	}
	return e
}

// snapshot returns the store's snapshot brought up to date, or nil when
// the store holds more than SnapshotMaxFlows flows (or is set to use
// SQL only). When none is loaded it may return one of only the columns
// need, read for one query (not kept). The caller holds s.snaps.mu.
func (s *Store) snapshot(ctx context.Context, need colMask) (*snapshot, error) {
	if s.sqlOnly {
		return nil, nil
	}
	var gen, epoch, maxRowid int64
	if err := s.db.QueryRowContext(ctx, `SELECT gen, epoch, (SELECT coalesce(max(rowid), 0) FROM flows) FROM meta`).
		Scan(&gen, &epoch, &maxRowid); err != nil {
		return nil, fmt.Errorf("unable to read the flow store's generation: %w", err)
	}
	if maxRowid > SnapshotMaxFlows {
		// Rowids count the flows ever stored: an upper bound.
		var n int64
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM flows`).Scan(&n); err != nil {
			return nil, fmt.Errorf("unable to count the flows: %w", err)
		}
		if n > SnapshotMaxFlows {
			s.snaps.snap = nil
			return nil, nil
		}
	}
	sn := s.snaps.snap
	if sn != nil && sn.epoch == epoch && sn.gen == gen {
		return sn, nil
	}
	if (sn == nil || sn.epoch != epoch) && need != allCols && s.partial {
		// Nothing loaded (a new process): the columns this query needs
		// from the column file, when it holds every flow, and the
		// whole snapshot loaded after, in the background.
		p := newSnapshot()
		p.mask = need
		if err := s.readColFile(p, epoch, gen); err != nil {
			return nil, err
		}
		if p.maxRowid == maxRowid {
			s.snaps.snap = nil // stale: the preload replaces it
			s.startPreload(epoch, gen, maxRowid)
			return p, nil
		}
	}
	if sn == nil || sn.epoch != epoch {
		sn = newSnapshot()
	}
	s.snaps.snap = nil
	if err := s.readColFile(sn, epoch, gen); err != nil {
		return nil, err
	}
	if err := sn.load(ctx, s); err != nil {
		return nil, err
	}
	sn.gen, sn.epoch = gen, epoch
	s.snaps.snap = sn
	return sn, nil
}

// startPreload starts preload for the store, unless it is set not to or
// one runs. The caller holds s.snaps.mu.
func (s *Store) startPreload(epoch, gen, maxRowid int64) {
	if e := s.snaps; s.preload && (e.preloaded == nil || closed(e.preloaded)) {
		e.preloaded = make(chan struct{})
		go preload(e, e.preloaded, s.colPath, epoch, gen, maxRowid)
	}
}

// preload loads a store's snapshot from its column file into e, unless
// one is there already: after a query answered from some columns, the
// next ones find every column. It reads the file alone (the store may be
// closed by then), and keeps what it read only if that is every flow up
// to maxRowid.
func preload(e *snapEntry, done chan struct{}, colPath string, epoch, gen, maxRowid int64) {
	defer close(done)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.snap != nil {
		return
	}
	cf, err := readColFileAt(colPath)
	if err != nil || cf == nil {
		return
	}
	defer cf.close()
	if cf.lock(false) != nil {
		return
	}
	defer cf.unlock()
	sn := newSnapshot()
	off, err := cf.readInto(sn, 0, epoch, gen)
	if err != nil || sn.maxRowid != maxRowid {
		return
	}
	sn.fileOff, sn.gen, sn.epoch = off, gen, epoch
	e.snap = sn
}

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// group is one group's key (the fields not grouped by are zero) and its
// sums.
type snapGroup struct {
	key     snapKey
	n, p, b int64
}

type snapKey struct {
	src, dst     uint32
	sport, dport uint16
	dev          uint16
	proto        uint8
}

// groupsSnapshot answers a grouped query from the snapshot, with the
// same rows in the same order as groups' SQL.
func (s *Store) groupsSnapshot(sn *snapshot, q *Query, keys []string) (Result, error) {
	has := map[string]bool{}
	for _, k := range keys {
		has[k] = true
	}
	var from, to int64 = -1 << 63, 1<<63 - 1
	if !q.From.IsZero() {
		from = q.From.UnixMilli()
	}
	if !q.To.IsZero() {
		to = q.To.UnixMilli()
	}
	match := sn.compile(q.Filter)
	// One key: its values index a dense array (addresses and devices
	// by their interned index); more: a map.
	var dense []snapGroup
	var idx map[snapKey]int
	var groups []snapGroup
	single := ""
	if len(keys) == 1 {
		single = keys[0]
		switch single {
		case "src", "dst":
			dense = make([]snapGroup, len(sn.addrs))
		case "sport", "dport":
			dense = make([]snapGroup, 1<<16)
		case "proto":
			dense = make([]snapGroup, 1<<8)
		case "device":
			dense = make([]snapGroup, len(sn.devices))
		}
	} else {
		idx = map[snapKey]int{}
	}
	timed := !q.From.IsZero() || !q.To.IsZero()
	for i := range sn.len() {
		if timed && (sn.startMs[i] < from || sn.endMs[i] > to) {
			continue
		}
		if match != nil && !match(i) {
			continue
		}
		var g *snapGroup
		switch single {
		case "src":
			g = &dense[sn.src[i]]
			g.key.src = sn.src[i]
		case "dst":
			g = &dense[sn.dst[i]]
			g.key.dst = sn.dst[i]
		case "sport":
			g = &dense[sn.sport[i]]
			g.key.sport = sn.sport[i]
		case "dport":
			g = &dense[sn.dport[i]]
			g.key.dport = sn.dport[i]
		case "proto":
			g = &dense[sn.proto[i]]
			g.key.proto = sn.proto[i]
		case "device":
			g = &dense[sn.dev[i]]
			g.key.dev = sn.dev[i]
		default:
			var k snapKey
			if has["src"] {
				k.src = sn.src[i]
			}
			if has["dst"] {
				k.dst = sn.dst[i]
			}
			if has["sport"] {
				k.sport = sn.sport[i]
			}
			if has["dport"] {
				k.dport = sn.dport[i]
			}
			if has["proto"] {
				k.proto = sn.proto[i]
			}
			if has["device"] {
				k.dev = sn.dev[i]
			}
			j, ok := idx[k]
			if !ok {
				j = len(groups)
				idx[k] = j
				groups = append(groups, snapGroup{key: k})
			}
			g = &groups[j]
		}
		g.n++
		g.p += sn.packets[i]
		g.b += sn.bytes[i]
	}
	for _, g := range dense {
		if g.n > 0 {
			groups = append(groups, g)
		}
	}
	cmpKey := func(k string, a, b *snapKey) int {
		switch k {
		case "src":
			return bytes.Compare(sn.addrs[a.src][:], sn.addrs[b.src][:])
		case "dst":
			return bytes.Compare(sn.addrs[a.dst][:], sn.addrs[b.dst][:])
		case "sport":
			return cmp.Compare(a.sport, b.sport)
		case "dport":
			return cmp.Compare(a.dport, b.dport)
		case "proto":
			return cmp.Compare(a.proto, b.proto)
		}
		return strings.Compare(sn.devices[a.dev], sn.devices[b.dev])
	}
	o := q.OrderBy
	if o == "" {
		o = "-bytes"
	}
	desc := strings.HasPrefix(o, "-")
	o = strings.TrimPrefix(o, "-")
	compare := func(a, b snapGroup) int {
		var c int
		switch o {
		case "flows":
			c = cmp.Compare(a.n, b.n)
		case "packets":
			c = cmp.Compare(a.p, b.p)
		case "bytes":
			c = cmp.Compare(a.b, b.b)
		default:
			c = cmpKey(o, &a.key, &b.key)
		}
		if desc {
			c = -c
		}
		for _, k := range keys {
			if c != 0 {
				return c
			}
			c = cmpKey(k, &a.key, &b.key)
		}
		return c
	}
	res := Result{Rows: []Row{}, Total: int64(len(groups))}
	lo := min(max(q.Offset, 0), len(groups))
	hi := len(groups)
	if q.Limit > 0 {
		hi = min(hi, lo+q.Limit)
	}
	groups = firstSorted(groups, hi, compare)
	for _, g := range groups[lo:hi] {
		r := Row{Keys: keys, Flows: g.n, Packets: g.p, Bytes: g.b}
		if has["src"] {
			r.Src = sn.ips[g.key.src]
		}
		if has["dst"] {
			r.Dst = sn.ips[g.key.dst]
		}
		if has["sport"] {
			r.SrcPort = g.key.sport
		}
		if has["dport"] {
			r.DstPort = g.key.dport
		}
		if has["proto"] {
			r.Proto = g.key.proto
		}
		if has["device"] {
			r.Device = sn.devices[g.key.dev]
		}
		res.Rows = append(res.Rows, r)
	}
	return res, nil
}

// firstSorted returns the first n of s in compare's order, sorted: a
// page of the top groups without sorting every group (a heap of n when
// n is small beside s).
func firstSorted[T any](s []T, n int, compare func(a, b T) int) []T {
	if n*8 >= len(s) {
		slices.SortFunc(s, compare)
		return s[:n]
	}
	// A max-heap (by compare) of the n first seen so far.
	h := slices.Clone(s[:n])
	down := func(i int) {
		for {
			l, r, m := 2*i+1, 2*i+2, i
			if l < n && compare(h[l], h[m]) > 0 {
				m = l
			}
			if r < n && compare(h[r], h[m]) > 0 {
				m = r
			}
			if m == i {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for i := n/2 - 1; i >= 0; i-- {
		down(i)
	}
	for _, g := range s[n:] {
		if n > 0 && compare(g, h[0]) < 0 {
			h[0] = g
			down(0)
		}
	}
	slices.SortFunc(h, compare)
	return h
}

// flowsSnapshot finds the flows of a flow query (no group) in the
// snapshot: the rowids of its page, in SQL's order (the order field,
// then rowid), and how many flows match; or, when more than most match
// (most ≥ 0), ok false and nothing else. q's order is valid.
func flowsSnapshot(sn *snapshot, q *Query, most int) (rowids []int64, total int64, ok bool) {
	return flowsViews([]*snapshot{sn}, q, most)
}

// viewRow is a flow of flowsViews: its view and its index there.
type viewRow struct {
	v uint32
	i uint32
}

// flowsViews is flowsSnapshot over views, snapshots (or chunks of the
// column file) of flows in rowid order one after the other.
func flowsViews(views []*snapshot, q *Query, most int) (rowids []int64, total int64, ok bool) {
	var from, to int64 = -1 << 63, 1<<63 - 1
	if !q.From.IsZero() {
		from = q.From.UnixMilli()
	}
	if !q.To.IsZero() {
		to = q.To.UnixMilli()
	}
	timed := !q.From.IsZero() || !q.To.IsZero()
	var match []viewRow
	for v, sn := range views {
		pred := sn.compile(q.Filter)
		for i := range sn.len() {
			if timed && (sn.startMs[i] < from || sn.endMs[i] > to) {
				continue
			}
			if pred != nil && !pred(i) {
				continue
			}
			match = append(match, viewRow{uint32(v), uint32(i)})
		}
		if most >= 0 && len(match) > most {
			return nil, 0, false
		}
	}
	o := q.OrderBy
	if o == "" {
		o = "-bytes"
	}
	desc := strings.HasPrefix(o, "-")
	o = strings.TrimPrefix(o, "-")
	var field func(a, b viewRow) int
	num := func(col func(sn *snapshot, i uint32) int64) func(a, b viewRow) int {
		return func(a, b viewRow) int { return cmp.Compare(col(views[a.v], a.i), col(views[b.v], b.i)) }
	}
	addrOf := func(src bool) func(a, b viewRow) int {
		return func(a, b viewRow) int {
			x, y := views[a.v], views[b.v]
			if src {
				return bytes.Compare(x.addrs[x.src[a.i]][:], y.addrs[y.src[b.i]][:])
			}
			return bytes.Compare(x.addrs[x.dst[a.i]][:], y.addrs[y.dst[b.i]][:])
		}
	}
	switch o {
	case "src":
		field = addrOf(true)
	case "dst":
		field = addrOf(false)
	case "sport":
		field = num(func(sn *snapshot, i uint32) int64 { return int64(sn.sport[i]) })
	case "dport":
		field = num(func(sn *snapshot, i uint32) int64 { return int64(sn.dport[i]) })
	case "proto":
		field = num(func(sn *snapshot, i uint32) int64 { return int64(sn.proto[i]) })
	case "vlan":
		field = num(func(sn *snapshot, i uint32) int64 { return int64(sn.vlan[i]) })
	case "device":
		field = func(a, b viewRow) int {
			x, y := views[a.v], views[b.v]
			return strings.Compare(x.devices[x.dev[a.i]], y.devices[y.dev[b.i]])
		}
	case "flows":
		field = func(a, b viewRow) int { return 0 }
	case "packets":
		field = num(func(sn *snapshot, i uint32) int64 { return sn.packets[i] })
	case "bytes":
		field = num(func(sn *snapshot, i uint32) int64 { return sn.bytes[i] })
	case "start":
		field = num(func(sn *snapshot, i uint32) int64 { return sn.startMs[i] })
	case "end":
		field = num(func(sn *snapshot, i uint32) int64 { return sn.endMs[i] })
	case "duration":
		field = num(func(sn *snapshot, i uint32) int64 { return sn.endMs[i] - sn.startMs[i] })
	case "fwd_bytes":
		field = num(func(sn *snapshot, i uint32) int64 { return sn.fwdBytes[i] })
	case "fwd_packets":
		field = num(func(sn *snapshot, i uint32) int64 { return sn.fwdPackets[i] })
	case "rev_bytes":
		field = num(func(sn *snapshot, i uint32) int64 { return sn.bytes[i] - sn.fwdBytes[i] })
	case "rev_packets":
		field = num(func(sn *snapshot, i uint32) int64 { return sn.packets[i] - sn.fwdPackets[i] })
	}
	compare := func(a, b viewRow) int {
		c := field(a, b)
		if desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		// The views are in rowid order, one after the other.
		return cmp.Or(cmp.Compare(a.v, b.v), cmp.Compare(a.i, b.i))
	}
	lo := min(max(q.Offset, 0), len(match))
	hi := len(match)
	if q.Limit > 0 {
		hi = min(hi, lo+q.Limit)
	}
	page := firstSorted(match, hi, compare)[lo:hi]
	rowids = make([]int64, len(page))
	for k, r := range page {
		rowids[k] = views[r.v].rowid[r.i]
	}
	return rowids, int64(len(match)), true
}

// compile turns a filter into a predicate over the snapshot's flows by
// index (nil: every flow), equal to the filter's Match: an address term
// is looked up in a table over the interned addresses (computed once per
// query) instead of compared per flow.
func (sn *snapshot) compile(f *flowfilter.Filter) func(i int) bool {
	if f == nil || f.Root == nil {
		return nil
	}
	return sn.compileNode(f.Root)
}

func (sn *snapshot) compileNode(n flowfilter.Node) func(i int) bool {
	ends := func(dir flowfilter.Dir, in func(netip.Addr) bool) func(i int) bool {
		m := make([]bool, len(sn.ips))
		for a, ip := range sn.ips {
			m[a] = in(ip)
		}
		switch dir {
		case flowfilter.Src:
			return func(i int) bool { return m[sn.src[i]] }
		case flowfilter.Dst:
			return func(i int) bool { return m[sn.dst[i]] }
		}
		return func(i int) bool { return m[sn.src[i]] || m[sn.dst[i]] }
	}
	switch n := n.(type) {
	case *flowfilter.And:
		l, r := sn.compileNode(n.L), sn.compileNode(n.R)
		return func(i int) bool { return l(i) && r(i) }
	case *flowfilter.Or:
		l, r := sn.compileNode(n.L), sn.compileNode(n.R)
		return func(i int) bool { return l(i) || r(i) }
	case *flowfilter.Not:
		x := sn.compileNode(n.X)
		return func(i int) bool { return !x(i) }
	case *flowfilter.Proto:
		return func(i int) bool { return sn.proto[i] == n.N }
	case *flowfilter.Host:
		return ends(n.Dir, func(ip netip.Addr) bool { return ip == n.Addr })
	case *flowfilter.Net:
		return ends(n.Dir, n.Prefix.Contains)
	case *flowfilter.Port:
		v := uint64(n.N)
		switch n.Dir {
		case flowfilter.Src:
			return func(i int) bool { return n.Op.Compare(uint64(sn.sport[i]), v) }
		case flowfilter.Dst:
			return func(i int) bool { return n.Op.Compare(uint64(sn.dport[i]), v) }
		}
		return func(i int) bool { return n.Op.Compare(uint64(sn.sport[i]), v) || n.Op.Compare(uint64(sn.dport[i]), v) }
	case *flowfilter.Count:
		col := sn.bytes
		if n.Field == flowfilter.Packets {
			col = sn.packets
		}
		return func(i int) bool { return n.Op.Compare(uint64(col[i]), n.N) }
	}
	// A node of another kind: its own Match on the flow.
	return func(i int) bool {
		fl := flowfilter.Flow{Src: sn.ips[sn.src[i]], Dst: sn.ips[sn.dst[i]], SrcPort: sn.sport[i], DstPort: sn.dport[i],
			Proto: sn.proto[i], Packets: uint64(sn.packets[i]), Bytes: uint64(sn.bytes[i])}
		return n.Match(&fl)
	}
}

// needs are the columns a query reads from the snapshot: its filter's,
// its time bounds', and its keys and sums (groups) or order and rowid
// (flows).
func needs(q *Query, keys []string) colMask {
	var m colMask
	if q.Filter != nil {
		m |= filterNeeds(q.Filter.Root)
	}
	if !q.From.IsZero() || !q.To.IsZero() {
		m |= cStart | cEnd
	}
	byField := map[string]colMask{"src": cSrc, "dst": cDst, "sport": cSport, "dport": cDport, "proto": cProto,
		"device": cDev, "vlan": cVlan, "packets": cPackets, "bytes": cBytes, "start": cStart, "end": cEnd,
		"duration": cStart | cEnd, "fwd_bytes": cFwdBytes, "fwd_packets": cFwdPackets, "rev_bytes": cBytes | cFwdBytes,
		"rev_packets": cPackets | cFwdPackets}
	if len(keys) > 0 {
		m |= cPackets | cBytes
		for _, k := range keys {
			m |= byField[k]
		}
		return m
	}
	o := q.OrderBy
	if o == "" {
		o = "-bytes"
	}
	return m | cRowid | byField[strings.TrimPrefix(o, "-")]
}

// filterNeeds are the columns a filter's predicate reads.
func filterNeeds(n flowfilter.Node) colMask {
	switch n := n.(type) {
	case nil:
		return 0
	case *flowfilter.And:
		return filterNeeds(n.L) | filterNeeds(n.R)
	case *flowfilter.Or:
		return filterNeeds(n.L) | filterNeeds(n.R)
	case *flowfilter.Not:
		return filterNeeds(n.X)
	case *flowfilter.Proto:
		return cProto
	case *flowfilter.Host, *flowfilter.Net:
		return cSrc | cDst
	case *flowfilter.Port:
		return cSport | cDport
	case *flowfilter.Count:
		return cPackets | cBytes
	}
	return cSrc | cDst | cSport | cDport | cProto | cPackets | cBytes
}
