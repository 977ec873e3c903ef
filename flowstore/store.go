// Package flowstore is the AM's flow store (SPEC §12): one SQLite file
// per experiment holding every flow of its IPFIX files, across its
// devices, for QueryFlows, the flow exports and query.pcap.
//
// Flows come in by Ingest of an IPFIX file written by the devices'
// exporter. Ingest is idempotent and incremental: a file is a source
// (its pairing's position and its name), the store remembers how many
// records of it it holds and the file's size, and adds only the records
// past those (IPFIX files only grow); a file that shrank is a new file
// and replaces its source's flows. Ingesting the same file twice adds
// nothing.
//
// Addresses are stored as 16-byte BLOBs (IPv4 as IPv4-mapped IPv6), so
// that flowfilter's prefixes compare as ranges. Bytes and packets are
// kept per direction (the biflow's forward and reverse counters);
// filters and aggregations count both. Beside the SQLite file, the
// column file (path + ".cols", cols.go) holds the flows as the in-memory
// snapshot (snapshot.go) does, which answers every query that the
// rollup does not: a new process reads it instead of SQLite's rows.
package flowstore

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	_ "github.com/mattn/go-sqlite3" // the SQLite driver

	"github.com/gimsproject/gims/flowfilter"
	"github.com/gimsproject/gims/transform/ipfix"
)

// ErrInvalid is returned, wrapped, for a query that asks for something
// that does not exist (an unknown group or order field).
var ErrInvalid = errors.New("invalid query")

// schema is the store's tables. flows.source is a sources.id. A flow
// is stored in few columns, each bound by a call into SQLite at ingest
// (which costs more than storing it): both addresses in addrs (16 bytes
// each, IPv4 as IPv4-mapped IPv6), ports, protocol, VLAN and end reason
// (endReasonCode) in tuple; src, dst, sport, dport, proto, vlan and
// end_reason are virtual columns computed from them for the queries.
const schema = `
CREATE TABLE IF NOT EXISTS sources (
	id INTEGER PRIMARY KEY,
	position INTEGER NOT NULL,
	name TEXT NOT NULL,
	device TEXT NOT NULL,
	interface TEXT NOT NULL,
	size INTEGER NOT NULL,
	records INTEGER NOT NULL,
	UNIQUE (position, name)
);
CREATE TABLE IF NOT EXISTS flows (
	source INTEGER NOT NULL,
	device TEXT NOT NULL,
	addrs BLOB NOT NULL,
	tuple INTEGER NOT NULL,
	packets INTEGER NOT NULL,
	bytes INTEGER NOT NULL,
	rev_packets INTEGER NOT NULL,
	rev_bytes INTEGER NOT NULL,
	start_ms INTEGER NOT NULL,
	end_ms INTEGER NOT NULL,
	src BLOB GENERATED ALWAYS AS (substr(addrs, 1, 16)) VIRTUAL,
	dst BLOB GENERATED ALWAYS AS (substr(addrs, 17, 16)) VIRTUAL,
	sport INTEGER GENERATED ALWAYS AS (tuple & 65535) VIRTUAL,
	dport INTEGER GENERATED ALWAYS AS ((tuple >> 16) & 65535) VIRTUAL,
	proto INTEGER GENERATED ALWAYS AS ((tuple >> 32) & 255) VIRTUAL,
	vlan INTEGER GENERATED ALWAYS AS ((tuple >> 40) & 65535) VIRTUAL,
	end_reason TEXT GENERATED ALWAYS AS (CASE tuple >> 56 WHEN 1 THEN 'idle' WHEN 2 THEN 'active' WHEN 3 THEN 'end'
		WHEN 4 THEN 'forced' WHEN 5 THEN 'resources' WHEN 6 THEN 'unknown' ELSE '' END) VIRTUAL
);
CREATE TABLE IF NOT EXISTS rollup (
	key TEXT NOT NULL,
	value ANY NOT NULL,
	flows INTEGER NOT NULL,
	packets INTEGER NOT NULL,
	bytes INTEGER NOT NULL,
	PRIMARY KEY (key, value)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	gen INTEGER NOT NULL,
	epoch INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (id, gen, epoch) VALUES (1, 0, 0);
`

// storeVersion is the store file's version (PRAGMA user_version): 2
// has the flows in fewer columns (schema), no address indexes (the
// snapshot serves address filters) and a column file beside it. Opening
// a store of an older version empties it (and its column file): it is a
// cache of the IPFIX files, which the next Ingest of each stores again.
const storeVersion = 2

// endReasonCode is the code of an end reason (ipfix.FlowRow's) in
// flows.tuple, which the end_reason column turns back into its name.
func endReasonCode(r string) int64 {
	switch r {
	case "":
		return 0
	case "idle":
		return 1
	case "active":
		return 2
	case "end":
		return 3
	case "forced":
		return 4
	case "resources":
		return 5
	}
	return 6
}

// Store is one experiment's open flow store. It is safe for concurrent
// use; writers queue for SQLite's write lock.
type Store struct {
	db *sql.DB
	// snaps holds the in-memory snapshot of the flows for filtered
	// aggregations (snapshot.go), the store's own or shared through
	// Snapshots; sqlOnly disables it (tests comparing both paths).
	snaps   *snapEntry
	sqlOnly bool
	// colPath is the column file (cols.go), chunkRows the most flows
	// of one of its chunks. partial lets a query of a store whose
	// snapshot is not loaded read only its columns, and preload load
	// the snapshot after it (tests turn them off to see each path).
	colPath          string
	chunkRows        int
	partial, preload bool
}

