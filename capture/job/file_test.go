package job

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/gimsproject/gims/transform/ipfix"
)

// capinfosCount is the packet count of a file as Wireshark's capinfos
// sees it, the reference for a replay's count.
func capinfosCount(t *testing.T, path string) uint64 {
	t.Helper()
	out, err := exec.Command("capinfos", "-M", "-c", "-T", "-r", path).Output()
	if err != nil {
		t.Fatalf("capinfos %s: %v", path, err)
	}
	fields := strings.Fields(string(out))
	n, err := strconv.ParseUint(fields[len(fields)-1], 10, 64)
	if err != nil {
		t.Fatalf("capinfos %s: %q", path, out)
	}
	return n
}

func waitDone(t *testing.T, m *Manager, id string, timeout time.Duration) Status {
	t.Helper()
	var st Status
	waitFor(t, timeout, "job "+id+" done", func() (bool, string) {
		st = status(t, m, id)
		return st.State == StateDone, string(st.State)
	})
	return st
}

// TestFileReplay replays files as fast as possible: the job ends by
// itself, with progress 100 and exactly the packets of the file (or of
// the filter's subset, as tcpdump counts it).
func TestFileReplay(t *testing.T) {
	m := newManager(t, "")
	for _, tc := range []struct {
		name, file, filter string
	}{
		{"all", "tcpreplay__test.pcap", ""},
		{"filtered", "tcpreplay__test.pcap", "tcp and port 443"},
		{"icmp", "zeek__icmp-5-pings.pcap", "icmp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "testdata/pcaps/" + tc.file
			want := capinfosCount(t, path)
			if tc.filter != "" {
				want = uint64(tcpdumpCount(t, path, tc.filter))
			}
			id, err := m.StartJob(Spec{Interface: "file:" + tc.file, Filter: tc.filter,
				Counters: &CountersSpec{IntervalMS: 500}, Flows: &FlowsSpec{Biflow: true}, Pcap: true})
			if err != nil {
				t.Fatalf("StartJob() error:\n%+v", err)
			}
			st := waitDone(t, m, id, 10*time.Second)
			if st.Progress != 100 || st.Packets != want || len(st.Errors) != 0 {
				t.Errorf("done: progress %v, %d packets, errors %q; want 100, %d, none", st.Progress, st.Packets, st.Errors, want)
			}
			if sum, _ := counterSum(t, m, id); sum != want {
				t.Errorf("counters sum to %d packets, want %d", sum, want)
			}
			p, _ := m.FilePath(id, "packets.pcap")
			if n := tcpdumpCount(t, p, ""); uint64(n) != want {
				t.Errorf("packets.pcap has %d packets, want %d", n, want)
			}
			p, _ = m.FilePath(id, "flows.ipfix")
			flows := ipfixFlows(t, p)
			if uint64(len(flows)) != st.FlowsExported || len(flows) == 0 {
				t.Errorf("flows.ipfix has %d flows, status says %d exported", len(flows), st.FlowsExported)
			}
			var pkts uint64
			for _, f := range flows {
				pkts += f.Packets + f.RevPackets
			}
			if pkts != want-st.NonIP {
				t.Errorf("flows count %d packets, want the %d IP packets", pkts, want-st.NonIP)
			}
			res, err := m.Results(id, KindFlows, 0, 0)
			if err != nil {
				t.Fatalf("Results(flows) error:\n%+v", err)
			}
			rows := res.([]ipfix.FlowRow)
			if len(rows) != len(flows) {
				t.Errorf("Results(flows) has %d flows, flows.ipfix %d", len(rows), len(flows))
			}
			for i := 1; i < len(rows); i++ {
				if rows[i].Bytes+rows[i].RevBytes > rows[i-1].Bytes+rows[i-1].RevBytes {
					t.Errorf("Results(flows) not largest first at %d: %+v", i, rows[i-1:i+1])
				}
			}
			if err := m.PauseJob(id); err == nil || !strings.Contains(err.Error(), "is done") {
				t.Errorf("PauseJob(done) = %v, want ErrState naming the state", err)
			}
		})
	}
}

