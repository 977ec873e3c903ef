package job

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestStartJobInvalid checks that every mistake in a spec is refused as
// ErrInvalid with a message saying what to change, and that nothing is
// left behind.
func TestStartJobInvalid(t *testing.T) {
	needRoot(t) // live interfaces are opened to compile their filters
	m := newManager(t, "")
	key16 := bytes.Repeat([]byte{1}, 16)
	for _, tc := range []struct {
		name string
		spec Spec
		want []string // substrings of the message
	}{
		{"no interface", Spec{}, []string{"interface is required"}},
		{"unknown interface", Spec{Interface: "nosuch0"}, []string{`unknown interface "nosuch0"`, "lo"}},
		{"file with a path", Spec{Interface: "file:../job/testdata/pcaps/tcpreplay__test.pcap"}, []string{"without a path"}},
		{"file dot-dot", Spec{Interface: "file:.."}, []string{"without a path"}},
		{"empty file name", Spec{Interface: "file:"}, []string{"without a path"}},
		{"missing file", Spec{Interface: "file:missing.pcap"}, []string{`unknown interface "file:missing.pcap"`, `no file "missing.pcap" in the pcap directory`}},
		{"not a capture file", Spec{Interface: "file:SOURCES.tsv"}, []string{`interface "file:SOURCES.tsv"`, "pcap"}},
		{"bad filter live", Spec{Interface: "lo", Filter: "udp and port nonsense"}, []string{`bad filter "udp and port nonsense"`, "nonsense"}},
		{"bad filter syntax", Spec{Interface: "lo", Filter: "tcp and ("}, []string{`bad filter "tcp and ("`, "syntax error"}},
		{"bad filter file", Spec{Interface: "file:tcpreplay__test.pcap", Filter: "ip proto bogus"}, []string{`bad filter "ip proto bogus"`, "bogus"}},
		{"snaplen too big", Spec{Interface: "lo", Snaplen: 262145}, []string{"snaplen must be between 1 and 262144, got 262145"}},
		{"snaplen negative", Spec{Interface: "lo", Snaplen: -1}, []string{"snaplen must be between 1 and 262144, got -1"}},
		{"short key", Spec{Interface: "lo", Key: key16}, []string{"key must be exactly 32 bytes (the Crypto-PAn key), got 16"}},
		{"counter interval", Spec{Interface: "lo", Counters: &CountersSpec{IntervalMS: -5}}, []string{"counters interval_ms must be between 1 and 86400000, got -5"}},
		{"active timeout", Spec{Interface: "lo", Flows: &FlowsSpec{ActiveTimeoutS: -1}}, []string{"flows active_timeout_s must be between 1 and 604800, got -1"}},
		{"idle timeout", Spec{Interface: "lo", Flows: &FlowsSpec{IdleTimeoutS: 1 << 30}}, []string{"flows idle_timeout_s must be between 1 and 604800, got 1073741824"}},
		{"collector scheme", Spec{Interface: "lo", Flows: &FlowsSpec{Collector: "http://127.0.0.1:4739"}}, []string{`flows collector "http://127.0.0.1:4739": unsupported scheme "http"`, "want udp://host:port"}},
		{"collector port", Spec{Interface: "lo", Flows: &FlowsSpec{Collector: "udp://127.0.0.1"}}, []string{"no host:port"}},
		{"collector port zero", Spec{Interface: "lo", Flows: &FlowsSpec{Collector: "tcp://127.0.0.1:0"}}, []string{`bad port "0"`}},
		{"collector path", Spec{Interface: "lo", Flows: &FlowsSpec{Collector: "udp://127.0.0.1:4739/x"}}, []string{"only host and port"}},
		{"collector host", Spec{Interface: "lo", Flows: &FlowsSpec{Collector: "udp://no-such-host.invalid:4739"}}, []string{"flows collector", "no-such-host.invalid"}},
		{"replay on live", Spec{Interface: "lo", ReplaySpeed: 2}, []string{`replay_speed applies only to file: interfaces, not "lo"`}},
		{"replay negative", Spec{Interface: "file:tcpreplay__test.pcap", ReplaySpeed: -1}, []string{"replay_speed must be 0 (as fast as possible) or a positive factor, got -1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := m.StartJob(tc.spec)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("StartJob() = %q, %v; want ErrInvalid", id, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("StartJob() error %q does not say %q", err, w)
				}
			}
		})
	}
	if l := m.List(); len(l) != 0 {
		t.Errorf("List() after refused jobs = %+v, want none", l)
	}
	if entries, _ := os.ReadDir(filepath.Join(m.cfg.DataDir, "jobs")); len(entries) != 0 {
		t.Errorf("refused jobs left %d directories behind", len(entries))
	}
}

