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
// snapshot (about 47 bytes each: 20,000,000 flows take about 1 GiB); a
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

	addrs   [][16]byte
	ips     []netip.Addr
	addrIdx map[[16]byte]uint32
	devices []string
	devIdx  map[string]uint16

	dev            []uint16
	src, dst       []uint32
	sport, dport   []uint16
	proto          []uint8
	packets, bytes []int64
	startMs, endMs []int64
}

func (sn *snapshot) addr(b []byte) uint32 {
	a := [16]byte(b)
	if i, ok := sn.addrIdx[a]; ok {
		return i
	}
	i := uint32(len(sn.addrs))
	sn.addrs = append(sn.addrs, a)
	sn.ips = append(sn.ips, netip.AddrFrom16(a).Unmap())
	sn.addrIdx[a] = i
	return i
}

func (sn *snapshot) device(d string) uint16 {
	if i, ok := sn.devIdx[d]; ok {
		return i
	}
	i := uint16(len(sn.devices))
	sn.devices = append(sn.devices, d)
	sn.devIdx[d] = i
	return i
}

// load appends the flows past sn.maxRowid. It reads the driver's rows
// directly: database/sql's Scan of eleven columns costs three times
// what SQLite spends producing them.
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
		// Fewer columns are fewer calls into SQLite: the addresses in
		// one BLOB, ports and protocol in one integer.
		rows, err := qc.QueryContext(ctx, `SELECT rowid, device, CAST(src || dst AS BLOB), sport | (dport << 16) | (proto << 32),
			packets + rev_packets, bytes + rev_bytes, start_ms, end_ms FROM flows WHERE rowid > ? ORDER BY rowid`,
			[]driver.NamedValue{{Ordinal: 1, Value: sn.maxRowid}})
		if err != nil {
			return err
		}
		defer rows.Close()
		v := make([]driver.Value, 8)
		for {
			if err := rows.Next(v); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return err
			}
			if err := sn.add(v); err != nil {
				return err
			}
		}
	})
	if err != nil {
		return fmt.Errorf("unable to load the flows: %w", err)
	}
	return nil
}

// add appends one row of load's query.
func (sn *snapshot) add(v []driver.Value) error {
	rowid, _ := v[0].(int64)
	dev, ok1 := v[1].(string)
	addrs, ok2 := v[2].([]byte)
	if !ok1 || !ok2 || len(addrs) != 32 {
		return fmt.Errorf("row %d is not a flow (%T %T)", rowid, v[1], v[2])
	}
	var n [5]int64
	for i := range n {
		x, ok := v[3+i].(int64)
		if !ok {
			return fmt.Errorf("row %d is not a flow (%T)", rowid, v[3+i])
		}
		n[i] = x
	}
	if _, ok := sn.devIdx[dev]; !ok && len(sn.devices) == 1<<16 {
		return fmt.Errorf("more than %d devices", 1<<16)
	}
	sn.dev = append(sn.dev, sn.device(dev))
	sn.src = append(sn.src, sn.addr(addrs[:16]))
	sn.dst = append(sn.dst, sn.addr(addrs[16:]))
	sn.sport = append(sn.sport, uint16(n[0]))
	sn.dport = append(sn.dport, uint16(n[0]>>16))
	sn.proto = append(sn.proto, uint8(n[0]>>32))
	sn.packets = append(sn.packets, n[1])
	sn.bytes = append(sn.bytes, n[2])
	sn.startMs = append(sn.startMs, n[3])
	sn.endMs = append(sn.endMs, n[4])
	sn.maxRowid = rowid
	return nil
}

// snapEntry is a store's snapshot and the lock a query or a load holds
// on it.
type snapEntry struct {
	mu   sync.Mutex
	snap *snapshot
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
// SQL only). The caller holds s.snaps.mu.
func (s *Store) snapshot(ctx context.Context) (*snapshot, error) {
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
	if sn == nil || sn.epoch != epoch {
		sn = &snapshot{addrIdx: map[[16]byte]uint32{}, devIdx: map[string]uint16{}}
	}
	s.snaps.snap = nil
	if err := sn.load(ctx, s); err != nil {
		return nil, err
	}
	sn.gen, sn.epoch = gen, epoch
	s.snaps.snap = sn
	return sn, nil
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
	var root flowfilter.Node
	if q.Filter != nil {
		root = q.Filter.Root
	}
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
	var fl flowfilter.Flow
	for i := range sn.src {
		if sn.startMs[i] < from || sn.endMs[i] > to {
			continue
		}
		if root != nil {
			fl = flowfilter.Flow{Src: sn.ips[sn.src[i]], Dst: sn.ips[sn.dst[i]], SrcPort: sn.sport[i], DstPort: sn.dport[i],
				Proto: sn.proto[i], Packets: uint64(sn.packets[i]), Bytes: uint64(sn.bytes[i])}
			if !root.Match(&fl) {
				continue
			}
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
func firstSorted(s []snapGroup, n int, compare func(a, b snapGroup) int) []snapGroup {
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