// Open opens (creating it if needed) the store at path, a file readable
// by its owner only. Its snapshot lives as long as the Store: see
// OpenShared to keep it across opens.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenShared(ctx, path, nil)
}

// OpenShared is Open with the snapshot kept in snaps (nil: the store's
// own), so that stores opened one after another for the same file
// (one per request) load it once.
func OpenShared(ctx context.Context, path string, snaps *Snapshots) (*Store, error) {
	if f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o600); err != nil {
		return nil, fmt.Errorf("unable to create the flow store: %w", err)
	} else {
		f.Close()
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "30000")
	q.Set("_txlock", "immediate")
	// The store is a cache derived from the experiment's IPFIX files
	// (Ingest rebuilds it from them): a crash that loses the last
	// transactions costs a re-ingest, not data, so no fsync.
	q.Set("_synchronous", "OFF")
	q.Set("_cache_size", "-65536") // KiB: ingests and aggregations of millions of flows
	db, err := sql.Open("sqlite3", "file:"+uriPath(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("unable to open the flow store %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	fail := func(err error) (*Store, error) {
		db.Close()
		return nil, fmt.Errorf("unable to open the flow store %s: %w", path, err)
	}
	var version int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fail(err)
	}
	if version < storeVersion {
		// A store of before: emptied, and filled again by the next
		// ingests.
		if _, err := db.ExecContext(ctx, `DROP TABLE IF EXISTS flows; DROP TABLE IF EXISTS sources;
			DROP TABLE IF EXISTS rollup; DROP TABLE IF EXISTS meta;`); err != nil {
			return fail(err)
		}
		if err := os.Truncate(path+".cols", 0); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fail(err)
		}
	}
	// The schema is written last with its version: a store at this
	// version has all of it, and is not written to when opened (the AM
	// opens the store for every ingest of a pulled file, issue 15).
	if version != storeVersion {
		if _, err := db.ExecContext(ctx, schema+`PRAGMA user_version = `+strconv.Itoa(storeVersion)); err != nil {
			return fail(err)
		}
	}
	return &Store{db: db, snaps: snaps.entry(path), colPath: path + ".cols", chunkRows: chunkRows,
		partial: true, preload: true}, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Source is where an IPFIX file's flows come from: the pairing of an
// experiment (its position, device and interface) and the file's name.
type Source struct {
	Position  int
	Name      string
	Device    string
	Interface string
}