// TestRequestErrors checks the errors of requests about jobs.
func TestRequestErrors(t *testing.T) {
	m := newManager(t, "", func(c *Configuration) { c.MaxJobs = 1 })
	id, err := m.StartJob(Spec{Interface: "file:zeek__icmp-5-pings.pcap", ReplaySpeed: 0.5})
	if err != nil {
		t.Fatalf("StartJob() error:\n%+v", err)
	}
	if _, err := m.StartJob(Spec{Interface: "file:zeek__icmp-5-pings.pcap"}); !errors.Is(err, ErrBusy) {
		t.Errorf("StartJob() beyond MaxJobs = %v, want ErrBusy", err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		want error
	}{
		{"status unknown", func() error { _, err := m.Status("0123456789abcdef"); return err }, ErrNotFound},
		{"pause unknown", func() error { return m.PauseJob("nope") }, ErrNotFound},
		{"resume running", func() error { return m.ResumeJob(id) }, ErrState},
		{"results kind", func() error { _, err := m.Results(id, "packets", 0, 0); return err }, ErrInvalid},
		{"results limit", func() error { _, err := m.Results(id, KindFlows, 0, MaxLimit+1); return err }, ErrInvalid},
		{"results offset", func() error { _, err := m.Results(id, KindCounters, -1, 0); return err }, ErrInvalid},
		{"results unknown", func() error { _, err := m.Results("nope", KindFlows, 0, 0); return err }, ErrNotFound},
		{"file job.json", func() error { _, err := m.FilePath(id, "job.json"); return err }, ErrNotFound},
		{"file traversal", func() error { _, err := m.FilePath(id, "../"+id+"/job.json"); return err }, ErrNotFound},
		{"file traversal id", func() error { _, err := m.FilePath("..", "jobs"); return err }, ErrNotFound},
		{"file not written", func() error { _, err := m.FilePath(id, "packets.pcap"); return err }, ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, tc.want) {
				t.Errorf("error = %v, want %v", err, tc.want)
			}
		})
	}
	if err := m.StopJob(id); err != nil {
		t.Fatalf("StopJob() error:\n%+v", err)
	}
	if st := status(t, m, id); st.State != StateDone || st.Progress >= 100 {
		t.Errorf("stopped replay: state %s, progress %v; want done before the end", st.State, st.Progress)
	}
	// Once it is done, another job fits.
	if _, err := m.StartJob(Spec{Interface: "file:zeek__icmp-5-pings.pcap"}); err != nil {
		t.Errorf("StartJob() after a job ended: %v", err)
	}
}

// TestInterfaces lists live interfaces with their link types and the
// files of the pcap directory.
func TestInterfaces(t *testing.T) {
	needRoot(t)
	m := newManager(t, "")
	ifs, err := m.Interfaces()
	if err != nil {
		t.Fatalf("Interfaces() error:\n%+v", err)
	}
	got := map[string]Interface{}
	for _, i := range ifs {
		got[i.Name] = i
	}
	for _, want := range []Interface{
		{Name: "lo", LinkType: "EN10MB"},
		{Name: "file:zeek__icmp-5-pings.pcap", LinkType: "EN10MB", Description: "capture file, 1164 bytes"},
		{Name: "file:tcpreplay__test.pcap", LinkType: "EN10MB", Description: "capture file, 71888 bytes"},
	} {
		g, ok := got[want.Name]
		if want.Description == "" {
			g.Description = ""
		}
		if !ok || g != want {
			t.Errorf("Interfaces()[%s] = %+v, want %+v", want.Name, g, want)
		}
	}
	if _, ok := got["file:SOURCES.tsv"]; ok {
		t.Errorf("Interfaces() lists a file that is not a capture: %+v", ifs)
	}
}

// TestConcurrentStartsUnderLimit: jobs started at once are counted once
// each against MaxJobs (a job being registered was counted twice).
func TestConcurrentStartsUnderLimit(t *testing.T) {
	const limit, starts = 12, 10
	m := newManager(t, "", func(c *Configuration) { c.MaxJobs = limit })
	errs := make(chan error, starts)
	var wg sync.WaitGroup
	for range starts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := m.StartJob(Spec{Interface: "file:zeek__icmp-5-pings.pcap", ReplaySpeed: 0.01})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("StartJob with %d of %d jobs: %v", starts, limit, err)
		}
	}
}
