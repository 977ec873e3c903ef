package job

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	calmh "github.com/calmh/ipfix"
	"github.com/google/gopacket/pcapgo"
)

// mountTmpfs mounts a tmpfs of the given size (like "256k") on a fresh
// directory and unmounts it at the end of the test, after the cleanups
// registered later (the manager's Stop) ran.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	needRoot(t)
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs on %s: %v\n%s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", dir, err, out)
			exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

// TestDiskFull runs a live job writing packets, counters and flows into a
// data directory that fills up: the job ends by itself (done) with an
// error that says the disk is full, its files stay readable up to their
// last whole record, job.json says done, and the manager keeps answering
// and running other jobs.
func TestDiskFull(t *testing.T) {
	dataDir := mountTmpfs(t, "256k")
	// Without the disk guard (TestMinFree), which would refuse the job.
	m := newManager(t, dataDir, func(c *Configuration) { c.MinFree = 0 })
	p := newUDPPair(t, "127.0.0.1", "127.0.0.1:0")
	id, err := m.StartJob(Spec{Interface: "lo", Filter: fmt.Sprintf("udp and dst port %d", p.port),
		Counters: &CountersSpec{IntervalMS: 100}, Flows: &FlowsSpec{Biflow: true}, Pcap: true})
	if err != nil {
		t.Fatalf("StartJob() error:\n%+v", err)
	}
	sent := 0
	waitFor(t, 30*time.Second, "the job to end on a full disk", func() (bool, string) {
		st := status(t, m, id)
		if st.State == StateDone {
			return true, ""
		}
		if sent < 5000 {
			p.send(t, 50, 1000)
			sent += 50
		}
		return false, fmt.Sprintf("%s after %d datagrams sent, %d packets, errors %q", st.State, sent, st.Packets, st.Errors)
	})
	st := status(t, m, id)
	if !strings.Contains(strings.Join(st.Errors, "\n"), "capture ended: unable to write ") ||
		!strings.Contains(strings.Join(st.Errors, "\n"), "no space left on device") {
		t.Errorf("Errors = %q, want the capture ended on \"no space left on device\"", st.Errors)
	}
	if st.Packets == 0 || st.Packets > uint64(sent) {
		t.Errorf("%d packets counted, %d sent", st.Packets, sent)
	}
	if st.StorageFreeBytes > 64<<10 {
		t.Errorf("StorageFreeBytes = %d, want the disk about full", st.StorageFreeBytes)
	}
	if err := m.StopJob(id); !errors.Is(err, ErrState) {
		t.Errorf("StopJob() of the ended job = %v, want ErrState", err)
	}

	// The files hold whole records only.
	jobDir := filepath.Join(dataDir, "jobs", id)
	n := tcpdumpCount(t, filepath.Join(jobDir, pcapFile), "") // fails on a truncated file
	if n == 0 || uint64(n) > st.Packets {
		t.Errorf("packets.pcap: tcpdump reads %d packets, the job counted %d", n, st.Packets)
	}
	if got := countPcap(t, filepath.Join(jobDir, pcapFile)); got != n {
		t.Errorf("packets.pcap: pcapgo reads %d packets, tcpdump %d", got, n)
	}
	if info, err := os.Stat(filepath.Join(jobDir, pcapFile)); err != nil ||
		info.Size() != pcapLength(t, filepath.Join(jobDir, pcapFile)) {
		t.Errorf("packets.pcap ends in a partial record (%v)", err)
	}
	if csv, err := os.ReadFile(filepath.Join(jobDir, countersFile)); err != nil || len(csv) == 0 || csv[len(csv)-1] != '\n' {
		t.Errorf("counters.csv does not end with a whole row (%d bytes, %v)", len(csv), err)
	}
	if _, err := m.Results(id, KindCounters, 0, MaxLimit); err != nil {
		t.Errorf("Results(counters) error:\n%+v", err)
	}
	ipfixFlows(t, filepath.Join(jobDir, flowsFile)) // fails on a torn message
	if p, err := readState(jobDir); err != nil || p.State != StateDone {
		t.Errorf("job.json: %+v, %v; want state done", p, err)
	}

	// The manager still works: a new job is refused while the disk is
	// full, saying why, and leaves nothing behind; once space is freed a
	// job runs to its end.
	spec := Spec{Interface: "file:zeek__icmp-5-pings.pcap", Counters: &CountersSpec{}}
	if _, err := m.StartJob(spec); err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Errorf("StartJob() on the full disk = %v, want a \"no space left on device\" error", err)
	}
	if l := m.List(); len(l) != 1 || l[0].ID != id || l[0].State != StateDone {
		t.Errorf("List() = %+v, want the ended job only", l)
	}
	if err := os.Remove(filepath.Join(jobDir, pcapFile)); err != nil {
		t.Fatal(err)
	}
	other, err := m.StartJob(spec)
	if err != nil {
		t.Fatalf("StartJob() after space was freed error:\n%+v", err)
	}
	if st := waitDone(t, m, other, 10*time.Second); st.Packets != 10 || len(st.Errors) != 0 {
		t.Errorf("other job: %d packets, errors %q; want 10, none", st.Packets, st.Errors)
	}
	done := make(chan error, 1)
	go func() { done <- m.Stop() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Stop() error:\n%+v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Stop() still waiting after 10s: a job goroutine is stuck")
	}
}

// pcapLength is the length of the longest valid prefix of a pcap file:
// its header and the packets pcapgo reads whole.
func pcapLength(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return 0
	}
	n := int64(24)
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			return n
		}
		n += 16 + int64(len(data))
	}
}