// Ingest adds the flows of the IPFIX file at path that the store does
// not hold yet, and returns how many it added. A missing file adds
// nothing.
//
// The flows go to SQLite and, as columns, to the column file (the
// snapshot's, cols.go). Decoding the file, the rollup and the columns
// take one goroutine, the INSERTs another (SQLite's share is the larger):
// on two cores an ingest takes about the INSERTs' time.
func (s *Store) Ingest(ctx context.Context, src Source, path string) (int, error) {
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("unable to ingest flows: %w", err)
	}
	// One connection: the transaction's, on which the inserter binds
	// through the driver (insert.go).
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("unable to ingest flows: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("unable to ingest flows: %w", err)
	}
	defer tx.Rollback()
	var id, size, records int64
	replaced := false
	err = tx.QueryRowContext(ctx, `SELECT id, size, records FROM sources WHERE position = ? AND name = ?`,
		src.Position, src.Name).Scan(&id, &size, &records)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		res, err := tx.ExecContext(ctx, `INSERT INTO sources (position, name, device, interface, size, records)
			VALUES (?, ?, ?, ?, 0, 0)`, src.Position, src.Name, src.Device, src.Interface)
		if err != nil {
			return 0, fmt.Errorf("unable to ingest flows: %w", err)
		}
		id, _ = res.LastInsertId()
	case err != nil:
		return 0, fmt.Errorf("unable to ingest flows: %w", err)
	case size == info.Size():
		return 0, nil
	case size > info.Size():
		// A shorter file is another file: start again.
		if _, err := tx.ExecContext(ctx, `DELETE FROM flows WHERE source = ?`, id); err != nil {
			return 0, fmt.Errorf("unable to ingest flows: %w", err)
		}
		records, replaced = 0, true
	}
	var gen, epoch, held int64
	if err := tx.QueryRowContext(ctx, `SELECT gen, epoch, (SELECT coalesce(max(rowid), 0) FROM flows) FROM meta`).
		Scan(&gen, &epoch, &held); err != nil {
		return 0, fmt.Errorf("unable to ingest flows: %w", err)
	}
	// The column file: brought up to the flows held (its chunks of this
	// epoch, the rest read from SQLite), then the new flows appended as
	// they are stored (rowids follow the largest: SQLite's rule).
	newEpoch, newGen := epoch, gen+1
	if replaced {
		newEpoch++
	}
	cf, err := openColFile(s.colPath)
	if err != nil {
		return 0, err
	}
	defer cf.close()
	base, err := s.syncColFile(ctx, tx, cf, epoch, gen, held, replaced, newEpoch, newGen)
	if err != nil {
		return 0, err
	}
	colEnd, committed := base, false
	defer func() {
		if !committed && colEnd != base && cf.lock(true) == nil {
			// Chunks of flows that were not stored: cut off (or, after
			// a crash, by the next ingest: their generation is not
			// committed).
			cf.f.Truncate(base)
			cf.unlock()
		}
	}()
	chunk := newCols()
	writeChunk := func() error {
		if chunk.len() == 0 {
			return nil
		}
		if err := cf.lock(true); err != nil {
			return fmt.Errorf("unable to lock the flows' column file: %w", err)
		}
		end, err := cf.write(colEnd, &chunk, newEpoch, newGen)
		cf.unlock()
		colEnd = end
		chunk = newCols()
		return err
	}

	// Rows go in batches of insertBatch per statement: a statement per
	// row costs more in calls than SQLite spends storing it.
	insert := func(n int) string {
		var b strings.Builder
		b.WriteString(`INSERT INTO flows (source, device, addrs, tuple, packets, bytes, rev_packets, rev_bytes,
			start_ms, end_ms) VALUES `)
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			// ?1 and ?2, the source and the device, are bound once.
			b.WriteString("(?1, ?2" + strings.Repeat(", ?", 1+flowInts) + ")")
		}
		return b.String()
	}
	// The batches go round between this goroutine, which fills them,
	// and the inserter, which stores them.
	free, filled := make(chan *insertBuf, 3), make(chan *insertBuf, 3)
	bufs := make([]*insertBuf, cap(free))
	for i := range bufs {
		bufs[i] = newInsertBuf()
		defer bufs[i].free()
		free <- bufs[i]
	}
	var failed atomic.Bool
	inserted := make(chan error, 1)
	go func() {
		err := conn.Raw(func(dc any) error {
			in, err := newInserter(ctx, dc, id, src.Device, insert)
			if err != nil {
				return err
			}
			defer in.close()
			for b := range filled {
				if err == nil {
					err = in.run(ctx, b)
				}
				b.n = 0
				free <- b
			}
			return err
		})
		if err != nil {
			failed.Store(true)
			for b := range filled { // after an error before the loop
				free <- b
			}
		}
		inserted <- err
	}()
	var cur *insertBuf
	var seen int64
	added := 0
	var ierr error
	roll := newRollup(src.Device)
	var cf1 colFlow
	_, err = ipfix.ReadFlows(path, func(r ipfix.FlowRow) {
		seen++
		if seen <= records || ierr != nil || failed.Load() {
			return
		}
		if ierr = ctx.Err(); ierr != nil {
			return
		}
		sa, da := r.Src.As16(), r.Dst.As16()
		si, di := roll.addr(sa), roll.addr(da)
		roll.add(&r, si, di)
		if cur == nil {
			cur = <-free
		}
		a := cur.addrs[cur.n*32:][:32]
		*(*[16]byte)(a) = sa
		*(*[16]byte)(a[16:]) = da
		cf1 = colFlow{rowid: held + int64(added) + 1, dev: src.Device,
			sport: r.SrcPort, dport: r.DstPort, proto: r.Proto, vlan: r.VLAN,
			fwdPackets: clamp(r.Packets), fwdBytes: clamp(r.Bytes), revPackets: clamp(r.RevPackets), revBytes: clamp(r.RevBytes),
			startMs: r.Start.UnixMilli(), endMs: r.End.UnixMilli()}
		v := cur.ints[cur.n*flowInts:][:flowInts]
		v[0] = int64(r.SrcPort) | int64(r.DstPort)<<16 | int64(r.Proto)<<32 | int64(r.VLAN)<<40 | endReasonCode(r.EndReason)<<56
		v[1], v[2], v[3], v[4], v[5], v[6] = cf1.fwdPackets, cf1.fwdBytes, cf1.revPackets, cf1.revBytes, cf1.startMs, cf1.endMs
		cur.n++
		added++
		if cur.n == insertBatch {
			filled <- cur
			cur = nil
		}
		ierr = chunk.addIndexed(&cf1, chunk.localAddr(si, sa), chunk.localAddr(di, da))
		if ierr == nil && chunk.len() == s.chunkRows {
			ierr = writeChunk()
		}
	})
	if cur != nil && cur.n > 0 {
		filled <- cur
	}
	close(filled)
	if e := <-inserted; ierr == nil {
		ierr = e
	}
	if err == nil {
		err = ierr
	}
	if err == nil {
		err = writeChunk()
	}
	if err != nil {
		return 0, fmt.Errorf("unable to ingest flows of %s: %w", src.Name, err)
	}
	if seen < records {
		// Fewer records than held: another file of the same size or
		// more; forget the source's flows and start again.
		if _, err := tx.ExecContext(ctx, `DELETE FROM flows WHERE source = ?`, id); err != nil {
			return 0, fmt.Errorf("unable to ingest flows: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sources SET size = -1, records = 0 WHERE id = ?`, id); err != nil {
			return 0, fmt.Errorf("unable to ingest flows: %w", err)
		}
		if err := rollUp(ctx, tx, 0, true); err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE meta SET epoch = epoch + 1`); err != nil {
			return 0, fmt.Errorf("unable to ingest flows: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return 0, fmt.Errorf("unable to ingest flows: %w", err)
		}
		// The column file's chunks are of the previous epoch: the
		// ingest below writes it again.
		cf.close()
		return s.Ingest(ctx, src, path)
	}
	if replaced {
		err = rollUp(ctx, tx, 0, true)
	} else {
		err = roll.store(ctx, tx)
	}
	if err != nil {
		return 0, err
	}
	// The snapshot follows: new flows (gen) are appended to it, replaced
	// ones (epoch) make it load again.
	if replaced {
		_, err = tx.ExecContext(ctx, `UPDATE meta SET epoch = epoch + 1, gen = gen + 1`)
	} else if added > 0 {
		_, err = tx.ExecContext(ctx, `UPDATE meta SET gen = gen + 1`)
	}
	if err != nil {
		return 0, fmt.Errorf("unable to ingest flows: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE sources SET size = ?, records = ?, device = ?, interface = ? WHERE id = ?`,
		info.Size(), seen, src.Device, src.Interface, id); err != nil {
		return 0, fmt.Errorf("unable to ingest flows: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("unable to ingest flows: %w", err)
	}
	committed = true
	return added, nil
}

// syncColFile brings the column file up to the flows the store holds
// (rowids up to held) before an ingest appends to it, and returns where
// the ingest's chunks go. It keeps the chunks of the store's epoch and
// committed generations, and reads the flows past them (a store written
// before the column file, or after flows were replaced) from SQLite
// through tx, which holds the write lock: no other ingest runs.
func (s *Store) syncColFile(ctx context.Context, tx *sql.Tx, cf *colFile, epoch, gen, held int64, replaced bool,
	newEpoch, newGen int64) (int64, error) {
	if err := cf.lock(true); err != nil {
		return 0, fmt.Errorf("unable to lock the flows' column file: %w", err)
	}
	defer cf.unlock()
	end, last, err := cf.valid(epoch, gen)
	if err != nil {
		return 0, err
	}
	// Gap-fill chunks are of the flows committed (epoch, gen) or, once
	// flows are replaced, of the new epoch with the ingest's flows.
	fillEpoch, fillGen := epoch, gen
	if replaced || last > held {
		end, last = 0, 0
	}
	if replaced {
		fillEpoch, fillGen = newEpoch, newGen
	}
	if err := cf.f.Truncate(end); err != nil {
		return 0, fmt.Errorf("unable to write the flows' column file: %w", err)
	}
	if last == held {
		return end, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+flowColumns+` FROM flows WHERE rowid > ? ORDER BY rowid`, last)
	if err != nil {
		return 0, fmt.Errorf("unable to read flows for the column file: %w", err)
	}
	defer rows.Close()
	v := make([]any, 10)
	p := make([]any, len(v))
	for i := range v {
		p[i] = &v[i]
	}
	dv := make([]driver.Value, len(v))
	c := newCols()
	var f colFlow
	for rows.Next() {
		if err := rows.Scan(p...); err != nil {
			return 0, fmt.Errorf("unable to read flows for the column file: %w", err)
		}
		for i := range v {
			dv[i] = v[i]
		}
		if err := colFlowOf(dv, &f); err != nil {
			return 0, fmt.Errorf("unable to read flows for the column file: %w", err)
		}
		if err := c.add(&f); err != nil {
			return 0, fmt.Errorf("unable to read flows for the column file: %w", err)
		}
		if c.len() == s.chunkRows {
			if end, err = cf.write(end, &c, fillEpoch, fillGen); err != nil {
				return 0, err
			}
			c = newCols()
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("unable to read flows for the column file: %w", err)
	}
	return cf.write(end, &c, fillEpoch, fillGen)
}

// readColFile appends to sn the column file's chunks that it holds past
// what sn read of it, for the store's epoch and generations up to gen.
func (s *Store) readColFile(sn *snapshot, epoch, gen int64) error {
	cf, err := readColFileAt(s.colPath)
	if err != nil || cf == nil {
		return err
	}
	defer cf.close()
	if err := cf.lock(false); err != nil {
		return fmt.Errorf("unable to lock the flows' column file: %w", err)
	}
	defer cf.unlock()
	off, err := cf.readInto(sn, sn.fileOff, epoch, gen)
	sn.fileOff = off
	return err
}

// rollKey is one value of one group key in the rollup, as SQL binds it.
type rollKey struct {
	key  string
	addr [16]byte
	num  int64
	text string
}

// param is the value as the rollup stores it.
func (k rollKey) param() any {
	switch k.key {
	case "src", "dst":
		return k.addr[:]
	case "device":
		return k.text
	}
	return k.num
}

// rollup sums new flows per group key and value in memory during an
// ingest; store adds the sums to the rollup table (cheaper than a
// GROUP BY per key over the new rows). Addresses go in maps, ports and
// protocols in arrays, and an ingest has one device.
type rollup struct {
	device string
	dev    [3]int64
	// addrs are the addresses seen, interned (addrIdx; the column
	// file's chunks use the index too), src and dst their sums.
	addrs        [][16]byte
	addrIdx      map[[16]byte]uint32
	src, dst     [][3]int64
	sport, dport portSums
	proto        [1 << 8][3]int64
}

func newRollup(device string) *rollup {
	return &rollup{device: device, addrIdx: map[[16]byte]uint32{}}
}

// portSums are the sums by port: in a map while few ports are seen, in
// an array of every port beyond denseAfter. The AM ingests the small
// growth of a pulled file many times a second (issue 15); a rollup
// allocated and cleared two arrays of 65,536 sums (3 MiB) for each, and
// read them through to find the few ports used.
type portSums struct {
	sparse map[uint16]*[3]int64
	dense  *[1 << 16][3]int64
}

// denseAfter is the number of ports beyond which sums go to the array.
const denseAfter = 1024

// at returns the sums of port.
func (p *portSums) at(port uint16) *[3]int64 {
	if p.dense != nil {
		return &p.dense[port]
	}
	if v, ok := p.sparse[port]; ok {
		return v
	}
	if len(p.sparse) >= denseAfter {
		p.dense = new([1 << 16][3]int64)
		for k, v := range p.sparse {
			p.dense[k] = *v
		}
		p.sparse = nil
		return &p.dense[port]
	}
	if p.sparse == nil {
		p.sparse = make(map[uint16]*[3]int64)
	}
	v := new([3]int64)
	p.sparse[port] = v
	return v
}

// each calls fn with every port seen and its sums.
func (p *portSums) each(fn func(port int64, v *[3]int64)) {
	if p.dense != nil {
		for i := range p.dense {
			if p.dense[i][0] > 0 {
				fn(int64(i), &p.dense[i])
			}
		}
		return
	}
	for k, v := range p.sparse {
		if v[0] > 0 {
			fn(int64(k), v)
		}
	}
}

// addr interns an address.
func (m *rollup) addr(a [16]byte) uint32 {
	if i, ok := m.addrIdx[a]; ok {
		return i
	}
	i := uint32(len(m.addrs))
	m.addrs = append(m.addrs, a)
	m.addrIdx[a] = i
	m.src = append(m.src, [3]int64{})
	m.dst = append(m.dst, [3]int64{})
	return i
}

// add sums a flow whose addresses are m.addrs[src], [dst].
func (m *rollup) add(r *ipfix.FlowRow, src, dst uint32) {
	p, b := clamp(r.Packets+r.RevPackets), clamp(r.Bytes+r.RevBytes)
	sum := func(v *[3]int64) {
		v[0]++
		v[1] += p
		v[2] += b
	}
	sum(&m.src[src])
	sum(&m.dst[dst])
	sum(&m.dev)
	sum(m.sport.at(r.SrcPort))
	sum(m.dport.at(r.DstPort))
	sum(&m.proto[r.Proto])
}

// sums returns the rollup's sums by key.
func (m *rollup) sums() map[rollKey]*[3]int64 {
	out := map[rollKey]*[3]int64{}
	if m.dev[0] == 0 {
		return out
	}
	out[rollKey{key: "device", text: m.device}] = &m.dev
	for i, a := range m.addrs {
		if m.src[i][0] > 0 {
			out[rollKey{key: "src", addr: a}] = &m.src[i]
		}
		if m.dst[i][0] > 0 {
			out[rollKey{key: "dst", addr: a}] = &m.dst[i]
		}
	}
	m.sport.each(func(port int64, v *[3]int64) { out[rollKey{key: "sport", num: port}] = v })
	m.dport.each(func(port int64, v *[3]int64) { out[rollKey{key: "dport", num: port}] = v })
	for i := range m.proto {
		if m.proto[i][0] > 0 {
			out[rollKey{key: "proto", num: int64(i)}] = &m.proto[i]
		}
	}
	return out
}

func (r *rollup) store(ctx context.Context, tx *sql.Tx) error {
	m := r.sums()
	if len(m) == 0 {
		return nil
	}
	// In the rollup's order (its primary key), in statements of
	// rollupBatch rows: a statement per key costs more in calls than
	// SQLite spends, and keys in order touch each page once.
	keys := make([]rollKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b rollKey) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		if c := bytes.Compare(a.addr[:], b.addr[:]); c != 0 {
			return c
		}
		if c := cmp.Compare(a.num, b.num); c != 0 {
			return c
		}
		return strings.Compare(a.text, b.text)
	})
	stmt := func(n int) string {
		return `INSERT INTO rollup (key, value, flows, packets, bytes) VALUES (?, ?, ?, ?, ?)` +
			strings.Repeat(`, (?, ?, ?, ?, ?)`, n-1) + `
			ON CONFLICT (key, value) DO UPDATE SET flows = flows + excluded.flows,
				packets = packets + excluded.packets, bytes = bytes + excluded.bytes`
	}
	full, err := tx.PrepareContext(ctx, stmt(min(rollupBatch, len(keys))))
	if err != nil {
		return fmt.Errorf("unable to roll up flows: %w", err)
	}
	defer full.Close()
	args := make([]any, 0, 5*rollupBatch)
	for len(keys) > 0 {
		n := min(rollupBatch, len(keys))
		args = args[:0]
		for _, k := range keys[:n] {
			v := m[k]
			args = append(args, k.key, k.param(), v[0], v[1], v[2])
		}
		if n == rollupBatch || n == len(m) {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, stmt(n), args...)
		}
		if err != nil {
			return fmt.Errorf("unable to roll up flows: %w", err)
		}
		keys = keys[n:]
	}
	return nil
}

