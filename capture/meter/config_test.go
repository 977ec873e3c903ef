package meter

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/flow"
)

func TestNewInvalidConfiguration(t *testing.T) {
	flows := func(mod func(*flow.Configuration)) *flow.Configuration {
		c := flow.DefaultConfiguration()
		mod(&c)
		return &c
	}
	cases := []struct {
		name string
		cfg  Configuration
		want string
	}{
		{"zero counter interval", Configuration{Counters: &counters.Configuration{}},
			"invalid meter configuration: counters: Interval must be positive, got 0s"},
		{"negative counter interval", Configuration{Counters: &counters.Configuration{Interval: -time.Second}},
			"invalid meter configuration: counters: Interval must be positive, got -1s"},
		{"zero flow configuration", Configuration{Flows: &flow.Configuration{}},
			"invalid meter configuration: flows: ActiveTimeout must be positive, got 0s"},
		{"negative idle timeout", Configuration{Flows: flows(func(c *flow.Configuration) { c.IdleTimeout = -time.Second })},
			"invalid meter configuration: flows: IdleTimeout must be positive, got -1s"},
		{"no flows", Configuration{Flows: flows(func(c *flow.Configuration) { c.MaxFlows = 0 })},
			"invalid meter configuration: flows: MaxFlows must be between 1 and 2147483647, got 0"},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d %s", i, tc.name), func(t *testing.T) {
			_, err := New(tc.cfg, layers.LinkTypeEthernet, Sinks{})
			if err == nil || err.Error() != tc.want {
				t.Errorf("New() error:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
	cfg := DefaultConfiguration()
	if err := cfg.Validate(); err != nil {
		t.Errorf("DefaultConfiguration().Validate() error:\n%+v", err)
	}
	if _, err := New(cfg, layers.LinkTypeEthernet, Sinks{}); err != nil {
		t.Errorf("New(DefaultConfiguration()) error:\n%+v", err)
	}
}
