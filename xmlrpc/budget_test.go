package xmlrpc

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// rowBytes is what one row of TestService.Rows takes in an answer:
// <value><string>100 bytes</string></value>.
const rowBytes = 100 + len("<value><string></string></value>")

func TestResponseBudget(t *testing.T) {
	const budget = int64(100 * rowBytes) // a little less than 100 rows with the array around them
	ts, svc, _ := startServer(t, with(func(c *Configuration) { c.MaxResponseBytes = budget }))
	ctx := context.Background()

	t.Run("call within the budget", func(t *testing.T) {
		var rows []string
		if err := Call(ctx, nil, ts.URL, nil, "Rows", []any{90}, &rows); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 90 {
			t.Errorf("%d rows, want 90", len(rows))
		}
	})
	t.Run("call beyond the budget", func(t *testing.T) {
		err := Call(ctx, nil, ts.URL, nil, "Rows", []any{1000}, nil)
		var f *Fault
		if !errors.As(err, &f) || f.Code != CodeInvalidParams || !strings.Contains(f.String, "response too large") {
			t.Fatalf("got %v, want fault 3 response too large", err)
		}
	})
	t.Run("introspection beyond the budget", func(t *testing.T) {
		ts, _, _ := startServer(t, with(func(c *Configuration) { c.MaxResponseBytes = 100 }))
		err := Call(ctx, nil, ts.URL, nil, "system.listMethods", nil, nil)
		var f *Fault
		if !errors.As(err, &f) || f.Code != CodeInvalidParams {
			t.Fatalf("got %v, want fault 3", err)
		}
	})
	t.Run("multicall shares the budget", func(t *testing.T) {
		// Each sub-call fits alone; together they do not. The first two
		// are answered, the third is too large, the calls left are not
		// run at all.
		calls := make([]any, 10)
		for i := range calls {
			calls[i] = map[string]any{"methodName": "Rows", "params": []any{40}}
		}
		before := svc.calls.Load()
		var got []any
		if err := Call(ctx, nil, ts.URL, nil, "system.multicall", []any{calls}, &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(calls) {
			t.Fatalf("%d entries, want %d", len(got), len(calls))
		}
		for i, g := range got {
			switch i {
			case 0, 1:
				if a, ok := g.([]any); !ok || len(a) != 1 || len(a[0].([]any)) != 40 {
					t.Errorf("entry %d: got %.80v, want 40 rows", i, g)
				}
			default:
				m, ok := g.(map[string]any)
				if !ok || m["faultCode"] != CodeInvalidParams || !strings.Contains(m["faultString"].(string), "response too large") {
					t.Errorf("entry %d: got %.200v, want fault 3 response too large", i, g)
				}
				if i > 2 && !strings.Contains(m["faultString"].(string), "not run") {
					t.Errorf("entry %d: got %v, want not run", i, m["faultString"])
				}
			}
		}
		if ran := svc.calls.Load() - before; ran != 3 {
			t.Errorf("%d sub-calls ran, want 3", ran)
		}
	})
	t.Run("multicall cap", func(t *testing.T) {
		calls := make([]any, DefaultConfiguration().MaxMulticall+1)
		for i := range calls {
			calls[i] = map[string]any{"methodName": "Add", "params": []any{1, 2}}
		}
		err := Call(ctx, nil, ts.URL, nil, "system.multicall", []any{calls}, nil)
		var f *Fault
		if !errors.As(err, &f) || f.Code != CodeInvalidParams || !strings.Contains(f.String, "at most 100 allowed") {
			t.Fatalf("got %v, want fault 3 at most 100 allowed", err)
		}
	})
}
