package flowstore

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"syscall"
	"unsafe"
)

// cols are flows in columns, addresses and devices interned (the
// columns hold their indexes): the snapshot's memory and one chunk of
// the store's column file.
type cols struct {
	addrs   [][16]byte
	addrIdx map[[16]byte]uint32
	// remap is, for the addresses of an ingest's rollup (its index),
	// their index in addrs plus one (localAddr).
	remap   []uint32
	devices []string
	devIdx  map[string]uint16

	// n is the flows held; mask the columns filled (a snapshot read
	// for one query may hold only some, all others are empty).
	n    int
	mask colMask

	rowid                []int64
	dev                  []uint16
	src, dst             []uint32
	sport, dport         []uint16
	proto                []uint8
	vlan                 []uint16
	packets, bytes       []int64 // both directions
	fwdPackets, fwdBytes []int64
	startMs, endMs       []int64
}

func newCols() cols {
	return cols{addrIdx: map[[16]byte]uint32{}, devIdx: map[string]uint16{}, mask: allCols}
}

// colMask is a set of columns, by their place in cols.columns.
type colMask uint16

// The columns of cols.columns.
const (
	cRowid colMask = 1 << iota
	cDev
	cSrc
	cDst
	cSport
	cDport
	cProto
	cVlan
	cPackets
	cBytes
	cFwdPackets
	cFwdBytes
	cStart
	cEnd
	allCols = 1<<iota - 1
)

func (c *cols) addr(a [16]byte) uint32 {
	if i, ok := c.addrIdx[a]; ok {
		return i
	}
	i := uint32(len(c.addrs))
	c.addrs = append(c.addrs, a)
	c.addrIdx[a] = i
	return i
}

func (c *cols) device(d string) (uint16, error) {
	if i, ok := c.devIdx[d]; ok {
		return i, nil
	}
	if len(c.devices) == 1<<16 {
		return 0, fmt.Errorf("more than %d devices", 1<<16)
	}
	i := uint16(len(c.devices))
	c.devices = append(c.devices, d)
	c.devIdx[d] = i
	return i, nil
}

// localAddr is the index in c.addrs of the rollup's address g, a.
func (c *cols) localAddr(g uint32, a [16]byte) uint32 {
	if int(g) >= len(c.remap) {
		c.remap = append(c.remap, make([]uint32, int(g)+1-len(c.remap)+len(c.remap)/2)...)
	}
	if l := c.remap[g]; l != 0 {
		return l - 1
	}
	l := uint32(len(c.addrs))
	c.addrs = append(c.addrs, a)
	c.remap[g] = l + 1
	return l
}

// colFlow is one flow as the columns hold it (addresses and device not
// interned yet).
type colFlow struct {
	rowid                int64
	dev                  string
	src, dst             [16]byte
	sport, dport         uint16
	proto                uint8
	vlan                 uint16
	fwdPackets, fwdBytes int64
	revPackets, revBytes int64
	startMs, endMs       int64
}

// add appends a flow, its addresses interned.
func (c *cols) add(f *colFlow) error { return c.addIndexed(f, c.addr(f.src), c.addr(f.dst)) }

// addIndexed appends a flow whose addresses are c.addrs[src], [dst].
func (c *cols) addIndexed(f *colFlow, src, dst uint32) error {
	d, err := c.device(f.dev)
	if err != nil {
		return err
	}
	c.rowid = append(c.rowid, f.rowid)
	c.dev = append(c.dev, d)
	c.src = append(c.src, src)
	c.dst = append(c.dst, dst)
	c.sport = append(c.sport, f.sport)
	c.dport = append(c.dport, f.dport)
	c.proto = append(c.proto, f.proto)
	c.vlan = append(c.vlan, f.vlan)
	c.packets = append(c.packets, f.fwdPackets+f.revPackets)
	c.bytes = append(c.bytes, f.fwdBytes+f.revBytes)
	c.fwdPackets = append(c.fwdPackets, f.fwdPackets)
	c.fwdBytes = append(c.fwdBytes, f.fwdBytes)
	c.startMs = append(c.startMs, f.startMs)
	c.endMs = append(c.endMs, f.endMs)
	c.n++
	return nil
}

// len is the flows held.
func (c *cols) len() int { return c.n }

// columns are the column slices in the file's order.
func (c *cols) columns() []any {
	return []any{&c.rowid, &c.dev, &c.src, &c.dst, &c.sport, &c.dport, &c.proto, &c.vlan, &c.packets, &c.bytes,
		&c.fwdPackets, &c.fwdBytes, &c.startMs, &c.endMs}
}

