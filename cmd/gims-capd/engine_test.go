package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/deviceapi"
)

// TestDaemonCaptureEngines: a live job through gims-capd on lo, with each
// engine (-capture-engine) and with the afpacket engine on what it cannot
// open (the "any" device: libpcap instead, the log says why), counts
// exactly the packets sent to its filter, none of those sent while it was
// paused, writes them all to packets.pcap and reports no drop.
func TestDaemonCaptureEngines(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("capturing on lo needs root (CI set: not skipping)")
		}
		t.Skip("capturing on lo needs root")
	}
	for _, tc := range []struct {
		engine, iface string
		want          capture.Engine
	}{
		{"afpacket", "lo", capture.EngineAFPacket},
		{"pcap", "lo", capture.EnginePcap},
		{"afpacket", "any", capture.EnginePcap},
	} {
		t.Run(tc.engine+"/"+tc.iface, func(t *testing.T) {
			d := startGuardDaemon(t, t.TempDir(), "-capture-engine", tc.engine, "-ring-mb", "8")
			in, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			out, err := net.DialUDP("udp4", nil, in.LocalAddr().(*net.UDPAddr))
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			send := func(n int) {
				for range n {
					if _, err := out.Write(make([]byte, 100)); err != nil {
						t.Fatal(err)
					}
				}
			}
			var id string
			spec := map[string]any{"interface": tc.iface, "filter": fmt.Sprintf("udp and dst port %d", in.LocalAddr().(*net.UDPAddr).Port),
				"counters": map[string]any{}, "flows": map[string]any{}, "pcap": true}
			if err := d.call(t, "StartJob", []any{spec}, &id); err != nil {
				t.Fatalf("StartJob: %v", err)
			}
			send(300)
			waitJobPackets(t, d, id, 300)
			for _, step := range []struct {
				call string
				n    int
			}{{"PauseJob", 50}, {"ResumeJob", 20}} {
				if err := d.call(t, step.call, []any{id}, nil); err != nil {
					t.Fatalf("%s: %v", step.call, err)
				}
				send(step.n)
			}
			// The ring hands packets over in order: once the 20 sent
			// after the resume are counted, the 50 of the pause were
			// read (and left out).
			st := waitJobPackets(t, d, id, 320)
			if err := d.call(t, "StopJob", []any{id}, nil); err != nil {
				t.Fatalf("StopJob: %v", err)
			}
			st = d.waitDone(t, id)
			wire := uint64(142) // Ethernet
			if tc.iface == "any" {
				wire = 144 // Linux cooked header
			}
			if st.Packets != 320 || st.Bytes != 320*wire || st.Dropped != 0 || len(st.Errors) != 0 {
				t.Errorf("status %+v, want 320 packets of %d bytes, no drop, no error", st, wire)
			}
			if n := tcpdumpReads(t, filepath.Join(d.data, "jobs", id, "packets.pcap")); n != 320 {
				t.Errorf("packets.pcap holds %d packets, want 320", n)
			}
			waitLog(t, d, fmt.Sprintf("engine=%s", tc.want))
			if tc.want != capture.Engine(tc.engine) {
				waitLog(t, d, `msg="live capture through libpcap" interface=any reason="afpacket: unsupported: the \"any\" device`)
			}
		})
	}
}

// waitJobPackets polls JobStatus until the job counted at least n
// packets, and fails if it counts more.
func waitJobPackets(t *testing.T, d *guardDaemon, id string, n uint64) deviceapi.JobStatus {
	t.Helper()
	var st deviceapi.JobStatus
	for deadline := time.Now().Add(15 * time.Second); st.Packets < n; time.Sleep(20 * time.Millisecond) {
		if err := d.call(t, "JobStatus", []any{id}, &st); err != nil {
			t.Fatalf("JobStatus: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s counted %d packets, want %d; log:\n%s", id, st.Packets, n, d.c.Log())
		}
	}
	if st.Packets != n {
		t.Fatalf("job %s counted %d packets, want %d", id, st.Packets, n)
	}
	return st
}

// waitLog waits until the daemon's log (read from its stderr as it comes)
// holds s.
func waitLog(t *testing.T, d *guardDaemon, s string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(d.c.Log(), s); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the log does not say %s:\n%s", s, d.c.Log())
		}
	}
}

// TestEngineFlags: -capture-engine and -ring-mb reach the job manager's
// configuration, and bad values are refused naming the flag.
func TestEngineFlags(t *testing.T) {
	o, err := parseFlags(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := o.daemon.jobs.Capture, capture.DefaultEngineConfiguration(); got != want {
		t.Errorf("default %+v, want %+v", got, want)
	}
	o, err = parseFlags([]string{"-capture-engine", "pcap", "-ring-mb", "256"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c := o.daemon.jobs.Capture; c.Engine != capture.EnginePcap || c.RingBytes() != 256<<20 {
		t.Errorf("-capture-engine pcap -ring-mb 256: %+v", c)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-capture-engine", "pfring"}, `invalid value "pfring" for flag -capture-engine: "pfring" is neither afpacket nor pcap`},
		{[]string{"-ring-mb", "0"}, `invalid value "0" for flag -ring-mb: "0" is not a positive number of MiB`},
		{[]string{"-ring-mb", "1"}, `invalid value "1" for flag -ring-mb: 1 MiB makes 1 blocks of 1024 KiB, want 2 to 65536`},
	} {
		if _, err := parseFlags(tc.args, &bytes.Buffer{}); err == nil || err.Error() != tc.want {
			t.Errorf("parseFlags(%q) = %v, want %s", tc.args, err, tc.want)
		}
	}
}
