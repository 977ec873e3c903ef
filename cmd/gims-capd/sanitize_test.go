package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/calmh/ipfix"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/internal/advcap"
	"github.com/gimsproject/gims/packet"
)

// sanitizeSecret is the experiment secret of the sanitization tests.
const sanitizeSecret = "sanitize test secret"

// offlineRun is what one gims-capd -r run produced.
type offlineRun struct {
	stderr string
	files  map[string][]byte // output file name → content
	udp    [][]byte          // datagrams the collector got
}

// runSanitized runs gims-capd -r in with the secret and every output
// (pcap, IPFIX file, counters, a UDP collector), plus extra flags, into
// dir.
func runSanitized(t *testing.T, in, dir string, extra ...string) offlineRun {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	args := append([]string{"-r", in, "-anonymize-secret", sanitizeSecret, "-w", filepath.Join(dir, "out.pcap"),
		"-ipfix", filepath.Join(dir, "out.ipfix"), "-counters", filepath.Join(dir, "out.csv"),
		"-collector", "udp://" + conn.LocalAddr().String()}, extra...)
	code, stderr := runCapd(t, nil, args...)
	if code != 0 {
		t.Fatalf("gims-capd %v: exit %d:\n%s", args, code, stderr)
	}
	r := offlineRun{stderr: stderr, files: map[string][]byte{}}
	for _, name := range []string{"out.pcap", "out.ipfix", "out.csv"} {
		if r.files[name], err = os.ReadFile(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 65536)
	for {
		if err := conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			break // no more datagrams
		}
		r.udp = append(r.udp, append([]byte(nil), buf[:n]...))
	}
	return r
}

// leaks lists the identifiers found in every output of a run.
func (r offlineRun) leaks(ids map[string][]byte) []string {
	var out []string
	for name, data := range r.files {
		for _, hit := range advcap.Find(data, ids) {
			out = append(out, name+": "+hit)
		}
	}
	for i, d := range r.udp {
		for _, hit := range advcap.Find(d, ids) {
			out = append(out, fmt.Sprintf("collector datagram %d: %s", i, hit))
		}
	}
	for _, hit := range advcap.Find([]byte(r.stderr), ids) {
		out = append(out, "stderr: "+hit)
	}
	slices.Sort(out)
	return out
}

// TestSanitizeOfflineLeaks is issue 11's check on the offline meter: the
// adversarial capture (every protocol the sanitizer knows or must cut,
// full of distinctive addresses, MACs and a host name) runs through
// gims-capd -r with a secret, and no identifier is found in any output
// (pcap, IPFIX file, collector datagrams, counters, stderr), as raw bytes
// or as text, with each payload and MAC mode that hides them. There is no
// documented exception to allow for: the frames' identifiers are all
// unicast addresses, unicast MACs and names.
func TestSanitizeOfflineLeaks(t *testing.T) {
	dir := t.TempDir()
	adv := filepath.Join(dir, "adv.pcap")
	if err := advcap.WritePcap(adv, 3); err != nil {
		t.Fatal(err)
	}
	ids := advcap.Identifiers()
	orig, err := os.ReadFile(adv)
	if err != nil {
		t.Fatal(err)
	}
	for _, must := range []string{"mac 00:11:22:33:44:55", "ipv4 10.20.30.40", "ipv6 2001:db8:dead:beef::1", "text host"} {
		if !slices.Contains(advcap.Find(orig, ids), must) {
			t.Fatalf("the adversarial capture lacks %s", must)
		}
	}
	for _, mode := range [][]string{nil, {"-payload", "zero"}, {"-mac", "zero"}, {"-payload", "zero", "-mac", "zero"}} {
		t.Run(strings.Join(append([]string{"default"}, mode...), " "), func(t *testing.T) {
			out := t.TempDir()
			r := runSanitized(t, adv, out, mode...)
			if len(r.udp) == 0 {
				t.Fatalf("the collector got nothing")
			}
			if leaks := r.leaks(ids); len(leaks) > 0 {
				t.Errorf("identifiers left in the outputs:\n%s", strings.Join(leaks, "\n"))
			}
			if !strings.Contains(r.stderr, "; 0 sanitized_drops") {
				t.Errorf("summary without sanitized_drops: %s", r.stderr)
			}
			frames := advcap.Frames()
			checkWithTools(t, adv, filepath.Join(out, "out.pcap"), func(i int) string {
				switch name := frames[(i-1)%len(frames)].Name; {
				case name == "ipv6-rh3-unknown":
					return "default deny: the headers after an unknown routing header type are cut (documented)"
				case name == "mpls-pseudowire-ethernet" && slices.Contains(mode, "zero") && slices.Contains(mode, "-mac"):
					return "tshark's guess after the MPLS label stack takes the zero control word and zeroed MACs for one Ethernet header"
				}
				return ""
			})
		})
	}
	// keep is the documented way out: the identifiers are then there.
	t.Run("keep", func(t *testing.T) {
		r := runSanitized(t, adv, t.TempDir(), "-payload", "keep", "-mac", "keep")
		leaks := strings.Join(r.leaks(ids), "\n")
		for _, want := range []string{"out.pcap: text host", "out.pcap: mac 00:11:22:33:44:55"} {
			if !strings.Contains(leaks, want) {
				t.Errorf("with payload and mac keep, %s is not kept", want)
			}
		}
	})
}

