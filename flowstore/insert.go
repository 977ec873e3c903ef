package flowstore

/*
#include <stdlib.h>
typedef struct sqlite3_stmt sqlite3_stmt;
typedef struct sqlite3 sqlite3;
int sqlite3_bind_int64(sqlite3_stmt*, int, long long);
int sqlite3_bind_blob(sqlite3_stmt*, int, const void*, int, void(*)(void*));
int sqlite3_bind_text(sqlite3_stmt*, int, const char*, int, void(*)(void*));
int sqlite3_step(sqlite3_stmt*);
int sqlite3_reset(sqlite3_stmt*);
sqlite3 *sqlite3_db_handle(sqlite3_stmt*);
const char *sqlite3_errmsg(sqlite3*);

// gims_bind_source binds the source and the device, ?1 and ?2 of an
// INSERT of flows.
static int gims_bind_source(sqlite3_stmt *s, long long source, const char *device, int n) {
	int rc = sqlite3_bind_int64(s, 1, source);
	return rc ? rc : sqlite3_bind_text(s, 2, device, n, (void(*)(void*))-1);
}

// gims_insert binds rows flows to the parameters from ?3 on of an INSERT
// of flows (per flow: its 32 bytes of addresses in addrs, then its
// flowInts integers in ints; both in memory that lives as long as s),
// and runs it.
static int gims_insert(sqlite3_stmt *s, const unsigned char *addrs, const long long *ints, int rows, int nints) {
	int p = 3, rc;
	for (int r = 0; r < rows; r++) {
		rc = sqlite3_bind_blob(s, p++, addrs + 32*r, 32, (void(*)(void*))0);
		if (rc) return rc;
		for (int i = 0; i < nints; i++) {
			rc = sqlite3_bind_int64(s, p++, ints[nints*r + i]);
			if (rc) return rc;
		}
	}
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == 101 ? 0 : rc; // SQLITE_DONE
}

static const char *gims_errmsg(sqlite3_stmt *s) { return sqlite3_errmsg(sqlite3_db_handle(s)); }
*/
import "C"

import (
	"context"
	"database/sql/driver"
	"fmt"
	"reflect"
	"unsafe"
)

// flowInts are the integer columns of a stored flow after its addresses:
// tuple, packets, bytes, rev_packets, rev_bytes, start_ms, end_ms.
const flowInts = 7

// insertBuf is a batch of flows to insert, in C memory (SQLite reads it
// during the statement's step without copying).
type insertBuf struct {
	addrs []byte
	ints  []int64
	n     int
}

func newInsertBuf() *insertBuf {
	a := C.calloc(C.size_t(insertBatch), 32)
	i := C.calloc(C.size_t(insertBatch*flowInts), 8)
	return &insertBuf{addrs: unsafe.Slice((*byte)(a), insertBatch*32),
		ints: unsafe.Slice((*int64)(i), insertBatch*flowInts)}
}

func (b *insertBuf) free() {
	C.free(unsafe.Pointer(&b.addrs[0]))
	C.free(unsafe.Pointer(&b.ints[0]))
}

// inserter runs the INSERTs of flows of one source on a connection of
// the driver (mattn/go-sqlite3) with the statement's parameters bound
// in one call into C per statement: binding them through database/sql,
// one call each, cost more than SQLite spends storing the flows.
type inserter struct {
	conn          driver.ConnPrepareContext
	source        int64
	device        string
	full          driver.Stmt
	sFull         *C.sqlite3_stmt
	insert        func(n int) string
	partial       map[int]driver.Stmt
	partialStmts  map[int]*C.sqlite3_stmt
	cDevice       *C.char
	cDeviceLength C.int
}

// newInserter makes the inserter of source's flows on dc, the driver's
// connection.
func newInserter(ctx context.Context, dc any, source int64, device string, insert func(n int) string) (*inserter, error) {
	conn, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, fmt.Errorf("the driver's connection %T cannot prepare", dc)
	}
	in := &inserter{conn: conn, source: source, device: device, insert: insert,
		partial: map[int]driver.Stmt{}, partialStmts: map[int]*C.sqlite3_stmt{}}
	in.cDevice, in.cDeviceLength = C.CString(device), C.int(len(device))
	// The INSERT of insertBatch flows is prepared with the first full
	// batch: the AM ingests the few new flows of a pulled file many times
	// a second (issue 15), and compiling the statement of 256 rows for
	// each was most of the cost.
	return in, nil
}

// prepare prepares the INSERT of n flows and binds its source.
func (in *inserter) prepare(ctx context.Context, n int) (driver.Stmt, *C.sqlite3_stmt, error) {
	st, err := in.conn.PrepareContext(ctx, in.insert(n))
	if err != nil {
		return nil, nil, err
	}
	s, err := sqliteStmt(st)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	if rc := C.gims_bind_source(s, C.longlong(in.source), in.cDevice, in.cDeviceLength); rc != 0 {
		st.Close()
		return nil, nil, fmt.Errorf("unable to bind the flows' source: %s (%d)", C.GoString(C.gims_errmsg(s)), int(rc))
	}
	return st, s, nil
}

// run stores the flows of b.
func (in *inserter) run(ctx context.Context, b *insertBuf) error {
	if b.n == 0 {
		return nil
	}
	s := in.sFull
	if b.n == insertBatch && s == nil {
		var err error
		if in.full, in.sFull, err = in.prepare(ctx, insertBatch); err != nil {
			return err
		}
		s = in.sFull
	}
	if b.n < insertBatch {
		if s = in.partialStmts[b.n]; s == nil {
			st, ps, err := in.prepare(ctx, b.n)
			if err != nil {
				return err
			}
			in.partial[b.n], in.partialStmts[b.n], s = st, ps, ps
		}
	}
	rc := C.gims_insert(s, (*C.uchar)(unsafe.Pointer(&b.addrs[0])), (*C.longlong)(unsafe.Pointer(&b.ints[0])),
		C.int(b.n), flowInts)
	if rc != 0 {
		return fmt.Errorf("unable to store flows: %s (%d)", C.GoString(C.gims_errmsg(s)), int(rc))
	}
	return nil
}

func (in *inserter) close() {
	if in.full != nil {
		in.full.Close()
	}
	for _, st := range in.partial {
		st.Close()
	}
	C.free(unsafe.Pointer(in.cDevice))
}

// sqliteStmt is the SQLite statement of a statement of the driver,
// mattn/go-sqlite3's *SQLiteStmt, whose field s it is.
func sqliteStmt(st driver.Stmt) (*C.sqlite3_stmt, error) {
	v := reflect.ValueOf(st)
	if v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct && v.Elem().Type().PkgPath() == "github.com/mattn/go-sqlite3" &&
		v.Elem().Type().Name() == "SQLiteStmt" {
		if f := v.Elem().FieldByName("s"); f.IsValid() && f.Kind() == reflect.Pointer && !f.IsNil() {
			return (*C.sqlite3_stmt)(f.UnsafePointer()), nil
		}
	}
	return nil, fmt.Errorf("the driver's statement %T is not mattn/go-sqlite3's", st)
}