// rollupBatch is how many rollup rows one statement stores.
const rollupBatch = 500

// rollUp adds the flows past rowid lo to the rollup: per group key and
// value, the flows, packets and bytes of every flow, which answer the
// top-N of a single key without a filter or time bounds (the first view
// of every query page) without reading the flows. After flows were
// deleted (replaced) it is built again from every flow.
func rollUp(ctx context.Context, tx *sql.Tx, lo int64, replaced bool) error {
	if replaced {
		lo = 0
		if _, err := tx.ExecContext(ctx, `DELETE FROM rollup`); err != nil {
			return fmt.Errorf("unable to roll up flows: %w", err)
		}
	}
	for _, k := range GroupKeys {
		col := keyColumns[k]
		if _, err := tx.ExecContext(ctx, `INSERT INTO rollup (key, value, flows, packets, bytes)
			SELECT ?, `+col+`, count(*), sum(packets + rev_packets), sum(bytes + rev_bytes) FROM flows
			WHERE rowid > ? GROUP BY +`+col+` ORDER BY +`+col+`
			ON CONFLICT (key, value) DO UPDATE SET flows = flows + excluded.flows,
				packets = packets + excluded.packets, bytes = bytes + excluded.bytes`, k, lo); err != nil {
			return fmt.Errorf("unable to roll up flows: %w", err)
		}
	}
	return nil
}

