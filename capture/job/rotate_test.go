package job

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/gimsproject/gims/capture/output"
	"github.com/gimsproject/gims/transform/ipfix"
)

// writeTrace writes a pcap file of n UDP packets over Ethernet, packet i
// at t0 + i*step with payload bytes of payload, each run of perFlow
// packets from its own source port (one flow).
func writeTrace(t *testing.T, path string, t0 time.Time, n int, step time.Duration, payload, perFlow int) {
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
	body := bytes.Repeat([]byte{'r'}, payload)
	buf := gopacket.NewSerializeBuffer()
	for i := range n {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2},
			EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
			SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{198, 51, 100, 1}}
		udp := &layers.UDP{SrcPort: layers.UDPPort(10000 + i/perFlow), DstPort: 40000}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			eth, ip, udp, gopacket.Payload(body)); err != nil {
			t.Fatal(err)
		}
		data := buf.Bytes()
		ci := gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(i) * step), CaptureLength: len(data), Length: len(data)}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
}

// tsharkRead reads a capture file (a pcap file, or an IPFIX file) with
// tshark and returns the number of frames (packets, or IPFIX messages).
// tshark failing or finding the file cut short or damaged fails the test.
func tsharkRead(t *testing.T, path string) int {
	t.Helper()
	cmd := exec.Command("tshark", "-n", "-r", path)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v\n%s", filepath.Base(path), err, stderr.String())
	}
	for _, bad := range []string{"cut short", "damaged", "corrupt", "isn't a capture file"} {
		if strings.Contains(stderr.String(), bad) {
			t.Errorf("tshark -r %s reports %q:\n%s", filepath.Base(path), bad, stderr.String())
		}
	}
	return strings.Count(string(out), "\n")
}

// resultParts returns the job's listed parts of the file base
// (packets.pcap or flows.ipfix), in the listing's order, failing if the
// file itself is listed or the parts are out of order.
func resultParts(t *testing.T, m *Manager, id, base string) []FileInfo {
	t.Helper()
	res, err := m.Results(id, KindFiles, 0, 0)
	if err != nil {
		t.Fatalf("Results(files) error:\n%+v", err)
	}
	var out []FileInfo
	for _, f := range res.([]FileInfo) {
		if f.Name == base {
			t.Errorf("Results(files) lists %s beside its parts", base)
		}
		if n, ok := output.PartNumber(base, f.Name); ok {
			if n != len(out)+1 {
				t.Errorf("Results(files): part %d of %s listed at place %d", n, base, len(out)+1)
			}
			out = append(out, f)
		}
	}
	return out
}

// partPath is the path of a listed part, served by FilePath.
func partPath(t *testing.T, m *Manager, id, name string) string {
	t.Helper()
	p, err := m.FilePath(id, name)
	if err != nil {
		t.Fatalf("FilePath(%s) error:\n%+v", name, err)
	}
	return p
}

