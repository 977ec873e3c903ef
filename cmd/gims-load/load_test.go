package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"
)

// TestLoad runs the load generator's core with 20 clients for 5 s
// against real daemons: no call may fail, every method must have been
// called, the live experiments must have counted the generated traffic,
// and SQLite must never have been busy.
func TestLoad(t *testing.T) {
	am, url := daemons(t)
	cfg := DefaultConfig()
	cfg.URL = url
	cfg.Device = "local"
	cfg.Clients = 20
	cfg.Duration = 5 * time.Second
	cfg.PacketRate = 200
	var progress bytes.Buffer
	cfg.Progress = &progress
	rep, err := Run(context.Background(), cfg)
	var table bytes.Buffer
	rep.WriteTable(&table)
	t.Logf("\n%s", table.String())
	if err != nil {
		t.Fatalf("Run: %v\nprogress:\n%s\nAM log:\n%s", err, progress.String(), am.Log())
	}
	if rep.Errors() != 0 {
		t.Errorf("%d calls failed:\n%s", rep.Errors(), strings.Join(rep.ErrorSamples, "\n"))
	}
	if len(rep.Rows) != int(nMethods) {
		t.Fatalf("%d rows, want %d", len(rep.Rows), nMethods)
	}
	for _, row := range rep.Rows {
		if row.Calls == 0 {
			t.Errorf("%s was never called", row.Method)
		}
		if row.Calls > 0 && (row.P50 <= 0 || row.P50 > row.P99 || row.P99 > row.Max) {
			t.Errorf("%s: p50 %s, p99 %s, max %s out of order", row.Method, row.P50, row.P99, row.Max)
		}
		// Every answer says the AM's device time (Server-Timing).
		if row.Timed != row.Calls || row.DeviceP99 > row.Max || row.OwnP50 > row.P99 || row.AMP50 > row.OwnP99 {
			t.Errorf("%s: %d calls, %d with a device time; device p99 %s, without it p50 %s; max %s", row.Method,
				row.Calls, row.Timed, row.DeviceP99, row.OwnP50, row.Max)
		}
	}
	// The status is answered from memory; a start waits on the device.
	if row, _ := rep.Row("GetExperimentStatus"); row.DeviceP99 != 0 {
		t.Errorf("GetExperimentStatus: device time p99 %s, want 0", row.DeviceP99)
	}
	if row, _ := rep.Row("StartExperiment"); row.DeviceP50 <= 0 {
		t.Errorf("StartExperiment: device time p50 %s, want > 0", row.DeviceP50)
	}
	if rep.Sequences == 0 {
		t.Error("no lifecycle sequence ran to its end")
	}
	if rep.LiveExperiments != cfg.Experiments {
		t.Errorf("%d live experiments, want %d", rep.LiveExperiments, cfg.Experiments)
	}
	// The datagrams sent before the live jobs opened their handles, or
	// still in flight at the stop, may be missed; most must be counted.
	if rep.Datagrams == 0 || rep.LivePackets < rep.Datagrams/2 || rep.LivePackets > rep.Datagrams {
		t.Errorf("live experiments counted %d packets of %d datagrams sent", rep.LivePackets, rep.Datagrams)
	}
	log := am.Log()
	for _, bad := range []string{"database is locked", "SQLITE_BUSY", "level=ERROR"} {
		if strings.Contains(log, bad) {
			t.Errorf("AM log has %q:\n%s", bad, grepLines(log, bad))
		}
	}
}

// grepLines returns the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestPercentiles(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // reversed: percentiles sorts
	}
	for _, tc := range []struct {
		name          string
		lat           []time.Duration
		p50, p99, max time.Duration
	}{
		{"empty", nil, 0, 0, 0},
		{"one", ms(7), 7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond},
		{"two", ms(9, 1), 1 * time.Millisecond, 9 * time.Millisecond, 9 * time.Millisecond},
		{"three", ms(3, 1, 2), 2 * time.Millisecond, 3 * time.Millisecond, 3 * time.Millisecond},
		{"hundred", ms(hundred...), 50 * time.Millisecond, 99 * time.Millisecond, 100 * time.Millisecond},
		{"outlier", ms(1, 1, 1, 1, 1, 1, 1, 1, 1, 1000), 1 * time.Millisecond, 1000 * time.Millisecond, 1000 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p50, p99, mx := percentiles(tc.lat)
			if p50 != tc.p50 || p99 != tc.p99 || mx != tc.max {
				t.Errorf("percentiles = %s, %s, %s; want %s, %s, %s", p50, p99, mx, tc.p50, tc.p99, tc.max)
			}
		})
	}
}

