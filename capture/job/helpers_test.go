package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	calmh "github.com/calmh/ipfix"
	"github.com/google/gopacket/pcapgo"
	"golang.org/x/sys/unix"

	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/ipfix"
)

// needRoot skips a test that captures live unless it runs as root; in CI
// it fails instead, so that no capture test silently goes missing there.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("live capture tests need root (CI set: not skipping)")
	}
	t.Skip("live capture tests need root")
}

// newManager starts a Manager on a fresh data directory, with the test
// pcaps as file sources, and stops it at the end of the test.
func newManager(t *testing.T, dataDir string, mod ...func(*Configuration)) *Manager {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	cfg := DefaultConfiguration()
	cfg.DataDir = dataDir
	cfg.PcapDir = "testdata/pcaps"
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, f := range mod {
		f(&cfg)
	}
	m, err := New(cfg, Dependencies{})
	if err != nil {
		t.Fatalf("New() error:\n%+v", err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatalf("Start() error:\n%+v", err)
	}
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Errorf("Stop() error:\n%+v", err)
		}
	})
	return m
}

// clockAhead sets a Manager's clock d ahead of the wall clock: started
// on the data directory of a Manager that stopped just now, it sees it as
// down for d, without the test sleeping.
func clockAhead(d time.Duration) func(*Configuration) {
	return func(c *Configuration) {
		c.Now = func() time.Time { return time.Now().Add(d) }
	}
}

// testWriter sends log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// lockedBuffer is a log sink safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newTeeLogger logs to the test log and to w.
func newTeeLogger(t *testing.T, w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.MultiWriter(testWriter{t}, w), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("timeout waiting for %s (last: %s)", what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// status returns a job's status, failing the test on error.
func status(t *testing.T, m *Manager, id string) Status {
	t.Helper()
	st, err := m.Status(id)
	if err != nil {
		t.Fatalf("Status(%s) error:\n%+v", id, err)
	}
	return st
}

// waitPackets waits until the job counted exactly want packets, then
// checks that the count stays there a moment (no extra packet came).
func waitPackets(t *testing.T, m *Manager, id string, want uint64) {
	t.Helper()
	waitFor(t, 10*time.Second, fmt.Sprintf("%d packets in job %s", want, id), func() (bool, string) {
		st := status(t, m, id)
		return st.Packets >= want, fmt.Sprintf("%d packets", st.Packets)
	})
	time.Sleep(300 * time.Millisecond)
	if got := status(t, m, id).Packets; got != want {
		t.Fatalf("job %s counted %d packets, want exactly %d", id, got, want)
	}
}

// udpPair is a local UDP listener and a socket sending to it.
type udpPair struct {
	ln   *net.UDPConn
	conn *net.UDPConn
	port int
}

// newUDPPair listens on addr (port 0 picks one) and connects a sender to
// it from local (any when empty).
func newUDPPair(t *testing.T, local, addr string) *udpPair {
	t.Helper()
	p, err := openUDPPair(t, local, addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// openUDPPair is newUDPPair without t.Fatal, for namespace threads. The
// sockets are closed at the end of the test.
func openUDPPair(t *testing.T, local, addr string) (*udpPair, error) {
	la, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("resolve %q: %w", addr, err)
	}
	ln, err := net.ListenUDP("udp", la)
	if err != nil {
		return nil, fmt.Errorf("listen %q: %w", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	// Drain the listener so that its socket buffer never overflows.
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := ln.ReadFromUDP(buf); err != nil {
				return
			}
		}
	}()
	var from *net.UDPAddr
	if local != "" {
		from = &net.UDPAddr{IP: net.ParseIP(local)}
	}
	conn, err := net.DialUDP("udp", from, ln.LocalAddr().(*net.UDPAddr))
	if err != nil {
		return nil, fmt.Errorf("dial %v: %w", ln.LocalAddr(), err)
	}
	t.Cleanup(func() { conn.Close() })
	return &udpPair{ln: ln, conn: conn, port: ln.LocalAddr().(*net.UDPAddr).Port}, nil
}

// send sends n datagrams of size bytes of payload.
func (p *udpPair) send(t *testing.T, n, size int) {
	t.Helper()
	payload := bytes.Repeat([]byte{'g'}, size)
	for i := range n {
		if _, err := p.conn.Write(payload); err != nil {
			t.Fatalf("send datagram %d error:\n%+v", i, err)
		}
		if i%50 == 49 {
			time.Sleep(time.Millisecond) // let the listener drain
		}
	}
}

// countPcap counts the packets of a pcap file; a partial last record
// (a file being written) is not counted.
func countPcap(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s:\n%+v", path, err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return 0
	}
	n := 0
	for {
		_, _, err := r.ReadPacketData()
		if err != nil {
			return n
		}
		n++
	}
}

// tcpdumpCount reads a pcap file with tcpdump (optionally filtered) and
// returns its packet count; tcpdump failing (a damaged file) fails the
// test.
func tcpdumpCount(t *testing.T, path, filter string) int {
	t.Helper()
	args := []string{"-n", "-tt", "-r", path}
	if filter != "" {
		args = append(args, filter)
	}
	cmd := exec.Command("tcpdump", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tcpdump -r %s: %v\n%s", path, err, stderr.String())
	}
	if strings.Contains(stderr.String(), "truncated") {
		t.Fatalf("tcpdump -r %s reports a truncated file:\n%s", path, stderr.String())
	}
	// One line per packet starts with its timestamp; some protocols add
	// indented lines.
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if line != "" && line[0] >= '0' && line[0] <= '9' {
			n++
		}
	}
	return n
}

// ipfixFlows reads an IPFIX file into flow rows, failing on any parse
// error or trailing garbage: calmh/ipfix parses the whole file on its own
// first, then ipfix.ReadFlows must read as many records.
func ipfixFlows(t *testing.T, path string) []ipfix.FlowRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s:\n%+v", path, err)
	}
	defer f.Close()
	s := calmh.NewSession()
	records := 0
	for {
		msg, err := readIPFIXMessage(s, f)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parse %s after %d flows:\n%+v", path, records, err)
		}
		records += len(msg.DataRecords)
	}
	var rows []ipfix.FlowRow
	if _, err := ipfix.ReadFlows(path, func(r ipfix.FlowRow) { rows = append(rows, r) }); err != nil {
		t.Fatalf("ReadFlows(%s) error:\n%+v", path, err)
	}
	if len(rows) != records {
		t.Fatalf("ReadFlows(%s) read %d flows, calmh/ipfix %d", path, len(rows), records)
	}
	return rows
}

