package api

import (
	"fmt"
	"testing"
)

func TestNewInvalidConfiguration(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Configuration)
		want string
	}{
		{"zero body", func(c *Configuration) { c.MaxBodyBytes = 0 },
			"invalid AM API configuration: MaxBodyBytes must be positive, got 0"},
		{"negative body", func(c *Configuration) { c.MaxBodyBytes = -1 },
			"invalid AM API configuration: MaxBodyBytes must be positive, got -1"},
		{"no logger", func(c *Configuration) { c.Logger = nil },
			"invalid AM API configuration: Logger must be set"},
		{"valid, no manager", func(*Configuration) {}, "the AM API needs the aggregate manager"},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d %s", i, tc.name), func(t *testing.T) {
			cfg := DefaultConfiguration()
			tc.mod(&cfg)
			if _, err := New(cfg, Dependencies{}); err == nil || err.Error() != tc.want {
				t.Errorf("New() error:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}
