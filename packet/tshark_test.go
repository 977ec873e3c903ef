package packet

import (
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestDecodeMatchesTshark cross-checks addresses, protocol, ports and VLAN
// of every packet of several sample captures against tshark's dissection.
func TestDecodeMatchesTshark(t *testing.T) {
	needTool(t, "tshark")
	files := []string{
		"tcpreplay__test.pcap",
		"zeek__communityid-ipv6.pcap",
		"zeek__communityid-sctp.pcap",
		"zeek__mixed-vlan-mpls.pcap",
		"zeek__linux_dlt_sll2.pcap",
		"zeek__ipv4-fragmented-3.pcap",
		"zeek__ipv6-fragmented-dns.pcap",
		"zeek__tunnels-6in4.pcap",
		"zeek__icmp_dot1q.pcap",
		"tcpdump__ikev2four.pcap",
		"tcpdump__resp_1_benchmark.pcap",
		"tcpdump__of13_ericsson.pcapng",
	}
	fields := []string{"ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.proto",
		"tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "sctp.srcport", "sctp.dstport", "vlan.id"}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			c := readPcap(t, "testdata/pcaps/"+f)
			args := []string{"-r", "testdata/pcaps/" + f, "-n",
				"-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
				"-T", "fields", "-E", "occurrence=f", "-E", "separator=/t"}
			for _, fl := range fields {
				args = append(args, "-e", fl)
			}
			out, err := exec.Command("tshark", args...).Output()
			if err != nil {
				t.Fatalf("tshark error:\n%+v", err)
			}
			lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
			if len(lines) != len(c.packets) {
				t.Fatalf("tshark printed %d packets, pcapgo read %d", len(lines), len(c.packets))
			}
			d, err := NewDecoder(c.linkType)
			if err != nil {
				t.Fatalf("NewDecoder() error:\n%+v", err)
			}
			for i, line := range lines {
				v := strings.Split(line, "\t")
				for len(v) < len(fields) {
					v = append(v, "")
				}
				get := func(name string) string {
					for j, fl := range fields {
						if fl == name {
							return v[j]
						}
					}
					return ""
				}
				var s Summary
				d.Decode(c.packets[i].data, c.packets[i].ci, &s)
				src, dst := get("ip.src"), get("ip.dst")
				if src == "" {
					src, dst = get("ipv6.src"), get("ipv6.dst")
				}
				if src == "" {
					if s.IPVersion != 0 {
						t.Errorf("packet %d: tshark sees no IP, we see %v > %v", i+1, s.SrcAddr(), s.DstAddr())
					}
					continue
				}
				if s.SrcAddr() != netip.MustParseAddr(src) || s.DstAddr() != netip.MustParseAddr(dst) {
					t.Errorf("packet %d: addresses %v > %v, tshark %s > %s", i+1, s.SrcAddr(), s.DstAddr(), src, dst)
				}
				if p := get("ip.proto"); p != "" && p != strconv.Itoa(int(s.Proto)) {
					t.Errorf("packet %d: protocol %d, tshark %s", i+1, s.Proto, p)
				}
				if vlan := get("vlan.id"); vlan != "" && vlan != strconv.Itoa(int(s.VLAN)) || vlan == "" && s.VLAN != 0 {
					t.Errorf("packet %d: VLAN %d, tshark %q", i+1, s.VLAN, vlan)
				}
				var sp, dp string
				switch s.Proto {
				case 6:
					sp, dp = get("tcp.srcport"), get("tcp.dstport")
				case 17:
					sp, dp = get("udp.srcport"), get("udp.dstport")
				case 132:
					sp, dp = get("sctp.srcport"), get("sctp.dstport")
				default:
					continue
				}
				if (sp != "") != s.HasPorts {
					t.Errorf("packet %d: HasPorts %v, tshark ports %q %q", i+1, s.HasPorts, sp, dp)
					continue
				}
				if s.HasPorts && (sp != strconv.Itoa(int(s.SrcPort)) || dp != strconv.Itoa(int(s.DstPort))) {
					t.Errorf("packet %d: ports %d > %d, tshark %s > %s", i+1, s.SrcPort, s.DstPort, sp, dp)
				}
			}
		})
	}
}
