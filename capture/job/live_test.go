package job

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gimsproject/gims/transform/ipfix"
)

// TestLiveLoopback runs two jobs at once on lo, each with a filter
// selecting a known subset of the traffic the test sends (other tests on
// this machine may use lo too), and walks one through pause, resume and
// stop.
func TestLiveLoopback(t *testing.T) {
	needRoot(t)
	m := newManager(t, "")
	a := newUDPPair(t, "127.0.0.1", "127.0.0.1:0")
	b := newUDPPair(t, "127.0.0.1", "127.0.0.1:0")

	one, err := m.StartJob(Spec{
		Interface: "lo",
		Filter:    fmt.Sprintf("udp and dst port %d", a.port),
		Counters:  &CountersSpec{IntervalMS: 200},
		Flows:     &FlowsSpec{Biflow: true},
		Pcap:      true,
	})
	if err != nil {
		t.Fatalf("StartJob(one) error:\n%+v", err)
	}
	both, err := m.StartJob(Spec{
		Interface: "lo",
		Filter:    fmt.Sprintf("udp and (dst port %d or dst port %d)", a.port, b.port),
		Snaplen:   96,
	})
	if err != nil {
		t.Fatalf("StartJob(both) error:\n%+v", err)
	}
	if one == both {
		t.Fatalf("two jobs got the same id %q", one)
	}

	a.send(t, 50, 100)
	b.send(t, 7, 10)
	waitPackets(t, m, one, 50)
	waitPackets(t, m, both, 57)
	if st := status(t, m, one); st.Bytes != 50*(14+20+8+100) {
		t.Errorf("Status(one).Bytes = %d, want %d", st.Bytes, 50*(14+20+8+100))
	}

	// Paused: packets sent meanwhile are not counted, and running time
	// stops.
	if err := m.PauseJob(one); err != nil {
		t.Fatalf("PauseJob() error:\n%+v", err)
	}
	if st := status(t, m, one); st.State != StatePaused {
		t.Fatalf("State after PauseJob = %s, want paused", st.State)
	}
	elapsedAtPause := status(t, m, one).ElapsedS
	// The meter drops packets stamped during the pause whenever it reads
	// them: if it counted them, the exact 80 below would be 100.
	a.send(t, 20, 100)
	waitPackets(t, m, both, 77) // the other job saw them: they were on the wire
	st := status(t, m, one)
	if st.Packets != 50 {
		t.Fatalf("paused job counted %d packets, want 50", st.Packets)
	}
	if st.ElapsedS != elapsedAtPause {
		t.Errorf("ElapsedS went from %v to %v while paused", elapsedAtPause, st.ElapsedS)
	}
	if err := m.ResumeJob(one); err != nil {
		t.Fatalf("ResumeJob() error:\n%+v", err)
	}
	a.send(t, 30, 100)
	waitPackets(t, m, one, 80)

	if err := m.StopJob(one); err != nil {
		t.Fatalf("StopJob() error:\n%+v", err)
	}
	st = status(t, m, one)
	if st.State != StateDone || st.Packets != 80 || len(st.Errors) != 0 {
		t.Fatalf("after StopJob: state %s, %d packets, errors %q; want done, 80, none", st.State, st.Packets, st.Errors)
	}
	if st.ElapsedS <= 0 || st.ElapsedS < elapsedAtPause {
		t.Errorf("ElapsedS = %v, want > %v", st.ElapsedS, elapsedAtPause)
	}
	if st.FlowsExported != 1 {
		t.Errorf("FlowsExported = %d, want 1", st.FlowsExported)
	}
	if st.StorageUsedBytes == 0 || st.StorageFreeBytes == 0 {
		t.Errorf("storage used %d, free %d: want both > 0", st.StorageUsedBytes, st.StorageFreeBytes)
	}

	// counters.csv: the rows add up to the count.
	if sum, rows := counterSum(t, m, one); sum != 80 || rows == 0 {
		t.Errorf("counters.csv: %d rows summing to %d packets, want 80", rows, sum)
	}
	// flows.ipfix parses and has the flow, with every packet.
	path, err := m.FilePath(one, "flows.ipfix")
	if err != nil {
		t.Fatalf("FilePath(flows.ipfix) error:\n%+v", err)
	}
	flows := ipfixFlows(t, path)
	lo := netip.MustParseAddr("127.0.0.1")
	srcPort := uint16(a.conn.LocalAddr().(*net.UDPAddr).Port)
	want := ipfix.FlowRow{Src: lo, Dst: lo, SrcPort: srcPort, DstPort: uint16(a.port), Proto: 17,
		Packets: 80, Bytes: 80 * 128, EndReason: "forced"}
	if len(flows) != 1 {
		t.Fatalf("flows.ipfix has %d flows, want 1: %+v", len(flows), flows)
	}
	flows[0].Start, flows[0].End = time.Time{}, time.Time{}
	if flows[0] != want {
		t.Errorf("flows.ipfix flow (-got, +want):\n-%+v\n+%+v", flows[0], want)
	}
	res, err := m.Results(one, KindFlows, 0, 0)
	if err != nil {
		t.Fatalf("Results(flows) error:\n%+v", err)
	}
	if rows := res.([]ipfix.FlowRow); len(rows) != 1 || rows[0].Packets != 80 || rows[0].DstPort != uint16(a.port) {
		t.Errorf("Results(flows) = %+v, want the one flow of 80 packets", rows)
	}
	// packets.pcap is readable by tcpdump and complete.
	pcapPath, err := m.FilePath(one, "packets.pcap")
	if err != nil {
		t.Fatalf("FilePath(packets.pcap) error:\n%+v", err)
	}
	if n := tcpdumpCount(t, pcapPath, ""); n != 80 {
		t.Errorf("tcpdump -r packets.pcap: %d packets, want 80", n)
	}
	res, err = m.Results(one, KindFiles, 0, 0)
	if err != nil {
		t.Fatalf("Results(files) error:\n%+v", err)
	}
	if files := res.([]FileInfo); len(files) != 3 {
		t.Errorf("Results(files) = %+v, want counters.csv, flows.ipfix and packets.pcap", files)
	}

	// The other job still runs; stopping it twice is a state error.
	if err := m.StopJob(both); err != nil {
		t.Fatalf("StopJob(both) error:\n%+v", err)
	}
	if got := status(t, m, both).Packets; got != 107 {
		t.Errorf("job both counted %d packets, want 107", got)
	}
	if err := m.StopJob(both); !errors.Is(err, ErrState) {
		t.Errorf("second StopJob() = %v, want ErrState", err)
	}
	res, err = m.Results(both, KindFiles, 0, 0)
	if err != nil || len(res.([]FileInfo)) != 0 {
		t.Errorf("Results(files) of a job without outputs = %+v, %v; want none", res, err)
	}
	if l := m.List(); len(l) != 2 || l[0].ID != one || l[1].ID != both {
		t.Errorf("List() = %+v, want [%s %s]", l, one, both)
	}
}