// rowBytes is the bytes of one flow in the file's columns.
const rowBytes = 8 + 2 + 4 + 4 + 2 + 2 + 1 + 2 + 6*8

// raw is a column's memory as bytes (the file holds columns in the
// machine's byte order, which its header records).
func raw(col any, from int) []byte {
	switch s := col.(type) {
	case *[]int64:
		return rawOf((*s)[from:])
	case *[]uint32:
		return rawOf((*s)[from:])
	case *[]uint16:
		return rawOf((*s)[from:])
	case *[]uint8:
		return (*s)[from:]
	}
	panic(fmt.Sprintf("flowstore: column of type %T", col))
}

func rawOf[T int64 | uint32 | uint16](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0])))
}

// grow extends a column by n values, zero or left from before (they
// are read over).
func grow(col any, n int) {
	switch s := col.(type) {
	case *[]int64:
		*s = slices.Grow(*s, n)[:len(*s)+n]
	case *[]uint32:
		*s = slices.Grow(*s, n)[:len(*s)+n]
	case *[]uint16:
		*s = slices.Grow(*s, n)[:len(*s)+n]
	case *[]uint8:
		*s = slices.Grow(*s, n)[:len(*s)+n]
	}
}

// reserve makes room in a column for n more values.
func reserve(col any, n int) {
	switch s := col.(type) {
	case *[]int64:
		*s = slices.Grow(*s, n)
	case *[]uint32:
		*s = slices.Grow(*s, n)
	case *[]uint16:
		*s = slices.Grow(*s, n)
	case *[]uint8:
		*s = slices.Grow(*s, n)
	}
}

// The column file (the store's path + ".cols") holds the store's flows
// as the snapshot keeps them, written by Ingest as it stores them, so
// that a process that did not load the snapshot yet (the AM after a
// restart) reads it at the speed of the disk instead of from SQLite
// row by row. It is a sequence of chunks, each a header (chunkHeader)
// then its addresses (16 bytes each), its devices (a 2-byte length and
// the name each) and its columns (cols.columns' order, the machine's
// byte order); chunk-local address and device indexes. A chunk belongs
// to the store's epoch and generation (meta) that its rows were stored
// under: chunks of another epoch, or of a generation the store has not
// committed, are not read, and the next Ingest cuts them off.
type chunkHeader struct {
	Magic      [8]byte
	Order      uint32 // byteOrderMark in the writer's byte order
	Version    uint32
	Epoch      int64
	Gen        int64
	Rows       uint64
	Addrs      uint64
	DevBytes   uint64
	FirstRowid int64
	LastRowid  int64
	Size       uint64 // the chunk's bytes, header included
}

var chunkMagic = [8]byte{'G', 'I', 'M', 'S', 'C', 'O', 'L', 'S'}

const (
	byteOrderMark = 0x01020304
	chunkVersion  = 1
	// chunkRows is the most flows of one chunk (Store.chunkRows).
	chunkRows = 1 << 20
)

var headerSize = binary.Size(chunkHeader{})

// colFile is an open column file.
type colFile struct {
	f *os.File
}

// openColFile opens the column file for an ingest, created if missing.
func openColFile(path string) (*colFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("unable to open the flows' column file: %w", err)
	}
	return &colFile{f: f}, nil
}

// readColFileAt opens the column file for reading; a missing file is an
// empty one. A reader never creates it: a preload that runs after its
// store was closed and removed must not leave a file behind.
func readColFileAt(path string) (*colFile, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("unable to open the flows' column file: %w", err)
	}
	return &colFile{f: f}, nil
}

func (cf *colFile) close() error { return cf.f.Close() }

// lock takes the file's lock, exclusive (a writer) or shared (a reader).
func (cf *colFile) lock(exclusive bool) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	return syscall.Flock(int(cf.f.Fd()), how)
}

func (cf *colFile) unlock() { syscall.Flock(int(cf.f.Fd()), syscall.LOCK_UN) }

// readHeader reads the header of the chunk at off; ok is false at the
// end of the file, at a chunk cut short, and at anything that is not a
// chunk of ours.
func (cf *colFile) readHeader(off, size int64) (h chunkHeader, ok bool) {
	if off+int64(headerSize) > size {
		return h, false
	}
	buf := make([]byte, headerSize)
	if _, err := cf.f.ReadAt(buf, off); err != nil {
		return h, false
	}
	if _, err := binary.Decode(buf, binary.NativeEndian, &h); err != nil {
		return h, false
	}
	if h.Magic != chunkMagic || h.Order != byteOrderMark || h.Version != chunkVersion ||
		h.Rows > 1<<32 || h.Addrs > 1<<32 || h.DevBytes > 1<<32 || h.Size != uint64(chunkLayout(&h).size) || off+int64(h.Size) > size {
		return h, false
	}
	return h, true
}

