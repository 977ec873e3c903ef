package db

import (
	"context"
	"testing"
)

// TestStatementCache: a query runs from its kept statement the second
// time, also inside a transaction; the same query run again while its
// rows are open gets a statement of its own; text of several statements,
// RETURNING and PRAGMA run as before; results are right throughout.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	d, _ := open(t)
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	kept := func() (n int) {
		t.Helper()
		if err := conn.Raw(func(dc any) error {
			n = len(dc.(*cachingConn).stmts)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	base := kept()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE u (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	for i, v := range []string{"a", "b", "c"} {
		if _, err := conn.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, i+1, v); err != nil {
			t.Fatal(err)
		}
	}
	if n := kept(); n != base+1 {
		t.Errorf("%d statements kept after three inserts of one text, want %d", n, base+1)
	}
	const q = `SELECT v FROM t WHERE id >= ? ORDER BY id`
	outer, err := conn.QueryContext(ctx, q, 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for outer.Next() {
		var v string
		if err := outer.Scan(&v); err != nil {
			t.Fatal(err)
		}
		// The same query while the outer rows are open.
		var inner int
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM (`+q+`)`, 2).Scan(&inner); err != nil {
			t.Fatal(err)
		}
		var again string
		if err := conn.QueryRowContext(ctx, q, 3).Scan(&again); err != nil || again != "c" {
			t.Fatalf("the query again inside its own rows: %q, %v", again, err)
		}
		got = append(got, v)
	}
	if err := outer.Err(); err != nil {
		t.Fatal(err)
	}
	outer.Close()
	if len(got) != 3 || got[0] != "a" || got[2] != "c" {
		t.Errorf("rows %v, want [a b c]", got)
	}
	var v string
	if err := conn.QueryRowContext(ctx, q, 2).Scan(&v); err != nil || v != "b" {
		t.Errorf("the kept query after its rows closed: %q, %v", v, err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, 4, "d"); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `UPDATE t SET v = 'e' WHERE id = ? RETURNING id`, 4).Scan(&id); err != nil || id != 4 {
		t.Fatalf("RETURNING: %d, %v", id, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM t WHERE id = ? RETURNING id`, 1); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM t WHERE v = ?`, "e").Scan(&n); err != nil || n != 1 {
		t.Errorf("after the transaction: %d rows of e, %v; want 1", n, err)
	}
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 3 {
		t.Errorf("after the transaction: %d rows, %v; want 3 (one deleted)", n, err)
	}
	// A write on another connection is seen by the kept statement.
	if _, err := d.sql.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (9, 'z')`); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(ctx, q, 9).Scan(&v); err != nil || v != "z" {
		t.Errorf("a row written elsewhere: %q, %v", v, err)
	}
}