// TestRotateFile replays a file of 4,000 packets over 4 s (3.3 MB) with
// rotation by time (rotate_s 1: by the packets' timestamps, exactly 1,000
// packets a part) and by size (rotate_mb 1): every part is listed,
// complete, in order, readable alone by tcpdump and tshark; the parts'
// packets add up to the job's count and their flows to its flows, which
// Results reads back from every part after a restart.
func TestRotateFile(t *testing.T) {
	pcapDir := t.TempDir()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	writeTrace(t, filepath.Join(pcapDir, "trace.pcap"), start, 4000, time.Millisecond, 800, 100)
	dataDir := t.TempDir()
	m := newManager(t, dataDir, func(c *Configuration) { c.PcapDir = pcapDir })
	ids := map[string]string{}
	for _, tc := range []struct {
		name          string
		rotateS       int
		rotateMB      int
		pcapParts     int
		packetsByPart []int // when known
	}{
		{"rotate_s", 1, 0, 4, []int{1000, 1000, 1000, 1000}},
		{"rotate_mb", 0, 1, 4, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := m.StartJob(Spec{Interface: "file:trace.pcap", Pcap: true, Counters: &CountersSpec{},
				Flows: &FlowsSpec{IdleTimeoutS: 1, Biflow: true}, RotateS: tc.rotateS, RotateMB: tc.rotateMB})
			if err != nil {
				t.Fatalf("StartJob() error:\n%+v", err)
			}
			ids[tc.name] = id
			st := waitDone(t, m, id, 30*time.Second)
			if st.Packets != 4000 || len(st.Errors) != 0 || st.FlowsExported != 40 {
				t.Fatalf("done: %d packets, %d flows, errors %q; want 4000, 40, none", st.Packets, st.FlowsExported, st.Errors)
			}
			pcaps := resultParts(t, m, id, pcapFile)
			if len(pcaps) != tc.pcapParts {
				t.Fatalf("%d pcap parts %+v, want %d", len(pcaps), pcaps, tc.pcapParts)
			}
			total := 0
			for i, p := range pcaps {
				if !p.Complete {
					t.Errorf("%s of a done job is not complete", p.Name)
				}
				path := partPath(t, m, id, p.Name)
				n := tcpdumpCount(t, path, "")
				if s := tsharkRead(t, path); s != n {
					t.Errorf("%s: tshark reads %d packets, tcpdump %d", p.Name, s, n)
				}
				if tc.packetsByPart != nil && n != tc.packetsByPart[i] {
					t.Errorf("%s holds %d packets, want %d", p.Name, n, tc.packetsByPart[i])
				}
				if tc.rotateMB > 0 && i < len(pcaps)-1 && (p.Size < 1e6 || p.Size >= 1e6+16+842) {
					t.Errorf("%s is %d bytes, want 1 MB to 1 MB and one packet", p.Name, p.Size)
				}
				total += n
			}
			if total != 4000 {
				t.Errorf("the pcap parts hold %d packets, want 4000", total)
			}
			flowParts := resultParts(t, m, id, flowsFile)
			if tc.rotateS > 0 && len(flowParts) < 3 {
				t.Errorf("%d IPFIX parts, want flows in at least 3 seconds' parts", len(flowParts))
			}
			var flows, flowPackets uint64
			for _, p := range flowParts {
				path := partPath(t, m, id, p.Name)
				rows := ipfixFlows(t, path) // a session of its own: the part decodes alone
				if len(rows) == 0 {
					t.Errorf("%s holds no flow", p.Name)
				}
				if msgs := tsharkRead(t, path); msgs == 0 {
					t.Errorf("tshark reads no IPFIX message in %s", p.Name)
				}
				for _, r := range rows {
					flows++
					flowPackets += r.Packets + r.RevPackets
				}
			}
			if flows != 40 || flowPackets != 4000 {
				t.Errorf("IPFIX parts hold %d flows of %d packets, want 40 of 4000", flows, flowPackets)
			}
			if sum, _ := counterSum(t, m, id); sum != 4000 {
				t.Errorf("counters sum to %d packets, want 4000 (rotation leaves them alone)", sum)
			}
		})
	}
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	b := newManager(t, dataDir, func(c *Configuration) { c.PcapDir = pcapDir })
	for name, id := range ids {
		res, err := b.Results(id, KindFlows, 0, MaxLimit)
		if err != nil {
			t.Fatalf("%s: Results(flows) after a restart error:\n%+v", name, err)
		}
		if rows := res.([]ipfix.FlowRow); len(rows) != 40 {
			t.Errorf("%s: Results(flows) after a restart has %d flows, want the 40 of every part", name, len(rows))
		}
	}
}

// TestRotateLive captures about 4 s of traffic on lo with rotate_s 1, and
// a pause: at least 3 parts, the last one listed as not complete while the job
// runs, each readable alone by tcpdump and tshark, their packets adding
// up to the job's count; the IPFIX parts decode alone and their flows
// hold every packet.
func TestRotateLive(t *testing.T) {
	needRoot(t)
	m := newManager(t, "")
	p := newUDPPair(t, "127.0.0.1", "127.0.0.1:0")
	id, err := m.StartJob(Spec{Interface: "lo", Filter: fmt.Sprintf("udp and dst port %d", p.port), Pcap: true,
		Flows: &FlowsSpec{ActiveTimeoutS: 1, Biflow: true}, RotateS: 1})
	if err != nil {
		t.Fatalf("StartJob() error:\n%+v", err)
	}
	// Traffic for 4.2 s of the clock, a datagram every 10 ms, with a
	// pause in the middle: the packets sent while paused are in no part.
	sent := 0
	traffic := func(d time.Duration) {
		for begin := time.Now(); time.Since(begin) < d; sent++ {
			p.send(t, 1, 100)
			time.Sleep(10 * time.Millisecond)
		}
	}
	traffic(2 * time.Second)
	if err := m.PauseJob(id); err != nil {
		t.Fatalf("PauseJob() error:\n%+v", err)
	}
	p.send(t, 20, 100)
	if err := m.ResumeJob(id); err != nil {
		t.Fatalf("ResumeJob() error:\n%+v", err)
	}
	traffic(2200 * time.Millisecond)
	waitPackets(t, m, id, uint64(sent))
	running := resultParts(t, m, id, pcapFile)
	if len(running) < 3 {
		t.Fatalf("%d pcap parts after 4 s, want at least 3: %+v", len(running), running)
	}
	for i, f := range running {
		if f.Complete != (i < len(running)-1) {
			t.Errorf("while running, %s complete = %t; want only the last part not complete", f.Name, f.Complete)
		}
	}
	if err := m.StopJob(id); err != nil {
		t.Fatalf("StopJob() error:\n%+v", err)
	}
	st := status(t, m, id)
	if st.Packets != uint64(sent) || len(st.Errors) != 0 {
		t.Fatalf("done: %d packets, errors %q; want %d, none", st.Packets, st.Errors, sent)
	}
	total := 0
	parts := resultParts(t, m, id, pcapFile)
	for _, f := range parts {
		if !f.Complete {
			t.Errorf("%s of a done job is not complete", f.Name)
		}
		path := partPath(t, m, id, f.Name)
		n := tcpdumpCount(t, path, "")
		if s := tsharkRead(t, path); s != n {
			t.Errorf("%s: tshark reads %d packets, tcpdump %d", f.Name, s, n)
		}
		if n == 0 {
			t.Errorf("%s holds no packet", f.Name)
		}
		total += n
	}
	if total != sent {
		t.Errorf("%d pcap parts hold %d packets, want the %d counted", len(parts), total, sent)
	}
	var flowPackets uint64
	flowParts := resultParts(t, m, id, flowsFile)
	if len(flowParts) < 3 {
		t.Errorf("%d IPFIX parts, want at least 3 (a flow record every second)", len(flowParts))
	}
	for _, f := range flowParts {
		path := partPath(t, m, id, f.Name)
		for _, r := range ipfixFlows(t, path) {
			flowPackets += r.Packets + r.RevPackets
		}
		tsharkRead(t, path)
	}
	if flowPackets != uint64(sent) || st.FlowsExported < 3 {
		t.Errorf("IPFIX parts: %d records of %d packets; want 3 or more records of the %d packets", st.FlowsExported, flowPackets, sent)
	}
}