// insertBatch is how many flows one INSERT statement stores (8
// parameters each, within SQLite's 32,766).
const insertBatch = 256

// clamp is a count as SQLite stores it (signed 64 bits).
func clamp(v uint64) int64 {
	if v > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(v)
}

// columns are the flow fields as flowfilter compiles them.
var columns = flowfilter.Columns{Src: "src", Dst: "dst", SrcPort: "sport", DstPort: "dport", Proto: "proto",
	Bytes: "(bytes + rev_bytes)", Packets: "(packets + rev_packets)"}

// Query selects flows, or groups of them.
type Query struct {
	// Filter selects flows; nil selects every one.
	Filter *flowfilter.Filter
	// From and To, when set, bound a flow's start (from) and end (to).
	From, To time.Time
	// GroupBy are group keys among src, dst, sport, dport, proto and
	// device; none gives flows.
	GroupBy []string
	// OrderBy is a field with an optional '-' for descending: a group
	// key, flows, packets or bytes for groups; for flows also start,
	// end, duration, vlan, fwd_bytes, fwd_packets, rev_bytes,
	// rev_packets. Empty is "-bytes".
	OrderBy string
	// Limit and Offset page the rows; a Limit of 0 means no limit.
	Limit, Offset int
}

// Row is one flow or one group. For a group only its keys (Keys) are set
// among the key fields, and the flow-only fields are zero.
type Row struct {
	Device           string
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8
	// Keys are the group keys set (for a flow: every key).
	Keys []string
	// Flows, Packets and Bytes count both directions.
	Flows, Packets, Bytes int64
	// Flow only: the forward and reverse counters, VLAN, start, end and
	// end reason.
	FwdPackets, FwdBytes, RevPackets, RevBytes int64
	VLAN                                       uint16
	Start, End                                 time.Time
	EndReason                                  string
	Interface                                  string
}