// TestLiveNetnsLoopback counts every packet of an interface, without a
// filter: the loopback of a namespace of the test's own carries nothing but
// the test's traffic, so the count is exact.
func TestLiveNetnsLoopback(t *testing.T) {
	ns := netnsName(t, "lo")
	newNetns(t, ns)
	m := newManager(t, "")
	var (
		id string
		p  *udpPair
	)
	inNetns(t, ns, func() (err error) {
		if id, err = m.StartJob(Spec{Interface: "lo", Counters: &CountersSpec{}, Flows: &FlowsSpec{}}); err != nil {
			return err
		}
		p, err = openUDPPair(t, "127.0.0.1", "127.0.0.1:0")
		return err
	})
	p.send(t, 200, 1000)
	waitPackets(t, m, id, 200)
	if err := m.StopJob(id); err != nil {
		t.Fatalf("StopJob() error:\n%+v", err)
	}
	st := status(t, m, id)
	if st.Packets != 200 || st.Bytes != 200*(14+20+8+1000) || st.Dropped != 0 {
		t.Errorf("Status = %d packets, %d bytes, %d dropped; want 200, %d, 0",
			st.Packets, st.Bytes, st.Dropped, 200*(14+20+8+1000))
	}
	if sum, _ := counterSum(t, m, id); sum != 200 {
		t.Errorf("counters.csv sums to %d packets, want 200", sum)
	}
}