// readIPFIXMessage reads one IPFIX message from a stream and parses it with
// calmh/ipfix (its ParseReader is deprecated in favour of Read + ParseBuffer).
// A fresh buffer per message: parsed records may point into it.
func readIPFIXMessage(s *calmh.Session, r io.Reader) (calmh.Message, error) {
	bs, _, err := calmh.Read(r, nil)
	if err != nil {
		return calmh.Message{}, err
	}
	return s.ParseBuffer(bs)
}

// counterSum reads counters.csv back through Results and sums it.
func counterSum(t *testing.T, m *Manager, id string) (packets uint64, rows int) {
	t.Helper()
	res, err := m.Results(id, KindCounters, 0, MaxLimit)
	if err != nil {
		t.Fatalf("Results(counters) error:\n%+v", err)
	}
	for _, r := range res.([]counters.Record) {
		if sum := r.TCPBytes + r.UDPBytes + r.ICMPBytes + r.OtherBytes; sum != r.Bytes {
			t.Errorf("counters row %v: bytes per protocol sum to %d, want bytes %d", r.Start, sum, r.Bytes)
		}
		packets += r.Packets
		rows++
	}
	return packets, rows
}

// --- network namespaces ---

// netnsName returns a namespace name unique to this test process.
func netnsName(t *testing.T, suffix string) string {
	return "gimsjob" + strconv.Itoa(os.Getpid()%100000) + suffix
}

// ip runs ip(8) and fails the test on error.
func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// newNetns creates a network namespace with its loopback up and IPv6 off
// (no neighbour discovery chatter), removed at the end of the test. It
// skips the test when namespaces cannot be made, except in CI.
func newNetns(t *testing.T, name string) {
	t.Helper()
	needRoot(t)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("unable to create network namespace %s: %v\n%s", name, err, out)
		}
		t.Skipf("network namespaces unavailable (ip netns add: %v: %s)", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", name, err, out)
		}
	})
	ip(t, "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	ip(t, "-n", name, "link", "set", "lo", "up")
}

// inNetns runs fn on an OS thread switched into the named namespace (fn
// must not call t.Fatal: it runs on another goroutine).
// Sockets and capture handles opened by fn stay in that namespace and may
// be used from any goroutine afterwards. The thread is never switched back:
// it ends with the goroutine (LockOSThread without Unlock).
func inNetns(t *testing.T, name string, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(filepath.Join("/var/run/netns", name))
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", name, err)
			return
		}
		errc <- fn()
	}()
	if err := <-errc; err != nil {
		t.Fatalf("in namespace %s: %v", name, err)
	}
}
