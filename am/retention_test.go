package am

import (
	"context"
	"testing"
	"time"

	"github.com/gimsproject/gims/db"
)

// TestAuditRetention: the monitor's housekeeping deletes the audit
// entries older than AuditRetention (365 days by default) and keeps the
// others; zero keeps them all.
func TestAuditRetention(t *testing.T) {
	now := time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		retention time.Duration
		want      int
	}{
		{"default", DefaultConfiguration().AuditRetention, 2},
		{"a day", 24 * time.Hour, 1},
		{"forever", 0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			store, cfg := newTestStore(t)
			cfg.AuditRetention, cfg.Now = tc.retention, func() time.Time { return now }
			for _, age := range []time.Duration{400 * 24 * time.Hour, 10 * 24 * time.Hour, time.Hour} {
				if err := store.AddAudit(ctx, db.AuditEntry{At: now.Add(-age), User: "alice", Method: "StartExperiment",
					Target: age.String(), Result: "ok"}); err != nil {
					t.Fatal(err)
				}
			}
			m, err := New(cfg, Dependencies{DB: store})
			if err != nil {
				t.Fatal(err)
			}
			m.monitor(ctx)
			left, err := store.ListAudit(ctx, db.AuditQuery{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != tc.want {
				t.Errorf("%d entries left, want %d: %+v", len(left), tc.want, left)
			}
			for _, e := range left {
				if tc.retention > 0 && now.Sub(e.At) > tc.retention {
					t.Errorf("entry of %s kept beyond the retention %s", e.At, tc.retention)
				}
			}
		})
	}
	if DefaultConfiguration().AuditRetention != 365*24*time.Hour {
		t.Errorf("default AuditRetention %s, want 365 days", DefaultConfiguration().AuditRetention)
	}
}