// TestRotateCrash kills a daemon in the middle of a rotated live job,
// tears the last parts as a kill in a write does, and resumes: the torn
// pcap part is cut to its last complete packet and closed, an IPFIX part
// with nothing complete is replaced, the resumed capture writes new
// parts, and every part reads alone with every packet once.
func TestRotateCrash(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	p := newUDPPair(t, "127.0.0.1", "127.0.0.1:0")
	id, kill := startChild(t, dir, p.port, childRotateS+"=1")
	jobDir := filepath.Join(dir, "jobs", id)

	// 40 packets over 2 s of the clock: two parts or more.
	for range 8 {
		p.send(t, 5, 100)
		time.Sleep(250 * time.Millisecond)
	}
	pcapParts := func() []output.Part {
		parts, err := output.Parts(filepath.Join(jobDir, pcapFile))
		if err != nil {
			t.Fatal(err)
		}
		return parts
	}
	waitFor(t, 10*time.Second, "the child's packets on disk", func() (bool, string) {
		n := 0
		for _, part := range pcapParts() {
			n += countPcap(t, part.Path)
		}
		st, err := readState(jobDir)
		if err != nil {
			return false, err.Error()
		}
		return n == 40 && st.Totals.Packets == 40, fmt.Sprintf("%d packets in the parts, %d in job.json", n, st.Totals.Packets)
	})
	kill()
	before := pcapParts()
	if len(before) < 2 {
		t.Fatalf("%d pcap parts before the kill, want 2 or more", len(before))
	}
	last := before[len(before)-1]
	appendTo(t, last.Path, []byte{1, 2, 3, 4, 5, 6, 7, 8, 100, 0, 0, 0, 100, 0, 0, 0, 'x', 'y'})
	// No flow was exported before the kill: flows-00001.ipfix is empty;
	// a torn message header is all it holds.
	appendTo(t, output.PartPath(filepath.Join(jobDir, flowsFile), 1), []byte{0, 10, 1})

	m := newManager(t, dir, clockAhead(time.Second))
	if st := status(t, m, id); st.State != StateRunning || st.Packets != 40 {
		t.Fatalf("after restart: state %s, %d packets; want running, 40", st.State, st.Packets)
	}
	p.send(t, 25, 100)
	waitPackets(t, m, id, 65)
	if err := m.StopJob(id); err != nil {
		t.Fatalf("StopJob() error:\n%+v", err)
	}
	if st := status(t, m, id); len(st.Errors) != 0 {
		t.Errorf("errors %q, want none", st.Errors)
	}
	parts := resultParts(t, m, id, pcapFile)
	if len(parts) <= len(before) {
		t.Fatalf("%d pcap parts after the resumed capture, want more than the %d before the kill", len(parts), len(before))
	}
	total := 0
	for _, f := range parts {
		path := partPath(t, m, id, f.Name)
		n := tcpdumpCount(t, path, "")
		tsharkRead(t, path)
		if n == 0 {
			t.Errorf("%s holds no packet", f.Name)
		}
		total += n
	}
	if total != 65 {
		t.Errorf("the pcap parts hold %d packets, want 65", total)
	}
	flows := resultParts(t, m, id, flowsFile)
	if len(flows) != 1 {
		t.Fatalf("IPFIX parts %+v, want one: the empty part of before the kill replaced", flows)
	}
	rows := ipfixFlows(t, partPath(t, m, id, flows[0].Name))
	if len(rows) != 1 || rows[0].Packets != 25 {
		t.Errorf("IPFIX part: flows %+v, want the flow of the 25 packets after the restart", rows)
	}
}

// appendTo appends data to the file at path.
func appendTo(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
}
