package xmlrpc

import (
	"fmt"
	"testing"
)

func TestNewServerInvalidConfiguration(t *testing.T) {
	cases := []struct {
		name string
		cfg  Configuration
		want string
	}{
		{"zero configuration", Configuration{DefaultService: "AM"},
			"invalid XML-RPC configuration: MaxBodyBytes must be positive, got 0"},
		{"negative body", with(func(c *Configuration) { c.MaxBodyBytes = -1 }),
			"invalid XML-RPC configuration: MaxBodyBytes must be positive, got -1"},
		{"zero depth", with(func(c *Configuration) { c.MaxDepth = 0 }),
			"invalid XML-RPC configuration: MaxDepth must be positive, got 0"},
		{"negative values", with(func(c *Configuration) { c.MaxValues = -5 }),
			"invalid XML-RPC configuration: MaxValues must be positive, got -5"},
		{"zero multicall", with(func(c *Configuration) { c.MaxMulticall = 0 }),
			"invalid XML-RPC configuration: MaxMulticall must be positive, got 0"},
		{"no codes", with(func(c *Configuration) { c.Codes = FaultCodes{} }),
			"invalid XML-RPC configuration: Codes.ParseError must be a non-zero fault code, got 0"},
		{"zero application code", with(func(c *Configuration) { c.Codes.Application = 0 }),
			"invalid XML-RPC configuration: Codes.Application must be a non-zero fault code, got 0"},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d %s", i, tc.name), func(t *testing.T) {
			if _, err := NewServer(tc.cfg); err == nil || err.Error() != tc.want {
				t.Errorf("NewServer() error:\n got %v\nwant %s", err, tc.want)
			}
			if _, err := NewCodec(tc.cfg); err == nil || err.Error() != tc.want {
				t.Errorf("NewCodec() error:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
	if err := DefaultConfiguration().Validate(); err != nil {
		t.Errorf("DefaultConfiguration().Validate() error:\n%+v", err)
	}
}
