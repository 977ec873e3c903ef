package job

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
		{"no data folder", func(c *Configuration) { c.DataDir = "" },
			"invalid job manager configuration: DataDir must be set (the folder of jobs and results)"},
		{"no logger", func(c *Configuration) { c.Logger = nil },
			"invalid job manager configuration: Logger must be set"},
		{"no clock", func(c *Configuration) { c.Now = nil },
			"invalid job manager configuration: Now must be set"},
		{"zero max jobs", func(c *Configuration) { c.MaxJobs = 0 },
			"invalid job manager configuration: MaxJobs must be positive, got 0"},
		{"negative max jobs", func(c *Configuration) { c.MaxJobs = -3 },
			"invalid job manager configuration: MaxJobs must be positive, got -3"},
		{"negative checkpoint interval", func(c *Configuration) { c.CheckpointInterval = -time.Second },
			"invalid job manager configuration: CheckpointInterval must be positive, got -1s"},
		{"negative min free", func(c *Configuration) { c.MinFree = -1 },
			"invalid job manager configuration: MinFree must be zero or more, got -1"},
		{"negative lease", func(c *Configuration) { c.Lease = -time.Minute },
			"invalid job manager configuration: Lease must be zero or more, got -1m0s"},
		{"unknown capture engine", func(c *Configuration) { c.Capture.Engine = "dpdk" },
			`invalid job manager configuration: Capture.Engine must be "afpacket" or "pcap", got "dpdk"`},
		{"zero configuration", func(c *Configuration) { *c = Configuration{DataDir: "data"} },
			"invalid job manager configuration: Logger must be set"},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d %s", i, tc.name), func(t *testing.T) {
			cfg := DefaultConfiguration()
			cfg.DataDir = t.TempDir()
			tc.mod(&cfg)
			if _, err := New(cfg, Dependencies{}); err == nil || err.Error() != tc.want {
				t.Errorf("New() error:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
	d := DefaultConfiguration()
	if d.MaxJobs != 32 || d.CheckpointInterval != time.Second || d.Lease != 10*time.Minute || d.Logger == nil || d.Now == nil ||
		d.DataDir != "" || d.MinFree != 1<<30 {
		t.Errorf("DefaultConfiguration() = %+v", d)
	}
}
