package ipfix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/gimsproject/gims/transform/flow"
)

// requireTool returns the path of an external program. Missing, it fails
// the test in CI (CI set), where make deps installs it, and skips it
// elsewhere.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI (make deps installs it): %v", name, err)
		}
		t.Skipf("%s not installed (apt-get install nfdump tshark): %v", name, err)
	}
	return path
}

// freeUDPPort returns a UDP port of 127.0.0.1 that nothing uses now
// (something may take it before the caller binds it: see startNfcapd).
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// nfcapdProc is a running nfcapd.
type nfcapdProc struct {
	cmd    *exec.Cmd
	port   int
	out    *syncBuffer   // its stdout and stderr
	exited chan struct{} // closed when it exited, err set
	err    error         // cmd.Wait's result
}

// startNfcapd starts nfcapd writing into dir, on a port of 127.0.0.1, and
// waits until it listens. nfcapd cannot bind port 0 and say which port it
// got, so the port is picked free beforehand, and another program may take
// it before nfcapd binds it: nfcapd then exits, and a new port is tried.
func startNfcapd(t *testing.T, nfcapd, dir string) *nfcapdProc {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p := &nfcapdProc{port: freeUDPPort(t), out: newSyncBuffer(), exited: make(chan struct{})}
		p.cmd = exec.Command(nfcapd, "-b", "127.0.0.1", "-p", fmt.Sprint(p.port), "-w", dir, "-t", "3600")
		p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("unable to start nfcapd: %v", err)
		}
		go func() {
			p.err = p.cmd.Wait()
			close(p.exited)
		}()
		err := p.waitStartup()
		if err == nil {
			t.Cleanup(func() {
				p.cmd.Process.Kill()
				<-p.exited
			})
			return p
		}
		if !strings.Contains(p.out.String(), "Address already in use") || attempt == 5 {
			t.Fatalf("nfcapd on port %d (attempt %d): %v\n%s", p.port, attempt, err, p.out)
		}
		t.Logf("nfcapd: port %d taken meanwhile, trying another", p.port)
	}
}

// waitStartup waits until nfcapd says it started (it has bound its port
// then) or exits.
func (p *nfcapdProc) waitStartup() error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !strings.Contains(p.out.String(), "Startup") {
		select {
		case <-p.exited:
			return fmt.Errorf("nfcapd exited before its startup: %v", p.err)
		case <-deadline:
			p.cmd.Process.Kill()
			return errors.New("nfcapd did not start within 10 s")
		case <-tick.C:
		}
	}
	return nil
}

