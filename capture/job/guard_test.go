package job

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"
)

// checkReadable checks that a stopped job's files are whole: tcpdump and
// pcapgo read every packet the job counted, counters.csv and flows.ipfix
// read back.
func checkReadable(t *testing.T, m *Manager, id string, st Status) {
	t.Helper()
	jobDir := filepath.Join(m.cfg.DataDir, "jobs", id)
	pcapPath := filepath.Join(jobDir, pcapFile)
	if n := tcpdumpCount(t, pcapPath, ""); uint64(n) != st.Packets {
		t.Errorf("packets.pcap: tcpdump reads %d packets, the job counted %d", n, st.Packets)
	}
	if info, err := os.Stat(pcapPath); err != nil || info.Size() != pcapLength(t, pcapPath) {
		t.Errorf("packets.pcap ends in a partial record (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(jobDir, countersFile)); err == nil {
		if _, err := m.Results(id, KindCounters, 0, MaxLimit); err != nil {
			t.Errorf("Results(counters) error:\n%+v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(jobDir, flowsFile)); err == nil {
		ipfixFlows(t, filepath.Join(jobDir, flowsFile)) // fails on a torn message
	}
	// The status says done before the run goroutine has rewritten
	// job.json: wait for it.
	waitFor(t, 5*time.Second, "job.json of "+id+" done", func() (bool, string) {
		p, err := readState(jobDir)
		if err != nil {
			return false, err.Error()
		}
		return p.State == StateDone, string(p.State)
	})
}

// TestMinFree fills the data folder's file system under -min-free while
// a paced replay runs: the job stops itself within about a second, done,
// its files whole and the reason in its errors; a new job is refused
// (ErrNoSpace, a refusal) until space is freed.
func TestMinFree(t *testing.T) {
	dataDir := mountTmpfs(t, "2m")
	m := newManager(t, dataDir, func(c *Configuration) { c.MinFree = 1 << 20 })
	id, err := m.StartJob(Spec{Interface: "file:tcpreplay__test.pcap", ReplaySpeed: 0.01, Pcap: true,
		Counters: &CountersSpec{IntervalMS: 100}, Flows: &FlowsSpec{Biflow: true}})
	if err != nil {
		t.Fatalf("StartJob() error:\n%+v", err)
	}
	waitFor(t, 10*time.Second, "the first packets", func() (bool, string) {
		st := status(t, m, id)
		return st.Packets > 0, string(st.State)
	})
	filler := filepath.Join(dataDir, "filler")
	if err := os.WriteFile(filler, make([]byte, 1200<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	st := waitDone(t, m, id, 10*time.Second)
	want := "stopped: free space of " + dataDir + " fell under -min-free 1.0 MiB ("
	if len(st.Errors) != 1 || !strings.HasPrefix(st.Errors[0], want) {
		t.Errorf("Errors = %q, want one starting with %q", st.Errors, want)
	}
	if st.Packets == 0 || st.Packets >= 179 {
		t.Errorf("%d packets counted, want some of the 179 of the file", st.Packets)
	}
	checkReadable(t, m, id, st)

	spec := Spec{Interface: "file:zeek__icmp-5-pings.pcap", Counters: &CountersSpec{}}
	_, err = m.StartJob(spec)
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, ErrBusy) || errors.Is(err, ErrInvalid) ||
		!strings.HasPrefix(err.Error(), "free space of "+dataDir+" is ") ||
		!strings.HasSuffix(err.Error(), ", under -min-free 1.0 MiB: no new job") {
		t.Errorf("StartJob() under the floor = %v, want an ErrNoSpace refusal (ErrBusy)", err)
	}
	if l := m.List(); len(l) != 1 || l[0].ID != id {
		t.Errorf("List() = %+v, want the stopped job only", l)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	other, err := m.StartJob(spec)
	if err != nil {
		t.Fatalf("StartJob() after space was freed error:\n%+v", err)
	}
	if st := waitDone(t, m, other, 10*time.Second); st.Packets != 10 || len(st.Errors) != 0 {
		t.Errorf("other job: %d packets, errors %q; want 10, none", st.Packets, st.Errors)
	}
}

// maxRecord is the largest packet record of a pcap file: 16 bytes of
// header and the captured bytes.
func maxRecord(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			return n
		}
		n = max(n, 16+int64(len(data)))
	}
}

// TestMaxStorage replays a file into jobs bounded by max_storage_bytes:
// each stops itself near the bound, done, with the reason in its errors
// and whole files no larger than the bound plus the documented slack: one
// packet record, and what the stop writes (the last counter row, the
// flows still open).
func TestMaxStorage(t *testing.T) {
	m := newManager(t, "")
	rec := maxRecord(t, "testdata/pcaps/tcpreplay__test.pcap")
	const limit = 20000
	for _, tc := range []struct {
		name  string
		spec  Spec
		slack int64
	}{
		{"pcap", Spec{Pcap: true}, rec},
		{"every output", Spec{Pcap: true, Counters: &CountersSpec{IntervalMS: 100}, Flows: &FlowsSpec{Biflow: true}}, rec + 8<<10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			spec.Interface, spec.MaxStorageBytes = "file:tcpreplay__test.pcap", limit
			id, err := m.StartJob(spec)
			if err != nil {
				t.Fatalf("StartJob() error:\n%+v", err)
			}
			st := waitDone(t, m, id, 10*time.Second)
			want := "stopped: result files reached max_storage_bytes 19.5 KiB (20000 bytes)"
			if len(st.Errors) != 1 || st.Errors[0] != want {
				t.Errorf("Errors = %q, want %q", st.Errors, want)
			}
			if st.Packets == 0 || st.Packets >= 179 {
				t.Errorf("%d packets counted, want some of the 179 of the file", st.Packets)
			}
			var size int64
			for _, f := range m.files(t, id) {
				size += f.Size
			}
			t.Logf("%d packets, result files %d bytes (bound %d + slack %d)", st.Packets, size, limit, tc.slack)
			if size < limit || size > limit+tc.slack {
				t.Errorf("result files hold %d bytes, want %d to %d", size, limit, limit+tc.slack)
			}
			checkReadable(t, m, id, st)
			p, err := readState(filepath.Join(m.cfg.DataDir, "jobs", id))
			if err != nil || p.Spec.MaxStorageBytes != limit {
				t.Errorf("job.json keeps max_storage_bytes %d (%v), want %d", p.Spec.MaxStorageBytes, err, limit)
			}
		})
	}
}

// files is the job's result files, as JobResults lists them.
func (m *Manager) files(t *testing.T, id string) []FileInfo {
	t.Helper()
	res, err := m.Results(id, KindFiles, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return res.([]FileInfo)
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 20000: "19.5 KiB",
		512 << 20: "512.0 MiB", 1 << 30: "1.0 GiB", 3 << 40: "3.0 TiB", 5 << 50: "5.0 PiB", 1<<62 + 1<<61: "6144.0 PiB",
	} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestOldStateNoStorageBound: a job.json written before max_storage_bytes
// existed has no bound.
func TestOldStateNoStorageBound(t *testing.T) {
	dir := t.TempDir()
	old := `{"version": 1, "id": "0123456789abcdef", "spec": {"interface": "lo", "pcap": true}, "state": "done"}`
	if err := os.WriteFile(filepath.Join(dir, stateFile), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := readState(dir)
	if err != nil || p.Spec.MaxStorageBytes != 0 || !p.Spec.Pcap {
		t.Errorf("readState() = %+v, %v; want no storage bound", p, err)
	}
}
