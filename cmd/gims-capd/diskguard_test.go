package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/internal/daemontest"
	"github.com/gimsproject/gims/xmlrpc"
)

// guardDaemon is a running gims-capd and the device API call of its tests.
type guardDaemon struct {
	c    *daemontest.Capd
	data string
}

func startGuardDaemon(t *testing.T, dir string, args ...string) *guardDaemon {
	t.Helper()
	c := daemontest.StartCapd(t, capd, dir, "guard-token", []string{"testdata/pcaps/tcpreplay__test.pcap"}, args...)
	return &guardDaemon{c: c, data: filepath.Join(dir, "data")}
}

func (d *guardDaemon) call(t *testing.T, method string, args []any, reply any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := "http://" + net.JoinHostPort(d.c.Host, strconv.Itoa(d.c.Port)) + deviceapi.RPCPath
	return xmlrpc.Call(ctx, nil, url, http.Header{"Authorization": {"Bearer guard-token"}}, method, args, reply)
}

// waitDone polls JobStatus until the job is done.
func (d *guardDaemon) waitDone(t *testing.T, id string) deviceapi.JobStatus {
	t.Helper()
	var st deviceapi.JobStatus
	for deadline := time.Now().Add(15 * time.Second); st.State != "done"; time.Sleep(20 * time.Millisecond) {
		if err := d.call(t, "JobStatus", []any{id}, &st); err != nil {
			t.Fatalf("JobStatus: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s not done: %+v; log:\n%s", id, st, d.c.Log())
		}
	}
	return st
}

// tcpdumpReads checks that tcpdump reads the whole pcap file and returns
// its packets.
func tcpdumpReads(t *testing.T, path string) uint64 {
	t.Helper()
	out, err := exec.Command("tcpdump", "-nn", "-r", path).CombinedOutput()
	if err != nil || strings.Contains(string(out), "truncated dump file") {
		t.Fatalf("tcpdump -r %s: %v\n%s", path, err, out)
	}
	var n uint64
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" && !strings.HasPrefix(l, "reading from file") {
			n++
		}
	}
	return n
}

// TestDaemonMaxStorage: a job given max_storage_bytes over the device API
// stops itself near it, done, saying why, with a pcap tcpdump reads.
func TestDaemonMaxStorage(t *testing.T) {
	d := startGuardDaemon(t, t.TempDir())
	var id string
	spec := map[string]any{"interface": "file:tcpreplay__test.pcap", "pcap": true, "max_storage_bytes": 20000}
	if err := d.call(t, "StartJob", []any{spec}, &id); err != nil {
		t.Fatalf("StartJob: %v", err)
	}
	st := d.waitDone(t, id)
	if want := "stopped: result files reached max_storage_bytes 19.5 KiB (20000 bytes)"; len(st.Errors) != 1 || st.Errors[0] != want {
		t.Errorf("errors %q, want %q", st.Errors, want)
	}
	path := filepath.Join(d.data, "jobs", id, "packets.pcap")
	if n := tcpdumpReads(t, path); n != st.Packets || n == 0 || n >= 179 {
		t.Errorf("tcpdump reads %d packets, the job counted %d (of the file's 179)", n, st.Packets)
	}
	if info, err := os.Stat(path); err != nil || info.Size() < 20000 || info.Size() > 20000+16+1514 {
		t.Errorf("packets.pcap: %v, %v; want 20000 bytes and at most one packet more", info.Size(), err)
	}

	var f *xmlrpc.Fault
	spec["max_storage_bytes"] = -1
	if err := d.call(t, "StartJob", []any{spec}, &id); !errors.As(err, &f) || f.Code != deviceapi.FaultInvalid ||
		!strings.Contains(f.String, "max_storage_bytes must be 0 (no bound) or a positive number of bytes, got -1") {
		t.Errorf("StartJob with max_storage_bytes -1: %v, want fault 3", err)
	}
}

// TestDaemonMinFreeRefuses: under -min-free, StartJob is refused with
// fault 5, naming the floor.
func TestDaemonMinFreeRefuses(t *testing.T) {
	d := startGuardDaemon(t, t.TempDir(), "-min-free", "1000000TiB")
	var id string
	err := d.call(t, "StartJob", []any{map[string]any{"interface": "file:tcpreplay__test.pcap"}}, &id)
	var f *xmlrpc.Fault
	if !errors.As(err, &f) || f.Code != deviceapi.FaultRefused || !strings.Contains(f.String, "under -min-free 976.6 PiB: no new job") {
		t.Errorf("StartJob under -min-free: %v, want fault 5 naming the floor", err)
	}
}

// TestDaemonMinFreeStops fills the data folder's small tmpfs under
// -min-free while a paced job runs: the job stops itself, done, saying
// why, and tcpdump reads its pcap.
func TestDaemonMinFreeStops(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("mounting a tmpfs needs root (CI set: not skipping)")
		}
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", data).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", data).Run() })
	d := startGuardDaemon(t, dir, "-min-free", "1MiB")
	var id string
	spec := map[string]any{"interface": "file:tcpreplay__test.pcap", "pcap": true, "counters": map[string]any{},
		"flows": map[string]any{}, "replay_speed": 0.01}
	if err := d.call(t, "StartJob", []any{spec}, &id); err != nil {
		t.Fatalf("StartJob: %v", err)
	}
	var st deviceapi.JobStatus
	for deadline := time.Now().Add(10 * time.Second); st.Packets == 0; time.Sleep(20 * time.Millisecond) {
		if err := d.call(t, "JobStatus", []any{id}, &st); err != nil || time.Now().After(deadline) {
			t.Fatalf("JobStatus: %+v, %v", st, err)
		}
	}
	if err := os.WriteFile(filepath.Join(data, "filler"), make([]byte, 1200<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	st = d.waitDone(t, id)
	if want := "stopped: free space of " + data + " fell under -min-free 1.0 MiB ("; len(st.Errors) != 1 ||
		!strings.HasPrefix(st.Errors[0], want) {
		t.Errorf("errors %q, want one starting with %q", st.Errors, want)
	}
	if n := tcpdumpReads(t, filepath.Join(data, "jobs", id, "packets.pcap")); n != st.Packets || n == 0 || n >= 179 {
		t.Errorf("tcpdump reads %d packets, the job counted %d (of the file's 179)", n, st.Packets)
	}
}