// valid walks the chunks of epoch and of generations up to gen and
// returns where they end and the last rowid they hold (0: none).
func (cf *colFile) valid(epoch, gen int64) (end, lastRowid int64, err error) {
	info, err := cf.f.Stat()
	if err != nil {
		return 0, 0, fmt.Errorf("unable to read the flows' column file: %w", err)
	}
	for {
		h, ok := cf.readHeader(end, info.Size())
		if !ok || h.Epoch != epoch || h.Gen > gen {
			return end, lastRowid, nil
		}
		end += int64(h.Size)
		lastRowid = h.LastRowid
	}
}

// write appends c as a chunk of epoch and gen at off (the file is cut
// there first).
func (cf *colFile) write(off int64, c *cols, epoch, gen int64) (int64, error) {
	if c.len() == 0 {
		return off, nil
	}
	if err := cf.f.Truncate(off); err != nil {
		return off, fmt.Errorf("unable to write the flows' column file: %w", err)
	}
	devBytes := 0
	for _, d := range c.devices {
		devBytes += 2 + len(d)
	}
	h := chunkHeader{Magic: chunkMagic, Order: byteOrderMark, Version: chunkVersion, Epoch: epoch, Gen: gen,
		Rows: uint64(c.len()), Addrs: uint64(len(c.addrs)), DevBytes: uint64(devBytes),
		FirstRowid: c.rowid[0], LastRowid: c.rowid[c.len()-1]}
	layout := chunkLayout(&h)
	h.Size = uint64(layout.size)
	if _, err := cf.f.Seek(off, io.SeekStart); err != nil {
		return off, fmt.Errorf("unable to write the flows' column file: %w", err)
	}
	// A buffer of the chunk's size, up to 1 MiB: the AM writes chunks of
	// a few flows many times a second (issue 15), and a 1 MiB buffer for
	// each was most of its garbage.
	w := &countWriter{w: bufio.NewWriterSize(cf.f, int(min(layout.size, 1<<20)))}
	err := binary.Write(w, binary.NativeEndian, &h)
	for _, a := range c.addrs {
		if err == nil {
			_, err = w.Write(a[:])
		}
	}
	for _, d := range c.devices {
		if err == nil {
			_, err = w.Write(binary.NativeEndian.AppendUint16(nil, uint16(len(d))))
		}
		if err == nil {
			_, err = w.Write([]byte(d))
		}
	}
	// Each column from a multiple of 8 bytes from the chunk's start
	// (coldFlows uses them in place, mapped).
	pad := func(to int64) {
		if err == nil {
			_, err = w.Write(make([]byte, to-w.n))
		}
	}
	for j, col := range c.columns() {
		pad(layout.col[j])
		if err == nil {
			_, err = w.Write(raw(col, 0))
		}
	}
	pad(layout.size)
	if err == nil {
		err = w.w.Flush()
	}
	if err != nil {
		return off, fmt.Errorf("unable to write the flows' column file: %w", err)
	}
	return off + int64(h.Size), nil
}

// readInto appends to sn the chunks from off on that belong to epoch and
// generations up to gen and hold rows past sn.maxRowid only, and
// returns where it stopped.
func (cf *colFile) readInto(sn *snapshot, off, epoch, gen int64) (int64, error) {
	info, err := cf.f.Stat()
	if err != nil {
		return off, fmt.Errorf("unable to read the flows' column file: %w", err)
	}
	// The columns grow once, to the rows of every chunk to read.
	rows := 0
	for o := off; ; {
		h, ok := cf.readHeader(o, info.Size())
		if !ok || h.Epoch != epoch || h.Gen > gen {
			break
		}
		rows += int(h.Rows)
		o += int64(h.Size)
	}
	for j, col := range sn.columns() {
		if sn.mask&(1<<j) != 0 {
			reserve(col, rows)
		}
	}
	for {
		h, ok := cf.readHeader(off, info.Size())
		if !ok || h.Epoch != epoch || h.Gen > gen {
			return off, nil
		}
		if h.Rows == 0 || h.LastRowid <= sn.maxRowid {
			off += int64(h.Size)
			continue
		}
		if h.FirstRowid <= sn.maxRowid {
			// Rows the snapshot holds already (read from SQLite):
			// SQLite gives the rest.
			return off, nil
		}
		if err := cf.readChunk(sn, off, &h); err != nil {
			return off, err
		}
		off += int64(h.Size)
	}
}

