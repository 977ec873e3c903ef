package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// countersHeader is the header of the -counters CSV file: the seven
// columns of SPEC §3, then the bytes per protocol class.
const countersHeader = "time,packets,bytes,tcp_packets,udp_packets,icmp_packets,other_packets," +
	"tcp_bytes,udp_bytes,icmp_bytes,other_bytes"

// classTotals are packets and wire bytes per protocol class, summed over
// a whole trace.
type classTotals struct {
	Packets, Bytes                            uint64
	TCP, UDP, ICMP, Other                     uint64
	TCPBytes, UDPBytes, ICMPBytes, OtherBytes uint64
}

// TestOfflineCountersByProtocol checks the -counters CSV against tshark:
// the packets and frame lengths of each protocol class (the outermost IP
// header's protocol), summed over the trace, and in every row the classes
// add up to the totals.
func TestOfflineCountersByProtocol(t *testing.T) {
	requireTool(t, "tshark")
	for _, name := range []string{
		"tcpreplay__test.pcap", // TCP, UDP, ICMP with inner UDP, IGMP, OSPF, non-IP
		"zeek__http-get.pcap",
		"zeek__icmp-5-pings.pcap",
		"zeek__communityid-udp.pcap",
		"zeek__communityid-icmp6.pcap", // ICMPv6, some quoting UDP
	} {
		t.Run(name, func(t *testing.T) {
			in := filepath.Join("testdata", "pcaps", name)
			csvPath := filepath.Join(t.TempDir(), "c.csv")
			if code, stderr := runCapd(t, nil, "-r", in, "-counters", csvPath); code != 0 {
				t.Fatalf("exit %d:\n%s", code, stderr)
			}
			got := readCountersCSV(t, csvPath)
			if want := tsharkClasses(t, in); got != want {
				t.Errorf("counters (-got, +want):\n-%+v\n+%+v", got, want)
			}
		})
	}
}

// readCountersCSV checks the header and the per-row sums of a counters
// file and returns its column totals.
func readCountersCSV(t *testing.T, path string) classTotals {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if lines[0] != countersHeader {
		t.Fatalf("header %q, want %q", lines[0], countersHeader)
	}
	var total classTotals
	for i, line := range lines[1:] {
		cols := strings.Split(line, ",")
		if len(cols) != 11 {
			t.Fatalf("row %d: %d columns, want 11: %q", i+1, len(cols), line)
		}
		var v [10]uint64
		for j := range v {
			if v[j], err = strconv.ParseUint(cols[j+1], 10, 64); err != nil {
				t.Fatalf("row %d column %d: %v", i+1, j+2, err)
			}
		}
		if v[2]+v[3]+v[4]+v[5] != v[0] {
			t.Errorf("row %d: tcp+udp+icmp+other packets != packets: %q", i+1, line)
		}
		if v[6]+v[7]+v[8]+v[9] != v[1] {
			t.Errorf("row %d: tcp+udp+icmp+other bytes != bytes: %q", i+1, line)
		}
		for j, dst := range []*uint64{&total.Packets, &total.Bytes, &total.TCP, &total.UDP, &total.ICMP, &total.Other,
			&total.TCPBytes, &total.UDPBytes, &total.ICMPBytes, &total.OtherBytes} {
			*dst += v[j]
		}
	}
	return total
}

// tsharkClasses sums frame lengths per protocol class as tshark decodes
// the trace: the first ip.proto or ipv6.nxt of the frame.
func tsharkClasses(t *testing.T, path string) classTotals {
	t.Helper()
	cmd := exec.Command("tshark", "-n", "-r", path, "-T", "fields",
		"-e", "frame.len", "-e", "ip.proto", "-e", "ipv6.nxt")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	var total classTotals
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("tshark line %q", line)
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			t.Fatalf("tshark line %q: %v", line, err)
		}
		proto, _, _ := strings.Cut(f[1]+f[2], ",") // outermost header only
		total.Packets++
		total.Bytes += n
		switch proto {
		case "6":
			total.TCP++
			total.TCPBytes += n
		case "17":
			total.UDP++
			total.UDPBytes += n
		case "1", "58":
			total.ICMP++
			total.ICMPBytes += n
		default:
			total.Other++
			total.OtherBytes += n
		}
	}
	return total
}

func (c classTotals) String() string {
	return fmt.Sprintf("p=%d b=%d tcp=%d/%d udp=%d/%d icmp=%d/%d other=%d/%d", c.Packets, c.Bytes,
		c.TCP, c.TCPBytes, c.UDP, c.UDPBytes, c.ICMP, c.ICMPBytes, c.Other, c.OtherBytes)
}