// TestLiveVeth captures on one end of a veth pair between two namespaces
// the test creates, with traffic from the other namespace: packets sent =
// packets counted, no filter.
func TestLiveVeth(t *testing.T) {
	nsA, nsB := netnsName(t, "a"), netnsName(t, "b")
	newNetns(t, nsA)
	newNetns(t, nsB)
	// Fixed MAC addresses and permanent neighbour entries: no ARP on the
	// link, so the capture sees only the test's datagrams.
	ip(t, "-n", nsA, "link", "add", "gimsa", "address", "02:77:00:00:00:01", "type", "veth",
		"peer", "name", "gimsb", "address", "02:77:00:00:00:02", "netns", nsB)
	ip(t, "-n", nsA, "addr", "add", "10.77.0.1/24", "dev", "gimsa")
	ip(t, "-n", nsB, "addr", "add", "10.77.0.2/24", "dev", "gimsb")
	ip(t, "-n", nsA, "neigh", "add", "10.77.0.2", "lladdr", "02:77:00:00:00:02", "dev", "gimsa", "nud", "permanent")
	ip(t, "-n", nsB, "neigh", "add", "10.77.0.1", "lladdr", "02:77:00:00:00:01", "dev", "gimsb", "nud", "permanent")
	ip(t, "-n", nsA, "link", "set", "gimsa", "up")
	ip(t, "-n", nsB, "link", "set", "gimsb", "up")

	m := newManager(t, "")
	var (
		id   string
		ln   *net.UDPConn
		conn *net.UDPConn
	)
	inNetns(t, nsB, func() (err error) {
		id, err = m.StartJob(Spec{Interface: "gimsb", Promiscuous: true, Flows: &FlowsSpec{Biflow: true}, Pcap: true})
		if err != nil {
			return err
		}
		ln, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(10, 77, 0, 2), Port: 4739})
		return err
	})
	t.Cleanup(func() { ln.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, err := ln.Read(buf); err != nil {
				return
			}
		}
	}()
	inNetns(t, nsA, func() (err error) {
		conn, err = net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(10, 77, 0, 1), Port: 5000},
			&net.UDPAddr{IP: net.IPv4(10, 77, 0, 2), Port: 4739})
		return err
	})
	t.Cleanup(func() { conn.Close() })
	(&udpPair{conn: conn}).send(t, 300, 64)
	waitPackets(t, m, id, 300)
	if err := m.StopJob(id); err != nil {
		t.Fatalf("StopJob() error:\n%+v", err)
	}
	res, err := m.Results(id, KindFlows, 0, 0)
	if err != nil {
		t.Fatalf("Results(flows) error:\n%+v", err)
	}
	rows := res.([]ipfix.FlowRow)
	want := ipfix.FlowRow{Src: netip.MustParseAddr("10.77.0.1"), Dst: netip.MustParseAddr("10.77.0.2"),
		SrcPort: 5000, DstPort: 4739, Proto: 17, Packets: 300, Bytes: 300 * (20 + 8 + 64), EndReason: "forced"}
	if len(rows) != 1 {
		t.Fatalf("Results(flows) = %+v, want one flow", rows)
	}
	rows[0].Start, rows[0].End = time.Time{}, time.Time{}
	if rows[0] != want {
		t.Errorf("flow (-got, +want):\n-%+v\n+%+v", rows[0], want)
	}
	path, _ := m.FilePath(id, "packets.pcap")
	if n := tcpdumpCount(t, path, "src host 10.77.0.1 and dst port 4739"); n != 300 {
		t.Errorf("tcpdump finds %d of the test's packets in packets.pcap, want 300", n)
	}
}

// TestKeyNeverLogged checks that the key stays in job.json (mode 0600)
// only until the job is done, and out of the logs and the status.
func TestKeyNeverLogged(t *testing.T) {
	var logs lockedBuffer
	key := []byte("0123456789abcdef0123456789ABCDEF")
	m := newManager(t, "", func(c *Configuration) {
		c.Logger = newTeeLogger(t, &logs)
	})
	id, err := m.StartJob(Spec{Interface: "file:zeek__http-get.pcap", Key: key, Pcap: true, Flows: &FlowsSpec{}})
	if err != nil {
		t.Fatalf("StartJob() error:\n%+v", err)
	}
	waitFor(t, 10*time.Second, "job done", func() (bool, string) {
		st := status(t, m, id)
		return st.State == StateDone, string(st.State)
	})
	info, err := os.Stat(filepath.Join(m.cfg.DataDir, "jobs", id, stateFile))
	if err != nil {
		t.Fatalf("stat job.json:\n%+v", err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("job.json mode = %v, want 0600", info.Mode().Perm())
	}
	// Done, the job forgets its key: job.json no longer holds it.
	waitFor(t, 10*time.Second, "job.json without the key", func() (bool, string) {
		raw, err := os.ReadFile(filepath.Join(m.cfg.DataDir, "jobs", id, stateFile))
		if err != nil {
			return false, err.Error()
		}
		return !strings.Contains(string(raw), "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlBQkNERUY=") &&
			!strings.Contains(string(raw), `"key"`), string(raw)
	})
	for _, form := range []string{string(key), "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlBQkNERUY="} {
		if strings.Contains(logs.String(), form) {
			t.Errorf("the logs contain the key:\n%s", logs.String())
		}
	}
	if !strings.Contains(logs.String(), "anonymized=true") {
		t.Errorf("the logs do not say the job is anonymized:\n%s", logs.String())
	}
	if s := fmt.Sprint(Spec{Key: key}); strings.Contains(s, string(key)) {
		t.Errorf("fmt.Sprint(Spec) shows the key: %s", s)
	}
	// The stored packets are anonymized: same count, none with the
	// original addresses.
	path, _ := m.FilePath(id, "packets.pcap")
	if n, orig := tcpdumpCount(t, path, ""), tcpdumpCount(t, path, "host 141.142.228.5 or host 192.150.187.43"); n != 14 || orig != 0 {
		t.Errorf("packets.pcap: %d packets, %d with original addresses; want 14, 0", n, orig)
	}
	if _, err := m.FilePath(id, stateFile); !errors.Is(err, ErrNotFound) {
		t.Errorf("FilePath(job.json) = %v, want ErrNotFound", err)
	}
}