// Result is a page of rows and how many rows there are in all.
type Result struct {
	Rows  []Row
	Total int64
}

// keyColumns are the group keys and their columns.
var keyColumns = map[string]string{"src": "src", "dst": "dst", "sport": "sport", "dport": "dport",
	"proto": "proto", "device": "device"}

// GroupKeys lists the group keys, in their canonical order.
var GroupKeys = []string{"device", "src", "dst", "sport", "dport", "proto"}

// flowOrder are the order fields of flow rows. flows (one for every
// flow) orders by nothing but the rowid: NULL, since SQLite reads
// ORDER BY 1 as the first column.
var flowOrder = map[string]string{"src": "src", "dst": "dst", "sport": "sport", "dport": "dport",
	"proto": "proto", "device": "device", "flows": "NULL", "packets": "(packets + rev_packets)",
	"bytes": "(bytes + rev_bytes)", "start": "start_ms", "end": "end_ms", "duration": "(end_ms - start_ms)",
	"vlan": "vlan", "fwd_bytes": "bytes", "fwd_packets": "packets", "rev_bytes": "rev_bytes",
	"rev_packets": "rev_packets"}

// where is a query's WHERE condition and its arguments.
func (q *Query) where() (string, []any) {
	w, args := q.Filter.SQL(columns)
	if !q.From.IsZero() {
		w += " AND start_ms >= ?"
		args = append(args, q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		w += " AND end_ms <= ?"
		args = append(args, q.To.UnixMilli())
	}
	return w, args
}

// order parses OrderBy against the fields allowed.
func (q *Query) order(fields map[string]string) (string, error) {
	o := q.OrderBy
	if o == "" {
		o = "-bytes"
	}
	dir := " ASC"
	if strings.HasPrefix(o, "-") {
		dir, o = " DESC", o[1:]
	}
	col, ok := fields[o]
	if !ok {
		names := make([]string, 0, len(fields))
		for k := range fields {
			names = append(names, k)
		}
		return "", fmt.Errorf("%w: order_by %q is not one of %s (with an optional '-')", ErrInvalid, q.OrderBy, strings.Join(sorted(names), ", "))
	}
	return col + dir, nil
}

func sorted(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

// Query runs a query.
func (s *Store) Query(ctx context.Context, q Query) (Result, error) {
	if len(q.GroupBy) > 0 {
		return s.groups(ctx, q)
	}
	order, err := q.order(flowOrder)
	if err != nil {
		return Result{}, err
	}
	// The snapshot finds the page's flows (there is no index on any
	// column: a pass over every flow either way), SQLite gives their
	// rows.
	s.snaps.mu.Lock()
	if s.snaps.snap == nil && s.partial && !s.sqlOnly {
		page, total, ok, err := s.coldFlows(ctx, &q, func(int64) int { return -1 })
		if err != nil || ok {
			s.snaps.mu.Unlock()
			if err != nil {
				return Result{}, err
			}
			return s.flowsByRowid(ctx, page, total)
		}
	}
	sn, err := s.snapshot(ctx, needs(&q, nil))
	if err == nil && sn != nil {
		page, total, _ := flowsSnapshot(sn, &q, -1)
		s.snaps.mu.Unlock()
		return s.flowsByRowid(ctx, page, total)
	}
	s.snaps.mu.Unlock()
	if err != nil {
		return Result{}, err
	}
	w, args := q.where()
	query := `SELECT ` + rowColumns + `, count(*) OVER ()
		FROM flows WHERE ` + w + ` ORDER BY ` + order + `, rowid` + limit(&q, &args)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return Result{}, fmt.Errorf("unable to query flows: %w", err)
	}
	defer rows.Close()
	res := Result{Rows: []Row{}}
	for rows.Next() {
		var r Row
		if err := scanRow(rows, &r, &res.Total); err != nil {
			return Result{}, fmt.Errorf("unable to query flows: %w", err)
		}
		res.Rows = append(res.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return Result{}, fmt.Errorf("unable to query flows: %w", err)
	}
	if len(res.Rows) == 0 {
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM flows WHERE `+w, args[:len(args)-2]...).Scan(&res.Total); err != nil {
			return Result{}, fmt.Errorf("unable to query flows: %w", err)
		}
	}
	return res, nil
}

// limit appends LIMIT and OFFSET (always two arguments).
func limit(q *Query, args *[]any) string {
	n := int64(q.Limit)
	if n <= 0 {
		n = -1
	}
	*args = append(*args, n, int64(q.Offset))
	return ` LIMIT ? OFFSET ?`
}

// groups runs a grouped query.
func (s *Store) groups(ctx context.Context, q Query) (Result, error) {
	var keys []string
	seen := map[string]bool{}
	for _, k := range q.GroupBy {
		if _, ok := keyColumns[k]; !ok {
			return Result{}, fmt.Errorf("%w: group_by %q is not one of %s", ErrInvalid, k, strings.Join(GroupKeys, ", "))
		}
		if seen[k] {
			return Result{}, fmt.Errorf("%w: group_by %q given twice", ErrInvalid, k)
		}
		seen[k] = true
		keys = append(keys, k)
	}
	fields := map[string]string{"flows": "n", "packets": "p", "bytes": "b"}
	for _, k := range keys {
		fields[k] = k
	}
	order, err := q.order(fields)
	if err != nil {
		return Result{}, err
	}
	w, args := q.where()
	cols := strings.Join(keys, ", ")
	// "+src" rather than "src": grouping by the bare column makes SQLite
	// walk the src index in order and fetch every row from it, which is
	// three times slower than a scan and a sort.
	byCols := "+" + strings.Join(keys, ", +")
	query := `SELECT ` + cols + `, count(*) AS n, sum(packets + rev_packets) AS p, sum(bytes + rev_bytes) AS b,
		count(*) OVER () FROM flows WHERE ` + w + ` GROUP BY ` + byCols + ` ORDER BY ` + order + `, ` + cols + limit(&q, &args)
	countQuery, countArgs := `SELECT count(*) FROM (SELECT 1 FROM flows WHERE `+w+` GROUP BY `+byCols+`)`, args[:len(args)-2]
	if len(keys) == 1 && (q.Filter == nil || q.Filter.Root == nil) && q.From.IsZero() && q.To.IsZero() {
		// Every flow by one key: the rollup has the answer.
		args = []any{keys[0]}
		countQuery, countArgs = `SELECT count(*) FROM rollup WHERE key = ?`, []any{keys[0]}
		query = `SELECT value AS ` + cols + `, flows AS n, packets AS p, bytes AS b, count(*) OVER ()
			FROM rollup WHERE key = ? ORDER BY ` + order + `, ` + cols + limit(&q, &args)
	} else {
		// A filter or time bounds: a pass over every flow, which the
		// snapshot makes in Go.
		s.snaps.mu.Lock()
		sn, err := s.snapshot(ctx, needs(&q, keys))
		if err == nil && sn != nil {
			res, err := s.groupsSnapshot(sn, &q, keys)
			s.snaps.mu.Unlock()
			return res, err
		}
		s.snaps.mu.Unlock()
		if err != nil {
			return Result{}, err
		}
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return Result{}, fmt.Errorf("unable to query flows: %w", err)
	}
	defer rows.Close()
	res := Result{Rows: []Row{}}
	for rows.Next() {
		r := Row{Keys: keys}
		dest := make([]any, 0, len(keys)+4)
		var src, dst []byte
		for _, k := range keys {
			switch k {
			case "src":
				dest = append(dest, &src)
			case "dst":
				dest = append(dest, &dst)
			case "sport":
				dest = append(dest, &r.SrcPort)
			case "dport":
				dest = append(dest, &r.DstPort)
			case "proto":
				dest = append(dest, &r.Proto)
			case "device":
				dest = append(dest, &r.Device)
			}
		}
		dest = append(dest, &r.Flows, &r.Packets, &r.Bytes, &res.Total)
		if err := rows.Scan(dest...); err != nil {
			return Result{}, fmt.Errorf("unable to query flows: %w", err)
		}
		r.Src, r.Dst = addr(src), addr(dst)
		res.Rows = append(res.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return Result{}, fmt.Errorf("unable to query flows: %w", err)
	}
	if len(res.Rows) == 0 {
		if err := s.db.QueryRowContext(ctx, countQuery, countArgs...).Scan(&res.Total); err != nil {
			return Result{}, fmt.Errorf("unable to query flows: %w", err)
		}
	}
	return res, nil
}

// Each calls fn with every flow the query's filter and time bounds
// select, in the query's order or, without one, in the order they were
// ingested (no sort: the cheapest), streaming (GroupBy, Limit and Offset
// are ignored). fn's error stops it and is returned.
func (s *Store) Each(ctx context.Context, q Query, fn func(*Row) error) error {
	order := "rowid"
	if q.OrderBy != "" {
		o, err := q.order(flowOrder)
		if err != nil {
			return err
		}
		order = o + ", rowid"
	}
	if (q.Filter != nil && q.Filter.Root != nil) || !q.From.IsZero() || !q.To.IsZero() {
		// A selective filter (query.pcap's flow): the snapshot finds the
		// flows, SQLite reads them by rowid; else one pass in SQLite.
		pq := q
		pq.Limit, pq.Offset = 0, 0
		if pq.OrderBy == "" {
			pq.OrderBy = "flows" // the rowid alone
		}
		s.snaps.mu.Lock()
		var rowids []int64
		ok, cold := false, false
		var err error
		if s.snaps.snap == nil && s.partial && !s.sqlOnly {
			rowids, _, ok, err = s.coldFlows(ctx, &pq, func(n int64) int { return int(n / eachSelective) })
			cold = ok
		}
		if err == nil && !cold {
			var sn *snapshot
			if sn, err = s.snapshot(ctx, needs(&pq, nil)); err == nil && sn != nil {
				rowids, _, ok = flowsSnapshot(sn, &pq, sn.len()/eachSelective)
			}
		}
		s.snaps.mu.Unlock()
		if err != nil {
			return err
		}
		if ok {
			for len(rowids) > 0 {
				n := min(len(rowids), 10000)
				res, err := s.flowsByRowid(ctx, rowids[:n], 0)
				if err != nil {
					return err
				}
				for i := range res.Rows {
					if err := fn(&res.Rows[i]); err != nil {
						return err
					}
				}
				rowids = rowids[n:]
			}
			return nil
		}
	}
	w, args := q.where()
	rows, err := s.db.QueryContext(ctx, `SELECT `+rowColumns+` FROM flows WHERE `+w+` ORDER BY `+order, args...)
	if err != nil {
		return fmt.Errorf("unable to read flows: %w", err)
	}
	defer rows.Close()
	var r Row
	for rows.Next() {
		if err := scanRow(rows, &r); err != nil {
			return fmt.Errorf("unable to read flows: %w", err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("unable to read flows: %w", err)
	}
	return nil
}

// eachSelective: Each reads the flows by rowid when the snapshot finds
// at most one in eachSelective of them.
const eachSelective = 10

// rowColumns are the columns of a flow row (scanRow).
const rowColumns = `device, src, dst, sport, dport, proto, vlan, packets, bytes, rev_packets, rev_bytes,
	start_ms, end_ms, end_reason, (SELECT interface FROM sources WHERE id = source)`

// scanRow reads a flow row of rowColumns, then the extra columns.
func scanRow(rows *sql.Rows, r *Row, extra ...any) error {
	var src, dst []byte
	var start, end int64
	dest := append([]any{&r.Device, &src, &dst, &r.SrcPort, &r.DstPort, &r.Proto, &r.VLAN, &r.FwdPackets, &r.FwdBytes,
		&r.RevPackets, &r.RevBytes, &start, &end, &r.EndReason, &r.Interface}, extra...)
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	r.Src, r.Dst = addr(src), addr(dst)
	r.Start, r.End = time.UnixMilli(start).UTC(), time.UnixMilli(end).UTC()
	r.Flows, r.Packets, r.Bytes = 1, r.FwdPackets+r.RevPackets, r.FwdBytes+r.RevBytes
	r.Keys = GroupKeys
	return nil
}

// flowsByRowid returns the flows of rowids as rows, in that order.
func (s *Store) flowsByRowid(ctx context.Context, rowids []int64, total int64) (Result, error) {
	res := Result{Rows: make([]Row, len(rowids)), Total: total}
	at := make(map[int64]int, len(rowids))
	for i, id := range rowids {
		at[id] = i
	}
	const most = 10000 // bound parameters per statement
	for len(rowids) > 0 {
		n := min(len(rowids), most)
		args := make([]any, n)
		for i, id := range rowids[:n] {
			args[i] = id
		}
		rows, err := s.db.QueryContext(ctx, `SELECT `+rowColumns+`, rowid FROM flows WHERE rowid IN (?`+
			strings.Repeat(", ?", n-1)+`)`, args...)
		if err != nil {
			return Result{}, fmt.Errorf("unable to query flows: %w", err)
		}
		found := 0
		for rows.Next() {
			var r Row
			var id int64
			if err := scanRow(rows, &r, &id); err != nil {
				rows.Close()
				return Result{}, fmt.Errorf("unable to query flows: %w", err)
			}
			res.Rows[at[id]] = r
			found++
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return Result{}, fmt.Errorf("unable to query flows: %w", err)
		}
		if found != n {
			return Result{}, fmt.Errorf("unable to query flows: %d of %d flows found by rowid", found, n)
		}
		rowids = rowids[n:]
	}
	return res, nil
}

// addr decodes a stored address.
func addr(b []byte) netip.Addr {
	if len(b) != 16 {
		return netip.Addr{}
	}
	return netip.AddrFrom16([16]byte(b)).Unmap()
}

// uriPath escapes what SQLite's URI file names would otherwise read as
// the start of a query or fragment ('?', '#'), so that the store opens
// the file named and not a shorter one.
func uriPath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
}
