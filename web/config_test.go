package web

import (
	"fmt"
	"testing"
	"time"
)

func TestNewInvalidConfiguration(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Configuration)
		want string
	}{
		{"zero idle", func(c *Configuration) { c.SessionIdle = 0 },
			"invalid web GUI configuration: SessionIdle must be positive, got 0s"},
		{"negative max age", func(c *Configuration) { c.SessionMax = -time.Hour },
			"invalid web GUI configuration: SessionMax must be positive, got -1h0m0s"},
		{"no sessions", func(c *Configuration) { c.MaxSessions = 0 },
			"invalid web GUI configuration: MaxSessions must be positive, got 0"},
		{"zero status interval", func(c *Configuration) { c.StatusInterval = 0 },
			"invalid web GUI configuration: StatusInterval must be positive, got 0s"},
		{"negative results interval", func(c *Configuration) { c.ResultsInterval = -time.Second },
			"invalid web GUI configuration: ResultsInterval must be positive, got -1s"},
		{"no flows shown", func(c *Configuration) { c.FlowsShown = 0 },
			"invalid web GUI configuration: FlowsShown must be between 1 and 10000, got 0"},
		{"too many flows shown", func(c *Configuration) { c.FlowsShown = 10001 },
			"invalid web GUI configuration: FlowsShown must be between 1 and 10000, got 10001"},
		{"no logger", func(c *Configuration) { c.Logger = nil },
			"invalid web GUI configuration: Logger must be set"},
		{"no clock", func(c *Configuration) { c.Now = nil },
			"invalid web GUI configuration: Now must be set"},
		{"valid, no manager", func(*Configuration) {}, "the web GUI needs the aggregate manager"},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d %s", i, tc.name), func(t *testing.T) {
			cfg := DefaultConfiguration()
			tc.mod(&cfg)
			if _, err := New(cfg, nil); err == nil || err.Error() != tc.want {
				t.Errorf("New() error:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}
