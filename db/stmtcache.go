package db

import (
	"context"
	"database/sql/driver"
	"strings"

	"github.com/mattn/go-sqlite3"
)

// The statement cache (issue 15). database/sql hands every query to the
// SQLite driver as text, and the driver prepares (compiles) it, runs it
// and finalizes it, for every call: under make load, preparing the same
// few statements again and again made a tenth of the AM's CPU. Each
// connection now keeps its prepared statements by their text and runs
// them again (SQLite re-prepares one by itself when the schema changed).
//
// And the driver watches a cancellable context by running every step of
// a statement (every row) in a goroutine of its own, to interrupt it on
// cancellation; the statements here are short and the busy timeout bounds
// their waits, so they run with the context's values but without its
// cancellation (database/sql still closes the rows of a cancelled
// context).

// maxCachedStatements bounds the statements a connection keeps (queries
// built for a number of arguments, such as IN lists, are many).
const maxCachedStatements = 128

// connector opens SQLite connections with a statement cache.
type connector struct {
	dsn string
	drv *sqlite3.SQLiteDriver
}

// Connect implements driver.Connector.
func (c *connector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &cachingConn{SQLiteConn: conn.(*sqlite3.SQLiteConn), stmts: map[string]*cachedStmt{}}, nil
}

// Driver implements driver.Connector.
func (c *connector) Driver() driver.Driver { return c.drv }

// cachingConn is a SQLite connection that keeps its prepared statements.
// database/sql uses a connection from one goroutine at a time (and holds
// its lock around the rows' calls), so the cache needs no lock of its own.
type cachingConn struct {
	*sqlite3.SQLiteConn
	stmts map[string]*cachedStmt
}

// cachedStmt is a kept statement; busy while rows of it are open (a
// query run again before its rows are closed gets a statement of its
// own).
type cachedStmt struct {
	stmt *sqlite3.SQLiteStmt
	busy bool
}

// cacheable reports whether query is one statement the cache may keep:
// text with several statements (migrations) runs as before, and so do
// statements that are not reads or plain writes (PRAGMA, BEGIN, …). A
// write must run to its end in one step (no RETURNING) when executed:
// the driver does not reset a statement after Exec.
func cacheable(query string, exec bool) bool {
	if strings.IndexByte(query, ';') >= 0 {
		return false
	}
	q := strings.TrimLeft(query, " \t\r\n")
	verb, _, _ := strings.Cut(q, " ")
	switch strings.ToUpper(verb) {
	case "SELECT":
		return !exec
	case "INSERT", "UPDATE", "DELETE", "REPLACE":
		return !exec || !strings.Contains(strings.ToUpper(q), "RETURNING")
	}
	return false
}

// statement returns the kept statement of query, preparing it the first
// time; nil when it is not to be kept or is in use.
func (c *cachingConn) statement(ctx context.Context, query string, exec bool) (*cachedStmt, error) {
	if st, ok := c.stmts[query]; ok {
		if st.busy {
			return nil, nil
		}
		return st, nil
	}
	if !cacheable(query, exec) {
		return nil, nil
	}
	s, err := c.SQLiteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if len(c.stmts) >= maxCachedStatements {
		for q, old := range c.stmts { // any one not in use
			if !old.busy {
				old.stmt.Close()
				delete(c.stmts, q)
				break
			}
		}
	}
	st := &cachedStmt{stmt: s.(*sqlite3.SQLiteStmt)}
	c.stmts[query] = st
	return st, nil
}

// QueryContext implements driver.QueryerContext.
func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	ctx = context.WithoutCancel(ctx)
	st, err := c.statement(ctx, query, false)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.SQLiteConn.QueryContext(ctx, query, args)
	}
	rows, err := st.stmt.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	st.busy = true
	return &cachedRows{Rows: rows, st: st}, nil
}

// ExecContext implements driver.ExecerContext.
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ctx = context.WithoutCancel(ctx)
	st, err := c.statement(ctx, query, true)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.SQLiteConn.ExecContext(ctx, query, args)
	}
	return st.stmt.ExecContext(ctx, args)
}

// Close finalizes the kept statements and closes the connection.
func (c *cachingConn) Close() error {
	for q, st := range c.stmts {
		st.stmt.Close()
		delete(c.stmts, q)
	}
	return c.SQLiteConn.Close()
}

// cachedRows are the rows of a kept statement: closing them (which
// resets the statement) makes it free again.
type cachedRows struct {
	driver.Rows
	st *cachedStmt
}

// Close implements driver.Rows.
func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.st.busy = false
	return err
}