// TestSanitizeOfflineDeterministic: the same secret gives byte-identical
// outputs on two runs (the IPFIX export time aside, which is the wall
// clock's).
func TestSanitizeOfflineDeterministic(t *testing.T) {
	dir := t.TempDir()
	adv := filepath.Join(dir, "adv.pcap")
	if err := advcap.WritePcap(adv, 2); err != nil {
		t.Fatal(err)
	}
	a := runSanitized(t, adv, t.TempDir())
	b := runSanitized(t, adv, t.TempDir())
	for name := range a.files {
		x, y := a.files[name], b.files[name]
		if name == "out.ipfix" {
			x, y = ipfixWithoutExportTime(t, x), ipfixWithoutExportTime(t, y)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs with the same secret", name)
		}
	}
	c := runSanitized(t, adv, t.TempDir(), "-payload", "strip", "-mac", "keyed")
	if !bytes.Equal(a.files["out.pcap"], c.files["out.pcap"]) {
		t.Errorf("the explicit defaults (-payload strip -mac keyed) give another pcap than the defaults")
	}
}

// ipfixWithoutExportTime returns an IPFIX stream with the export time of
// every message zeroed.
func ipfixWithoutExportTime(t *testing.T, b []byte) []byte {
	t.Helper()
	b = bytes.Clone(b)
	for off := 0; off < len(b); {
		if off+16 > len(b) {
			t.Fatalf("IPFIX stream cut at %d", off)
		}
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		if n < 16 {
			t.Fatalf("IPFIX message of %d bytes at %d", n, off)
		}
		clear(b[off+4 : off+8])
		off += n
	}
	return b
}

// TestSanitizedDrops: a frame of which nothing safe is left is not
// written, and counted in the summary.
func TestSanitizedDrops(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "raw.pcap")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeRaw); err != nil {
		t.Fatal(err)
	}
	garbage := []byte("secret-host.example.com 10.20.30.40")
	ip := make([]byte, 20)
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], 28)
	copy(ip[12:], []byte{10, 20, 30, 40})
	copy(ip[16:], []byte{192, 168, 1, 10})
	udp := []byte{0x30, 0x39, 0, 53, 0, 8, 0, 0}
	good := append(ip, udp...)
	for _, p := range [][]byte{garbage, good, garbage} {
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1e9, 0), CaptureLength: len(p), Length: len(p)}, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.pcap")
	code, stderr := runCapd(t, nil, "-r", in, "-anonymize-secret", sanitizeSecret, "-w", out)
	if code != 0 || !strings.Contains(stderr, "3 packets") || !strings.Contains(stderr, "; 2 sanitized_drops") {
		t.Fatalf("exit %d, summary %q; want 3 packets and 2 sanitized_drops", code, stderr)
	}
	r, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pr, err := pcapgo.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		data, ci, err := pr.ReadPacketData()
		if err != nil {
			break
		}
		n++
		if ci.Length != len(good) || ci.CaptureLength != len(good) || len(data) != len(good) {
			t.Errorf("packet kept with lengths %d/%d, want %d", ci.CaptureLength, ci.Length, len(good))
		}
	}
	if n != 1 {
		t.Errorf("%d packets written, want the one that is safe", n)
	}
}