// waitDrained waits until the UDP socket bound to port of 127.0.0.1 has
// nothing left in its receive queue (rx_queue in /proc/net/udp): the
// program behind it has read every datagram sent so far. It fails the
// test if the socket dropped any.
func waitDrained(t *testing.T, port int) {
	t.Helper()
	local := fmt.Sprintf("0100007F:%04X", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile("/proc/net/udp")
		if err != nil {
			t.Fatalf("unable to read the UDP sockets: %v", err)
		}
		found := false
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			// sl local rem st tx_queue:rx_queue tr tm->when retrnsmt uid timeout inode ref pointer drops
			if len(f) < 13 || f[1] != local {
				continue
			}
			found = true
			if drops := f[len(f)-1]; drops != "0" {
				t.Fatalf("the socket on port %d dropped %s datagrams", port, drops)
			}
			if _, rx, _ := strings.Cut(f[4], ":"); strings.Trim(rx, "0") == "" {
				return
			}
		}
		if !found {
			t.Fatalf("no UDP socket on 127.0.0.1:%d", port)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the socket on port %d still holds unread datagrams after 10 s", port)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for a writing child process and a
// reading test.
type syncBuffer struct {
	mu chan struct{}
	b  bytes.Buffer
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{mu: make(chan struct{}, 1)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.String()
}

// nfdumpLine formats a record as the nfdump format string in TestNfcapd
// prints it.
func nfdumpLine(r *flow.Record) string {
	const layout = "2006-01-02 15:04:05.000"
	return fmt.Sprintf("%s|%s|%d|%s|%s|%d|%d|%d|%d|%d|%d",
		r.Start.UTC().Format(layout), r.End.UTC().Format(layout), r.Key.Proto,
		r.Key.SrcAddr(), r.Key.DstAddr(), r.Key.SrcPort, r.Key.DstPort,
		r.Packets, r.Bytes, r.RevPackets, r.RevBytes)
}

func TestNfcapd(t *testing.T) {
	nfcapd := requireTool(t, "nfcapd")
	nfdump := requireTool(t, "nfdump")
	dir := t.TempDir()
	nf := startNfcapd(t, nfcapd, dir)
	out := nf.out

	tr, err := Dial(context.Background(), fmt.Sprintf("udp://127.0.0.1:%d", nf.port), nil)
	if err != nil {
		t.Fatalf("Dial() error:\n%+v", err)
	}
	cfg := DefaultConfiguration()
	cfg.ObservationDomainID = 3
	recs := sampleRecords(150) // about 9 datagrams, IPv4 and IPv6
	e, err := New(cfg, tr)
	if err != nil {
		t.Fatalf("New() error:\n%+v", err)
	}
	for i := range recs {
		if err := e.Add(&recs[i]); err != nil {
			t.Fatalf("Add() error:\n%+v", err)
		}
		if i%50 == 49 {
			// Pace the datagrams so that none is lost in lo's buffers.
			if err := e.Flush(); err != nil {
				t.Fatalf("Flush() error:\n%+v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close() error:\n%+v", err)
	}
	if s := e.Stats(); s.MessagesSent < 5 || s.RecordsLost != 0 {
		t.Errorf("Stats() = %+v, want several messages and no loss", s)
	}
	waitDrained(t, nf.port) // nfcapd read every datagram
	if err := nf.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("unable to stop nfcapd: %v", err)
	}
	<-nf.exited
	if nf.err != nil {
		t.Fatalf("nfcapd exited with %v:\n%s", nf.err, out)
	}
	// nfcapd checks the sequence numbers too.
	stats := regexp.MustCompile(`Flows: (\d+), .*Sequence Errors: (\d+), Bad Packets: (\d+)`).FindStringSubmatch(out.String())
	if stats == nil || stats[1] != "150" || stats[2] != "0" || stats[3] != "0" {
		t.Errorf("nfcapd statistics %q, want 150 flows and no errors; output:\n%s", stats, out)
	}

	dump := exec.Command(nfdump, "-R", dir, "-q", "-N",
		"-o", "fmt:%ts|%te|%pr|%sa|%da|%sp|%dp|%ipkt|%ibyt|%opkt|%obyt")
	dump.Env = append(os.Environ(), "TZ=UTC")
	text, err := dump.CombinedOutput()
	if err != nil {
		t.Fatalf("nfdump error %v:\n%s", err, text)
	}
	var got, want []string
	for _, line := range strings.Split(strings.TrimSpace(string(text)), "\n") {
		fields := strings.Split(line, "|")
		for i := range fields {
			fields[i] = strings.TrimSpace(fields[i])
		}
		got = append(got, strings.Join(fields, "|"))
	}
	for i := range recs {
		want = append(want, nfdumpLine(&recs[i]))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("nfdump output (-got, +want):\n%s\n----\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// writePcap wraps IPFIX datagrams into Ethernet/IPv4/UDP frames to dstPort.
func writePcap(t *testing.T, path string, dstPort int, msgs [][]byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1709290000, 0)
	for i, msg := range msgs {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(127, 0, 0, 1), DstIP: net.IPv4(127, 0, 0, 1)}
		udp := &layers.UDP{SrcPort: 50000, DstPort: layers.UDPPort(dstPort)}
		udp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
		if err := gopacket.SerializeLayers(buf, opts, eth, ip, udp, gopacket.Payload(msg)); err != nil {
			t.Fatal(err)
		}
		data := buf.Bytes()
		ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(data), Length: len(data)}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
}

// tsharkFields runs tshark on file and returns, per IPFIX data record, the
// named cflow fields.
func tsharkCheck(t *testing.T, tshark string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tshark, append([]string{"-n", "-V"}, args...)...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, out)
	}
	text := string(out)
	for _, bad := range []string{"Malformed", "Expert Info (Error", "Expert Info (Warning"} {
		if i := strings.Index(text, bad); i >= 0 {
			t.Errorf("tshark %v reports %q:\n%s", args, bad, text[max(0, i-2000):min(len(text), i+500)])
		}
	}
	return text
}

// tsharkLine formats a record as tsharkFlows prints tshark's decode.
func tsharkLine(r *flow.Record, biflow bool) string {
	const layout = "2006-01-02 15:04:05.000"
	line := fmt.Sprintf("%s %s %d %d %d vlan=%d flags=%#04x end=%d %s %s %d %d",
		r.Key.SrcAddr(), r.Key.DstAddr(), r.Key.SrcPort, r.Key.DstPort, r.Key.Proto,
		r.Key.VLAN, r.TCPFlags, r.EndReason, r.Start.UTC().Format(layout), r.End.UTC().Format(layout),
		r.Bytes, r.Packets)
	if biflow {
		line += fmt.Sprintf(" rev %d %d %#04x", r.RevBytes, r.RevPackets, r.RevTCPFlags)
	}
	return line
}

// tsharkFlows extracts the flows of tshark's -V output, in order, in the
// format of tsharkLine.
func tsharkFlows(t *testing.T, text string, biflow bool) []string {
	var flows []string
	var cur map[string]string
	paren := regexp.MustCompile(`\((\d+)\)$`)
	num := func(v string) string { // "TCP (6)" -> "6"
		if m := paren.FindStringSubmatch(v); m != nil {
			return m[1]
		}
		return v
	}
	tm := func(v string) string {
		ts, err := time.Parse("Jan _2, 2006 15:04:05.000000000 MST", v)
		if err != nil {
			t.Errorf("tshark time %q: %v", v, err)
		}
		return ts.UTC().Format("2006-01-02 15:04:05.000")
	}
	flags := func(v string) string { // "0x0012, ACK, SYN" -> "0x12"
		v, _, _ = strings.Cut(v, ",")
		var f uint16
		fmt.Sscanf(v, "0x%x", &f)
		return fmt.Sprintf("%#04x", f)
	}
	flush := func() {
		if cur == nil {
			return
		}
		line := fmt.Sprintf("%s %s %s %s %s vlan=%s flags=%s end=%s %s %s %s %s",
			cur["SrcAddr"], cur["DstAddr"], cur["SrcPort"], cur["DstPort"], num(cur["Protocol"]),
			cur["Vlan Id"], flags(cur["TCP Flags"]), num(cur["Flow End Reason"]),
			tm(cur["StartTime"]), tm(cur["EndTime"]), cur["Octets"], cur["Packets"])
		if biflow {
			line += fmt.Sprintf(" rev %s %s %s", cur["Reverse Octets"], cur["Reverse Packets"], flags(cur["Reverse TCP Flags"]))
		}
		flows = append(flows, line)
		cur = nil
	}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "Flow ") && !strings.Contains(line, ":"):
			flush()
			cur = map[string]string{}
		case strings.HasPrefix(line, "Frame ") || strings.HasPrefix(line, "Set ") || strings.HasPrefix(line, "Padding"):
			flush()
		case cur != nil:
			k, v, ok := strings.Cut(line, ": ")
			if !ok {
				continue
			}
			if before, _, rev := strings.Cut(v, " (Reverse Type"); rev {
				k, v = "Reverse "+k, before
			}
			if _, dup := cur[k]; !dup { // keep the field, not its bit lines
				cur[k] = v
			}
		}
	}
	flush()
	return flows
}