func TestPick(t *testing.T) {
	for _, tc := range []struct {
		name      string
		lifecycle bool
		want      [nOps]float64 // expected shares
	}{
		{"full mix", true, [nOps]float64{0.40, 0.084, 0.083, 0.083, 0.10, 0.10, 0.15}},
		{"no lifecycle", false, [nOps]float64{0.40 / 0.85, 0.084 / 0.85, 0.083 / 0.85, 0.083 / 0.85, 0.10 / 0.85, 0.10 / 0.85, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			const n = 200000
			var got [nOps]int
			for range n {
				got[pick(rng, tc.lifecycle)]++
			}
			for o := range nOps {
				share := float64(got[o]) / n
				if d := share - tc.want[o]; d > 0.005 || d < -0.005 {
					t.Errorf("op %d: share %.4f, want %.4f", o, share, tc.want[o])
				}
			}
		})
	}
}

func TestMixSumsToOneThousand(t *testing.T) {
	sum := 0
	for _, w := range mix {
		sum += w
	}
	if sum != 1000 {
		t.Errorf("mix weights sum to %d, want 1000", sum)
	}
}

func TestConfigCheck(t *testing.T) {
	base := func() Config {
		c := DefaultConfig()
		c.URL, c.Device = "http://a:b@127.0.0.1:1/RPC2", "local"
		return c
	}
	for _, tc := range []struct {
		name    string
		edit    func(*Config)
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{"defaults", func(*Config) {}, "", func(t *testing.T, c Config) {
			if c.Device != "local:lo" || c.LifecycleSlots != 25 || c.Experimenters != 4 {
				t.Errorf("device %q, slots %d, experimenters %d; want local:lo, 25, 4", c.Device, c.LifecycleSlots, c.Experimenters)
			}
		}},
		{"device with interface", func(c *Config) { c.Device = "tap:eth1" }, "", func(t *testing.T, c Config) {
			if c.Device != "tap:eth1" {
				t.Errorf("device %q, want tap:eth1", c.Device)
			}
		}},
		{"experimenters capped", func(c *Config) { c.Experiments = 2 }, "", func(t *testing.T, c Config) {
			if c.Experimenters != 1 || c.LifecycleSlots != 28 {
				t.Errorf("experimenters %d, slots %d; want 1, 28", c.Experimenters, c.LifecycleSlots)
			}
		}},
		{"slots kept", func(c *Config) { c.LifecycleSlots = 3 }, "", func(t *testing.T, c Config) {
			if c.LifecycleSlots != 3 {
				t.Errorf("slots %d, want 3", c.LifecycleSlots)
			}
		}},
		{"no URL", func(c *Config) { c.URL = "" }, "URL", nil},
		{"no device", func(c *Config) { c.Device = "" }, "device", nil},
		{"no clients", func(c *Config) { c.Clients = 0 }, "clients", nil},
		{"no duration", func(c *Config) { c.Duration = 0 }, "duration", nil},
		{"no experiments", func(c *Config) { c.Experiments = 0 }, "experiments", nil},
		{"too many experiments", func(c *Config) { c.Experiments = 31 }, "at most 30", nil},
		{"negative rate", func(c *Config) { c.PacketRate = -1 }, "packet rate", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.edit(&c)
			err := c.check()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("check() = %v, want an error about %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("check() = %v", err)
			}
			tc.check(t, c)
		})
	}
}