// readChunk appends the chunk at off to sn, its addresses and devices
// interned in sn's.
func (cf *colFile) readChunk(sn *snapshot, off int64, h *chunkHeader) error {
	r := bufio.NewReaderSize(io.NewSectionReader(cf.f, off+int64(headerSize), int64(h.Addrs*16+h.DevBytes)), 1<<20)
	fail := func(err error) error { return fmt.Errorf("unable to read the flows' column file: %w", err) }
	addrMap := make([]uint32, h.Addrs)
	var a [16]byte
	for i := range addrMap {
		if _, err := io.ReadFull(r, a[:]); err != nil {
			return fail(err)
		}
		addrMap[i] = sn.addr(a)
	}
	devs := make([]byte, h.DevBytes)
	if _, err := io.ReadFull(r, devs); err != nil {
		return fail(err)
	}
	var devMap []uint16
	for len(devs) > 0 {
		if len(devs) < 2 || len(devs) < 2+int(binary.NativeEndian.Uint16(devs)) {
			return fail(errors.New("a device name cut short"))
		}
		n := int(binary.NativeEndian.Uint16(devs))
		d, err := sn.device(string(devs[2 : 2+n]))
		if err != nil {
			return fail(err)
		}
		devMap = append(devMap, d)
		devs = devs[2+n:]
	}
	// The columns straight into the snapshot's, two readers at a time
	// (a copy from the page cache at the speed of one core each).
	n, from := int(h.Rows), sn.len()
	layout := chunkLayout(h)
	var dst [][]byte
	var offs []int64
	for j, col := range sn.columns() {
		if sn.mask&(1<<j) != 0 {
			grow(col, n)
			dst, offs = append(dst, raw(col, from)), append(offs, off+layout.col[j])
		}
	}
	errs := make(chan error, 2)
	for half := range 2 {
		go func() {
			var err error
			for i := half; i < len(dst) && err == nil; i += 2 {
				_, err = cf.f.ReadAt(dst[i], offs[i])
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			sn.truncate(from)
			return fail(err)
		}
	}
	sn.n += n
	remap := func(col []uint32) bool {
		for i := from; i < sn.n; i++ {
			if int(col[i]) >= len(addrMap) {
				return false
			}
			col[i] = addrMap[col[i]]
		}
		return true
	}
	ok := (sn.mask&cSrc == 0 || remap(sn.src)) && (sn.mask&cDst == 0 || remap(sn.dst))
	for i := from; ok && sn.mask&cDev != 0 && i < sn.n; i++ {
		if ok = int(sn.dev[i]) < len(devMap); ok {
			sn.dev[i] = devMap[sn.dev[i]]
		}
	}
	if !ok {
		sn.truncate(from)
		return fail(fmt.Errorf("a flow of the chunk of rowids %d to %d refers to an address or device it does not hold",
			h.FirstRowid, h.LastRowid))
	}
	sn.maxRowid = h.LastRowid
	return nil
}

// layout is where a chunk's columns start from the chunk's start, and
// its size: the header, the addresses and devices, then each column
// from a multiple of 8 bytes.
type layout struct {
	col  [len(colSize)]int64
	size int64
}

func chunkLayout(h *chunkHeader) layout {
	pad8 := func(n int64) int64 { return (n + 7) &^ 7 }
	var l layout
	at := pad8(int64(headerSize) + int64(h.Addrs)*16 + int64(h.DevBytes))
	for j, size := range colSize {
		l.col[j] = at
		at += pad8(int64(h.Rows) * int64(size))
	}
	l.size = at
	return l
}

// colSize is the bytes of a value of each column of cols.columns.
var colSize = [...]uint8{8, 2, 4, 4, 2, 2, 1, 2, 8, 8, 8, 8, 8, 8}

// truncate keeps the first n flows.
func (c *cols) truncate(n int) {
	for j, col := range c.columns() {
		if c.mask&(1<<j) != 0 {
			switch s := col.(type) {
			case *[]int64:
				*s = (*s)[:n]
			case *[]uint32:
				*s = (*s)[:n]
			case *[]uint16:
				*s = (*s)[:n]
			case *[]uint8:
				*s = (*s)[:n]
			}
		}
	}
	c.n = n
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// coldFlows finds a flow query's page (flowsViews) in the column file
// mapped in memory, each chunk's columns used in place: the first query
// of a store whose snapshot is not loaded (a new process) copies
// nothing, and the snapshot then loads in the background. ok is false
// when the file does not hold every flow of the store, or the store
// more than SnapshotMaxFlows. The caller holds s.snaps.mu.
func (s *Store) coldFlows(ctx context.Context, q *Query, most func(flows int64) int) (rowids []int64, total int64, ok bool, err error) {
	var gen, epoch, maxRowid int64
	if err := s.db.QueryRowContext(ctx, `SELECT gen, epoch, (SELECT coalesce(max(rowid), 0) FROM flows) FROM meta`).
		Scan(&gen, &epoch, &maxRowid); err != nil {
		return nil, 0, false, fmt.Errorf("unable to read the flow store's generation: %w", err)
	}
	if maxRowid > SnapshotMaxFlows {
		return nil, 0, false, nil
	}
	cf, err := readColFileAt(s.colPath)
	if err != nil || cf == nil {
		return nil, 0, false, err
	}
	defer cf.close()
	// Shared: an ingest cuts the file (which would fault the mapping)
	// under the exclusive lock only.
	if err := cf.lock(false); err != nil {
		return nil, 0, false, fmt.Errorf("unable to lock the flows' column file: %w", err)
	}
	defer cf.unlock()
	end, last, err := cf.valid(epoch, gen)
	if err != nil || last != maxRowid {
		return nil, 0, false, err
	}
	var views []*snapshot
	if end > 0 {
		data, err := syscall.Mmap(int(cf.f.Fd()), 0, int(end), syscall.PROT_READ, syscall.MAP_SHARED)
		if err != nil {
			return nil, 0, false, fmt.Errorf("unable to map the flows' column file: %w", err)
		}
		defer syscall.Munmap(data)
		for off := int64(0); off < end; {
			var h chunkHeader
			if _, err := binary.Decode(data[off:], binary.NativeEndian, &h); err != nil {
				return nil, 0, false, fmt.Errorf("unable to read the flows' column file: %w", err)
			}
			v, err := chunkView(data[off:off+int64(h.Size)], &h)
			if err != nil {
				return nil, 0, false, fmt.Errorf("unable to read the flows' column file: %w", err)
			}
			views = append(views, v)
			off += int64(h.Size)
		}
	}
	var flows int64
	for _, v := range views {
		flows += int64(v.len())
	}
	rowids, total, ok = flowsViews(views, q, most(flows))
	s.startPreload(epoch, gen, maxRowid)
	return rowids, total, ok, nil
}

// chunkView is a chunk of the column file (b, a header valid by
// readHeader) as a snapshot whose columns are b's memory.
func chunkView(b []byte, h *chunkHeader) (*snapshot, error) {
	v := &snapshot{cols: cols{n: int(h.Rows), mask: allCols}}
	at := headerSize
	if h.Addrs > 0 {
		v.addrs = unsafe.Slice((*[16]byte)(unsafe.Pointer(&b[at])), h.Addrs)
	}
	v.ips = make([]netip.Addr, len(v.addrs))
	for i, a := range v.addrs {
		v.ips[i] = netip.AddrFrom16(a).Unmap()
	}
	at += int(h.Addrs) * 16
	devs := b[at : at+int(h.DevBytes)]
	for len(devs) > 0 {
		if len(devs) < 2 || len(devs) < 2+int(binary.NativeEndian.Uint16(devs)) {
			return nil, errors.New("a device name cut short")
		}
		n := int(binary.NativeEndian.Uint16(devs))
		v.devices = append(v.devices, string(devs[2:2+n]))
		devs = devs[2+n:]
	}
	if h.Rows == 0 {
		return v, nil
	}
	l := chunkLayout(h)
	n := int(h.Rows)
	for j, col := range v.columns() {
		p := unsafe.Pointer(&b[l.col[j]])
		switch c := col.(type) {
		case *[]int64:
			*c = unsafe.Slice((*int64)(p), n)
		case *[]uint32:
			*c = unsafe.Slice((*uint32)(p), n)
		case *[]uint16:
			*c = unsafe.Slice((*uint16)(p), n)
		case *[]uint8:
			*c = unsafe.Slice((*uint8)(p), n)
		}
	}
	for i := range n {
		if int(v.src[i]) >= len(v.addrs) || int(v.dst[i]) >= len(v.addrs) || int(v.dev[i]) >= len(v.devices) {
			return nil, fmt.Errorf("rowid %d refers to an address or device its chunk does not hold", v.rowid[i])
		}
	}
	return v, nil
}
