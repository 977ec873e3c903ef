package am

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestNewInvalidConfiguration(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Configuration)
		want string
	}{
		{"no data folder", func(c *Configuration) { c.DataDir = "" },
			"invalid aggregate manager configuration: DataDir must be set (the folder of result files)"},
		{"zero device timeout", func(c *Configuration) { c.DeviceTimeout = 0 },
			"invalid aggregate manager configuration: DeviceTimeout must be positive, got 0s"},
		{"negative poll interval", func(c *Configuration) { c.PollInterval = -5 * time.Second },
			"invalid aggregate manager configuration: PollInterval must be positive, got -5s"},
		{"zero pull interval", func(c *Configuration) { c.PullInterval = 0 },
			"invalid aggregate manager configuration: PullInterval must be positive, got 0s"},
		{"negative refresh interval", func(c *Configuration) { c.RefreshInterval = -time.Millisecond },
			"invalid aggregate manager configuration: RefreshInterval must be positive, got -1ms"},
		{"negative retention", func(c *Configuration) { c.Retention = -time.Hour },
			"invalid aggregate manager configuration: Retention must be zero or more, got -1h0m0s"},
		{"negative audit retention", func(c *Configuration) { c.AuditRetention = -time.Hour },
			"invalid aggregate manager configuration: AuditRetention must be zero or more, got -1h0m0s"},
		{"bcrypt cost too low", func(c *Configuration) { c.BcryptCost = 3 },
			"invalid aggregate manager configuration: BcryptCost must be between 4 and 31, got 3"},
		{"bcrypt cost too high", func(c *Configuration) { c.BcryptCost = 32 },
			"invalid aggregate manager configuration: BcryptCost must be between 4 and 31, got 32"},
		{"no logger", func(c *Configuration) { c.Logger = nil },
			"invalid aggregate manager configuration: Logger must be set"},
		{"no clock", func(c *Configuration) { c.Now = nil },
			"invalid aggregate manager configuration: Now must be set"},
		{"zero configuration", func(c *Configuration) { *c = Configuration{DataDir: "data"} },
			"invalid aggregate manager configuration: DeviceTimeout must be positive, got 0s"},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d %s", i, tc.name), func(t *testing.T) {
			cfg := DefaultConfiguration()
			cfg.DataDir = filepath.Join(t.TempDir(), "data")
			tc.mod(&cfg)
			// The database is checked after the configuration: none is
			// needed to see the configuration refused.
			if _, err := New(cfg, Dependencies{}); err == nil || err.Error() != tc.want {
				t.Errorf("New() error:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
	d := DefaultConfiguration()
	if d.DeviceTimeout != 10*time.Second || d.PollInterval != time.Second || d.PullInterval != 10*time.Second ||
		d.RefreshInterval != 30*time.Second || d.BcryptCost != bcrypt.DefaultCost || d.Logger == nil || d.Now == nil {
		t.Errorf("DefaultConfiguration() = %+v", d)
	}
}