// tcpCollector is an IPFIX collector on TCP that can go down and come
// back on the same address. Every connection is parsed with calmh/ipfix
// as its own session, so records arrive decoded only if the exporter sent
// the templates at the start of the connection.
type tcpCollector struct {
	t    *testing.T
	addr string

	mu       sync.Mutex
	ln       net.Listener
	conns    []net.Conn
	accepted int
	records  int
	errs     []error
	wg       sync.WaitGroup
}

func startTCPCollector(t *testing.T, addr string) *tcpCollector {
	c := &tcpCollector{t: t, addr: addr}
	c.up()
	t.Cleanup(c.down)
	return c
}

// up listens (again) on the collector's address.
func (c *tcpCollector) up() {
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		c.t.Fatalf("collector listen %s: %v", c.addr, err)
	}
	c.mu.Lock()
	c.ln, c.addr = ln, ln.Addr().String()
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.conns = append(c.conns, conn)
			c.accepted++
			c.mu.Unlock()
			c.wg.Add(1)
			go c.serve(conn)
		}
	}()
}

func (c *tcpCollector) serve(conn net.Conn) {
	defer c.wg.Done()
	s := calmh.NewSession()
	for {
		msg, err := readIPFIXMessage(s, conn)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.mu.Lock()
				c.errs = append(c.errs, err)
				c.mu.Unlock()
			}
			return
		}
		c.mu.Lock()
		c.records += len(msg.DataRecords)
		c.mu.Unlock()
	}
}

// down closes the listener and every connection, as a collector that
// stops does.
func (c *tcpCollector) down() {
	c.mu.Lock()
	if c.ln != nil {
		c.ln.Close()
		c.ln = nil
	}
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
	c.mu.Unlock()
	c.wg.Wait()
}

func (c *tcpCollector) stats() (accepted, records int, errs []error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.accepted, c.records, append([]error(nil), c.errs...)
}

// sendFlows sends two datagrams from each of n new sockets to port: n new
// flows.
func sendFlows(t *testing.T, port, n int) {
	t.Helper()
	for range n {
		conn, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := conn.Write([]byte("flow")); err != nil {
				t.Fatal(err)
			}
		}
		conn.Close()
	}
}

// TestCollectorDownAndBack exports the flows of a live job to a TCP
// collector that goes away in the middle of the capture and comes back:
// the flows exported while it is down are counted as lost (and only
// those), export resumes on a new connection that starts with the
// templates, and flows.ipfix has every flow.
func TestCollectorDownAndBack(t *testing.T) {
	needRoot(t)
	col := startTCPCollector(t, "127.0.0.1:0")
	sink := newUDPPair(t, "127.0.0.1", "127.0.0.1:0")
	var logs lockedBuffer
	m := newManager(t, "", func(c *Configuration) { c.Logger = newTeeLogger(t, &logs) })
	id, err := m.StartJob(Spec{Interface: "lo", Filter: fmt.Sprintf("udp and dst port %d", sink.port),
		Flows: &FlowsSpec{Biflow: true, IdleTimeoutS: 1, Collector: "tcp://" + col.addr}})
	if err != nil {
		t.Fatalf("StartJob() error:\n%+v", err)
	}
	waitCollector := func(what string, accepted, records int) {
		t.Helper()
		waitFor(t, 20*time.Second, what, func() (bool, string) {
			a, r, errs := col.stats()
			st := status(t, m, id)
			return a >= accepted && r >= records, fmt.Sprintf("%d connections, %d records, errors %v; job: %d flows, %d lost",
				a, r, errs, st.FlowsExported, st.CollectorLost)
		})
	}

	const before, during, after = 12, 9, 15
	waitCollector("the first connection", 1, 0)
	sendFlows(t, sink.port, before)
	waitCollector("the flows before the collector goes down", 1, before)

	col.down()
	// The exporter drops its connection (and logs it) when it reads the
	// collector's close; until then its writes could still succeed.
	waitFor(t, 10*time.Second, "the exporter to see the connection close", func() (bool, string) {
		return strings.Contains(logs.String(), "lost connection to ipfix collector"), ""
	})
	sendFlows(t, sink.port, during)
	waitFor(t, 20*time.Second, "the flows of the downtime counted lost", func() (bool, string) {
		st := status(t, m, id)
		return st.CollectorLost >= during, fmt.Sprintf("%d flows, %d lost", st.FlowsExported, st.CollectorLost)
	})

	col.up()
	waitCollector("the exporter to reconnect", 2, before)
	sendFlows(t, sink.port, after)
	waitCollector("the flows after the collector came back", 2, before+after)

	if err := m.StopJob(id); err != nil {
		t.Fatalf("StopJob() error:\n%+v", err)
	}
	st := status(t, m, id)
	accepted, records, errs := col.stats()
	if len(errs) != 0 {
		t.Errorf("collector parse errors: %v", errs)
	}
	if st.FlowsExported != before+during+after || st.CollectorLost != during || records != before+after || accepted != 2 {
		t.Errorf("job exported %d flows, %d lost; collector got %d records on %d connections; want %d, %d, %d, 2",
			st.FlowsExported, st.CollectorLost, records, accepted, before+during+after, during, before+after)
	}
	want := fmt.Sprintf("did not get %d flow records", during)
	if len(st.Errors) != 1 || !strings.Contains(st.Errors[0], want) {
		t.Errorf("Errors = %q, want one saying the collector %s", st.Errors, want)
	}
	path, _ := m.FilePath(id, flowsFile)
	if n := len(ipfixFlows(t, path)); n != before+during+after {
		t.Errorf("flows.ipfix has %d flows, want all %d", n, before+during+after)
	}
}
