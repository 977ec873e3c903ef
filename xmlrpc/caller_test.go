package xmlrpc

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCallerReusesBuffers: one Caller's concurrent calls of every size
// (a pooled buffer from a large answer reused for a small one and back)
// each get their own answer, and what a call decoded stays as it was
// while later calls reuse the buffers it was read from.
func TestCallerReusesBuffers(t *testing.T) {
	ts, _, _ := startServer(t, DefaultConfiguration())
	var c Caller
	ctx := context.Background()
	var kept []Sample
	for i := range 3 {
		note := fmt.Sprintf("note %d <&>", i)
		in := Sample{Int: i, Name: strings.Repeat(fmt.Sprint(i), 10+i*1000), Blob: []byte{byte(i), 1, 2},
			When: time.Date(2026, 12, 1, 0, 0, i, 0, time.UTC), List: []int{i}, Note: &note}
		var out Sample
		if err := c.Call(ctx, nil, ts.URL, nil, "Echo", []any{in}, &out); err != nil {
			t.Fatal(err)
		}
		kept = append(kept, out)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				n := (g*7 + i*13) % 60
				var rows []string
				if err := c.Call(ctx, nil, ts.URL, nil, "Rows", []any{n * n}, &rows); err != nil {
					errs <- err
					return
				}
				if len(rows) != n*n || (n > 0 && rows[len(rows)-1] != strings.Repeat("r", 100)) {
					errs <- fmt.Errorf("Rows(%d): %d rows", n*n, len(rows))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, out := range kept {
		if out.Int != i || out.Name != strings.Repeat(fmt.Sprint(i), 10+i*1000) || len(out.Blob) != 3 || out.Blob[0] != byte(i) ||
			out.Note == nil || *out.Note != fmt.Sprintf("note %d <&>", i) {
			t.Errorf("answer %d changed after later calls: %+v", i, out)
		}
	}
}