// TestFileReplayPaced replays 10 packets spanning 4.03 s at 4x speed: it
// takes at least about a second. A pause in the middle holds the replay
// back and is not counted as running time.
func TestFileReplayPaced(t *testing.T) {
	m := newManager(t, "")
	start := time.Now()
	id, err := m.StartJob(Spec{Interface: "file:zeek__icmp-5-pings.pcap", ReplaySpeed: 4, Counters: &CountersSpec{}})
	if err != nil {
		t.Fatalf("StartJob() error:\n%+v", err)
	}
	waitFor(t, 5*time.Second, "some packets", func() (bool, string) {
		st := status(t, m, id)
		return st.Packets > 0, ""
	})
	if err := m.PauseJob(id); err != nil {
		t.Fatalf("PauseJob() error:\n%+v", err)
	}
	before := status(t, m, id)
	const pause = 600 * time.Millisecond
	time.Sleep(pause)
	during := status(t, m, id)
	if during.Packets != before.Packets || during.State != StatePaused {
		t.Errorf("paused replay went on: %d packets then %d (state %s)", before.Packets, during.Packets, during.State)
	}
	if before.Packets >= 10 {
		t.Fatalf("replay was not paced: %d packets at once", before.Packets)
	}
	if err := m.ResumeJob(id); err != nil {
		t.Fatalf("ResumeJob() error:\n%+v", err)
	}
	st := waitDone(t, m, id, 10*time.Second)
	took := time.Since(start)
	if st.Packets != 10 || st.Progress != 100 {
		t.Errorf("done with %d packets, progress %v; want 10, 100", st.Packets, st.Progress)
	}
	// 4.03 s of trace at 4x: at least ~1 s of replay, plus the pause.
	if took < 950*time.Millisecond+pause {
		t.Errorf("paced replay took %v, want at least %v", took, 950*time.Millisecond+pause)
	}
	if st.ElapsedS < 0.95 || st.ElapsedS > took.Seconds()-pause.Seconds()+0.1 {
		t.Errorf("ElapsedS = %.3f, want between 0.95 and %.3f (the pause excluded)", st.ElapsedS, took.Seconds()-pause.Seconds())
	}
}

// TestFileTruncatedWhileReplayed truncates a file source while a paced
// job reads it, read with read(2) (the default) or through its mapping
// (MapFiles): the job ends with an error (with the mapping, the fault
// caught, naming the file), and the daemon goes on: the next job runs.
func TestFileTruncatedWhileReplayed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mapped bool
		want   []string // in one of the job's errors
	}{
		{"read", false, []string{"truncated dump file"}},
		{"mapped", true, []string{"changed while it was read", "shrinking.pcap"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testFileTruncatedWhileReplayed(t, tc.mapped, tc.want)
		})
	}
}

func testFileTruncatedWhileReplayed(t *testing.T, mapped bool, want []string) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shrinking.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 1000)
	copy(frame[12:], []byte{0x08, 0x00, 0x45})
	for i := range 2000 {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, int64(i)*int64(time.Millisecond)), CaptureLength: len(frame), Length: len(frame)}
		if err := w.WritePacket(ci, frame); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	m := newManager(t, "", func(c *Configuration) { c.PcapDir, c.MapFiles = dir, mapped })
	id, err := m.StartJob(Spec{Interface: "file:shrinking.pcap", ReplaySpeed: 1, Counters: &CountersSpec{}})
	if err != nil {
		t.Fatalf("StartJob() error:\n%+v", err)
	}
	waitFor(t, 5*time.Second, "some packets", func() (bool, string) {
		return status(t, m, id).Packets > 100, ""
	})
	if err := os.Truncate(path, 64<<10); err != nil {
		t.Fatal(err)
	}
	st := waitDone(t, m, id, 10*time.Second)
	if st.Packets >= 2000 || !slices.ContainsFunc(st.Errors, func(e string) bool {
		for _, w := range want {
			if !strings.Contains(e, w) {
				return false
			}
		}
		return true
	}) {
		t.Errorf("after the truncation: %d packets, errors %q; want fewer than 2000 and an error with %q", st.Packets, st.Errors, want)
	}
	pings, err := os.ReadFile(filepath.Join("testdata", "pcaps", "zeek__icmp-5-pings.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pings.pcap"), pings, 0o600); err != nil {
		t.Fatal(err)
	}
	id, err = m.StartJob(Spec{Interface: "file:pings.pcap", Counters: &CountersSpec{}})
	if err != nil {
		t.Fatalf("StartJob() after the fault: %v", err)
	}
	if st := waitDone(t, m, id, 10*time.Second); st.Packets != 10 {
		t.Errorf("the next job read %d packets, want 10", st.Packets)
	}
}