func TestTshark(t *testing.T) {
	tshark := requireTool(t, "tshark")
	for _, biflow := range []bool{true, false} {
		t.Run(fmt.Sprintf("biflow=%v", biflow), func(t *testing.T) {
			col := newUDPCollector(t)
			tr, err := Dial(context.Background(), col.url(), nil)
			if err != nil {
				t.Fatalf("Dial() error:\n%+v", err)
			}
			cfg := DefaultConfiguration()
			cfg.Biflow = biflow
			recs := sampleRecords(45) // 3 datagrams, padded sets without biflow
			e := exportAll(t, cfg, tr, recs)
			msgs := col.receive(t, int(e.Stats().MessagesSent))
			path := filepath.Join(t.TempDir(), "export.pcap")
			const port = 4739
			writePcap(t, path, port, msgs)
			text := tsharkCheck(t, tshark, "-r", path, "-d", fmt.Sprintf("udp.port==%d,cflow", port))
			checkTsharkFlows(t, text, recs, biflow)
		})
	}
}

func checkTsharkFlows(t *testing.T, text string, recs []flow.Record, biflow bool) {
	t.Helper()
	got := tsharkFlows(t, text, biflow)
	var want []string
	for i := range recs {
		want = append(want, tsharkLine(&recs[i], biflow))
	}
	if !slices.Equal(got, want) {
		t.Errorf("tshark decode (-got, +want):\n%s\n----\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestTsharkFile reads an RFC 5655 file with tshark (wiretap's IPFIX file
// reader).
func TestTsharkFile(t *testing.T) {
	tshark := requireTool(t, "tshark")
	path := filepath.Join(t.TempDir(), "flows.ipfix")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfiguration()
	cfg.MaxMessageSize = 2000
	recs := sampleRecords(100)
	exportAll(t, cfg, NewFileTransport(f), recs)
	text := tsharkCheck(t, tshark, "-r", path)
	if !strings.Contains(text, "Encapsulation type: RFC 5655/RFC 5101 IPFIX") {
		t.Errorf("tshark did not read %s as an IPFIX file", path)
	}
	checkTsharkFlows(t, text, recs, true)
}