// TestRunRefusesURL: the load stays on loopback and needs credentials.
func TestRunRefusesURL(t *testing.T) {
	for _, tc := range []struct{ name, url, want string }{
		{"no credentials", "http://127.0.0.1:1/RPC2", "no credentials"},
		{"not loopback", "http://a:b@192.0.2.1:8080/RPC2", "not a loopback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.URL, c.Device = tc.url, "local"
			_, err := Run(context.Background(), c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestLiveFilters: every live filter compiles for an Ethernet link (as
// the AM checks) and they are not all the same expression.
func TestLiveFilters(t *testing.T) {
	seen := map[string]bool{}
	for i := range 8 {
		f := liveFilter(i, 40000+i)
		if _, err := pcap.CompileBPFFilter(layers.LinkTypeEthernet, 65535, f); err != nil {
			t.Errorf("filter %d %q: %v", i, f, err)
		}
		if !strings.Contains(f, "40") {
			t.Errorf("filter %d %q does not name its port", i, f)
		}
		seen[strings.ReplaceAll(f, "4000", "")] = true
	}
	if len(seen) < 4 {
		t.Errorf("only %d distinct filter forms", len(seen))
	}
}

func TestWriteTable(t *testing.T) {
	rec := &recorder{}
	rec.record(mStatus, 10*time.Millisecond, 0, 2*time.Millisecond, nil)
	rec.record(mStatus, 30*time.Millisecond, 0, 4*time.Millisecond, nil)
	rec.record(mStop, 200*time.Millisecond, 150*time.Millisecond, 40*time.Millisecond, errTest("fault 5: device local unreachable"))
	rec.record(mStop, 200*time.Millisecond, 120*time.Millisecond, 60*time.Millisecond, errTest("fault 5: device local unreachable"))
	rec.record(mStart, 300*time.Millisecond, 20*time.Millisecond, 200*time.Millisecond, nil)
	rec.record(mPause, 40*time.Millisecond, -1, -1, nil) // no Server-Timing
	rec.sequences = 1
	rep := merge([]*recorder{rec}, 1, 2*time.Second)
	var b bytes.Buffer
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| method | calls | calls/s | p50 (ms) | p99 (ms) | max (ms) | device p50 | device p99 | excl. device p50 | excl. device p99 | AM p50 | AM p99 | errors |",
		"| GetExperimentStatus | 2 | 1.0 | 10.0 | 30.0 | 30.0 | 0.00 | 0.00 | 10.0 | 30.0 | 2.00 | 4.00 | 0 |",
		"| StopExperiment | 2 | 1.0 | 200 | 200 | 200 | 120 | 150 | 50.0 | 80.0 | 40.0 | 60.0 | 2 |",
		"| PauseExperiment | 1 | 0.5 | 40.0 | 40.0 | 40.0 | – | – | – | – | – | – | 0 |",
		"| ListExperiments | 0 | 0.0 | 0.00 | 0.00 | 0.00 | – | – | – | – | – | – | 0 |",
		"| **all** | 6 | 3.0 | 40.0 | 300 | 300 | 20.0 | 150 | 50.0 | 280 | 40.0 | 200 | 2 |",
		"1 clients for 2.0 s: 6 calls, 3.0 calls/s",
		"device time excluded (client-observed latency minus the AM's Server-Timing device time): p99 280 ms over 3 calls; " +
			"target p99 < 250 ms at 100 clients: **not met**. The AM's own time (Server-Timing am, its handler alone): p99 200 ms, " +
			"of which database writes (queue included) p50 0.00 ms, p99 0.00 ms. The device time includes the wait for " +
			"one of the AM's connections to the device: p50 0.00 ms, p99 0.00 ms.",
		"error: StopExperiment: fault 5: device local unreachable\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "error: "); n != 1 {
		t.Errorf("%d error samples, want 1 (the same text twice)", n)
	}
	if row, ok := rep.Row("StopExperiment"); !ok || row.Errors != 2 || rep.Errors() != 2 {
		t.Errorf("Row(StopExperiment) = %+v, %v; Errors() = %d", row, ok, rep.Errors())
	}
}

// errTest is an error with a fixed text.
type errTest string

func (e errTest) Error() string { return string(e) }

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{"defaults", []string{"-url", "http://a:b@127.0.0.1:1/RPC2", "-device", "d"}, "", func(t *testing.T, c Config) {
			if c.Clients != 100 || c.Duration != time.Minute || c.Experiments != 5 || c.Device != "d" {
				t.Errorf("config %+v", c)
			}
		}},
		{"all", []string{"-url", "u", "-device", "d:eth0", "-clients", "7", "-duration", "3s", "-experiments", "2",
			"-experimenters", "1", "-lifecycle-slots", "4", "-pps", "0", "-call-timeout", "5s"}, "", func(t *testing.T, c Config) {
			if c.Clients != 7 || c.Duration != 3*time.Second || c.Experiments != 2 || c.Experimenters != 1 ||
				c.LifecycleSlots != 4 || c.PacketRate != 0 || c.CallTimeout != 5*time.Second || c.Device != "d:eth0" {
				t.Errorf("config %+v", c)
			}
		}},
		{"missing url", []string{"-device", "d"}, "required", nil},
		{"missing device", []string{"-url", "u"}, "required", nil},
		{"extra argument", []string{"-url", "u", "-device", "d", "x"}, "unexpected argument", nil},
		{"bad number", []string{"-clients", "many"}, "invalid value", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args, &bytes.Buffer{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseFlags = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestRunExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"help", []string{"-h"}, 0},
		{"usage", []string{"-clients", "x"}, 2},
		{"refused URL", []string{"-url", "http://a:b@192.0.2.1/RPC2", "-device", "d"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tc.args, &out, &errOut); code != tc.code {
				t.Errorf("exit %d, want %d; stderr %s", code, tc.code, errOut.String())
			}
		})
	}
}