// tsharkFields is one line per packet of tshark's fields: the wire
// length, the outermost EtherType, IP protocol and ports. Reassembly is
// off: a sanitized capture has no payload to reassemble, and the fields
// of a reassembled datagram would move to its last fragment. The
// outermost values only: inner ones may come from a payload (a frame
// carried in a TCP stream) that strip cuts.
func tsharkFields(t *testing.T, path string) []string {
	t.Helper()
	out, err := exec.Command("tshark", "-n", "-r", path, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
		"-o", "tcp.desegment_tcp_streams:FALSE", "-T", "fields", "-E", "occurrence=f", "-e", "frame.len", "-e", "eth.type",
		"-e", "ip.proto", "-e", "ipv6.nxt", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "udp.srcport",
		"-e", "udp.dstport").Output()
	if err != nil {
		t.Fatalf("tshark -T fields -r %s: %v", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	for i, l := range lines {
		// UDP ports behind TCP ports come from the TCP payload (a frame
		// carried in the stream: OpenFlow packet-in).
		if f := strings.Split(l, "\t"); len(f) == 8 && f[4] != "" {
			f[6], f[7] = "", ""
			lines[i] = strings.Join(f, "\t")
		}
	}
	return lines
}

// checkWithTools checks that tshark and tcpdump read a sanitized pcap
// cleanly (exit 0, no malformed packet that the original did not have, as
// many packets), and that lengths, protocols and ports survive, but for
// the packets (numbered from 1) for which except gives a reason (nil: no
// exception).
func checkWithTools(t *testing.T, orig, sanitized string, except func(int) string) {
	t.Helper()
	requireTool(t, "tshark")
	requireTool(t, "tcpdump")
	lines := func(path string) []string {
		cmd := exec.Command("tshark", "-n", "-r", path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr // its warnings (running as root) are not packets
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tshark -r %s: %v\n%s", path, err, stderr.String())
		}
		return strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	}
	before, after := lines(orig), lines(sanitized)
	if len(before) != len(after) {
		t.Fatalf("tshark shows %d packets, the original has %d", len(after), len(before))
	}
	for i, l := range after {
		if strings.Contains(l, "Malformed") && !strings.Contains(before[i], "Malformed") {
			t.Errorf("packet %d is malformed after sanitization:\n%s\nwas\n%s", i+1, l, before[i])
		}
	}
	// tcpdump reads every packet: what it writes back holds them all.
	again := filepath.Join(t.TempDir(), "again.pcap")
	if out, err := exec.Command("tcpdump", "-n", "-r", sanitized, "-w", again).CombinedOutput(); err != nil {
		t.Fatalf("tcpdump -r %s: %v\n%s", sanitized, err, out)
	}
	if out, err := exec.Command("tcpdump", "-n", "-v", "-r", sanitized).CombinedOutput(); err != nil {
		t.Fatalf("tcpdump -v -r %s: %v\n%s", sanitized, err, out)
	}
	if n := pcapCount(t, again); n != len(before) {
		t.Errorf("tcpdump reads %d packets, want %d", n, len(before))
	}
	fb, fa := tsharkFields(t, orig), tsharkFields(t, sanitized)
	for i := range fa {
		if fa[i] != fb[i] {
			if except != nil && except(i+1) != "" {
				t.Logf("packet %d: %q, was %q: %s", i+1, fa[i], fb[i], except(i+1))
				continue
			}
			t.Errorf("packet %d: length, protocols or ports changed: %q, was %q", i+1, fa[i], fb[i])
		}
	}
}

// pcapCount counts the packets of a pcap file.
func pcapCount(t *testing.T, path string) int {
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
	n := 0
	for {
		if _, _, err := r.ReadPacketData(); err != nil {
			return n
		}
		n++
	}
}

// ipfixFieldNames returns the names of every information element of an
// IPFIX file's data records.
func ipfixFieldNames(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := ipfix.NewSession()
	interp := ipfix.NewInterpreter(s)
	names := map[string]bool{}
	r := bufio.NewReader(f)
	for {
		bs, _, err := ipfix.Read(r, nil)
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		msg, err := s.ParseBuffer(bs)
		if err != nil {
			t.Fatalf("parse %s: %v", path, err)
		}
		for _, rec := range msg.DataRecords {
			for _, field := range interp.Interpret(rec) {
				names[field.Name] = true
			}
		}
	}
}

// TestSanitizeIPFIXHasNoMACOrPayload: flow records carry no MAC address
// and nothing of a payload, whatever the modes.
func TestSanitizeIPFIXHasNoMACOrPayload(t *testing.T) {
	dir := t.TempDir()
	adv := filepath.Join(dir, "adv.pcap")
	if err := advcap.WritePcap(adv, 1); err != nil {
		t.Fatal(err)
	}
	runSanitized(t, adv, dir, "-payload", "keep", "-mac", "keep")
	for name := range ipfixFieldNames(t, filepath.Join(dir, "out.ipfix")) {
		l := strings.ToLower(name)
		if strings.Contains(l, "mac") || strings.Contains(l, "payload") || strings.Contains(l, "section") ||
			strings.Contains(l, "header") {
			t.Errorf("IPFIX carries %s", name)
		}
	}
}

// sampleIdentifiers collects the IP addresses (every IP layer gopacket
// decodes: tunnels included) and unicast MACs of a capture, without the
// values sanitization keeps (0.0.0.0, 255.255.255.255, ::, group and zero
// MACs).
func sampleIdentifiers(t *testing.T, path string) (ids map[string][]byte, packets int) {
	t.Helper()
	src, err := capture.OpenFile(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ids = map[string][]byte{}
	lt := src.LinkType()
	for {
		data, _, err := src.ZeroCopyReadPacketData()
		if err != nil {
			break
		}
		packets++
		var first gopacket.LayerType
		switch lt {
		case layers.LinkTypeEthernet:
			first = layers.LayerTypeEthernet
		case layers.LinkTypeLinuxSLL:
			first = layers.LayerTypeLinuxSLL
		case layers.LinkTypeNull, layers.LinkTypeLoop:
			first = layers.LayerTypeLoopback
		default: // raw IP, or SLL2 once its 20 bytes are skipped
			if lt == packet.LinkTypeLinuxSLL2 {
				if len(data) < 20 {
					continue
				}
				data = data[20:]
			}
			if len(data) == 0 {
				continue
			}
			first = layers.LayerTypeIPv4
			if data[0]>>4 == 6 {
				first = layers.LayerTypeIPv6
			}
		}
		p := gopacket.NewPacket(bytes.Clone(data), first, gopacket.Default)
		for _, l := range p.Layers() {
			switch l := l.(type) {
			case *layers.Ethernet:
				for _, m := range [][]byte{l.SrcMAC, l.DstMAC} {
					if len(m) == 6 && m[0]&1 == 0 && !bytes.Equal(m, make([]byte, 6)) {
						ids["mac "+net.HardwareAddr(m).String()] = bytes.Clone(m)
					}
				}
			case *layers.IPv4:
				for _, a := range []net.IP{l.SrcIP.To4(), l.DstIP.To4()} {
					if a != nil && !a.Equal(net.IPv4zero) && !a.Equal(net.IPv4bcast) {
						ids["ipv4 "+a.String()] = bytes.Clone(a)
					}
				}
			case *layers.IPv6:
				for _, a := range []net.IP{l.SrcIP, l.DstIP} {
					if len(a) == 16 && !a.Equal(net.IPv6unspecified) {
						ids["ipv6 "+a.String()] = bytes.Clone(a)
					}
				}
			}
		}
	}
	return ids, packets
}

// TestSanitizeSamplePcapsLeaks runs the scan over every sample capture
// (../shared/data/pcaps): no original address or unicast MAC is left in
// the kept bytes of any packet, in the flows of the IPFIX file and of the
// collector, or as text anywhere, and tshark and tcpdump read the
// sanitized pcap. Packets are scanned one by one, and IPFIX records
// field by field, so that timestamps and counters cannot match an address
// by chance.
func TestSanitizeSamplePcapsLeaks(t *testing.T) {
	for _, in := range samples(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			ids, _ := sampleIdentifiers(t, in)
			text := map[string][]byte{}
			for name := range ids {
				s := strings.SplitN(name, " ", 2)[1]
				text["text "+s] = []byte(s)
			}
			dir := t.TempDir()
			r := runSanitized(t, in, dir)
			f, err := os.Open(filepath.Join(dir, "out.pcap"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			pr, err := pcapgo.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; ; i++ {
				data, _, err := pr.ReadPacketData()
				if err != nil {
					break
				}
				if hits := advcap.Find(data, ids); len(hits) > 0 {
					t.Errorf("packet %d keeps %v", i, hits)
				}
			}
			flows, err := readIPFIX(filepath.Join(dir, "out.ipfix"))
			if err != nil {
				t.Fatal(err)
			}
			for _, fl := range flows {
				for _, a := range []string{fl.src, fl.dst} {
					if ids["ipv4 "+a] != nil || ids["ipv6 "+a] != nil {
						t.Errorf("flow %+v keeps %s", fl, a)
					}
				}
			}
			for name, data := range map[string][]byte{"out.csv": r.files["out.csv"], "stderr": []byte(r.stderr)} {
				if hits := advcap.Find(data, text); len(hits) > 0 {
					t.Errorf("%s shows %v", name, hits)
				}
			}
			for i, d := range r.udp {
				for name, b := range ids {
					if len(b) > 4 && bytes.Contains(d, b) {
						t.Errorf("collector datagram %d keeps %s", i, name)
					}
				}
			}
			checkWithTools(t, in, filepath.Join(dir, "out.pcap"), nil)
		})
	}
}
