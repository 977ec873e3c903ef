// Command gims-tracegen writes a deterministic synthetic packet trace for
// benchmarks and tests: a pcap file (Ethernet link type) whose mix looks
// like edge traffic.
//
//	gims-tracegen -o trace.pcap -packets 1000000 -flows 120000 -seed 1 [-ipv6-share 0.3] [-snaplen 128]
//
// The trace has exactly -packets packets in exactly -flows flows, each with
// its own 5-tuple:
//
//   - long TCP transfers (one per 10,000 flows, at least one): handshake,
//     a request, thousands of 1514-byte segments with an ACK every third
//     segment, FIN close; a fifth are uploads;
//   - long UDP streams (as many; two QUIC-like for one RTP-like);
//   - short TCP connections (40% of the other flows): handshake, one or
//     more request/response exchanges, then a FIN from either side or an
//     RST;
//   - DNS query/response pairs (52%), 1% of the IPv4 ones with a large
//     response in two IPv4 fragments;
//   - ICMP or ICMPv6 echo sessions (8%).
//
// Long flows get 50% of the packets when the short flows leave that much;
// with few packets per flow the short flows are trimmed to a single
// exchange, with many the long flows absorb the rest. Flows start
// throughout -duration of simulated time and interleave; timestamps never
// decrease. -ipv6-share of the flows are IPv6, -vlan-share carry an 802.1Q
// tag. Addresses come from 10.0.0.0/8 and the documentation ranges
// (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32). All IP,
// TCP, UDP and ICMP checksums are valid.
//
// A flow meter keyed on the 5-tuple counts -flows flows; tshark's
// "conv,tcp" and "conv,udp" count the TCP and UDP flows, which are -flows
// minus the ICMP sessions (about 8% of the short flows). The summary line
// on stderr gives each count.
//
// At the default 8 packets per flow, about 40% of the frames are 60–100
// bytes, 38% 1400–1518 bytes and the rest in between; with fewer packets
// per flow handshakes weigh more, with more the long transfers do.
//
// The same flags and seed always produce a byte-identical file.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status, 2 for bad
// arguments and 1 for a failure to write.
func run(args []string, stdout, stderr io.Writer) int {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("gims-tracegen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output pcap file, - for standard output (required)")
	fs.IntVar(&cfg.Packets, "packets", cfg.Packets, "number of packets")
	fs.IntVar(&cfg.Flows, "flows", cfg.Flows, "number of flows (TCP, UDP and ICMP)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "pseudo-random seed")
	fs.Float64Var(&cfg.IPv6Share, "ipv6-share", cfg.IPv6Share, "fraction of flows over IPv6")
	fs.Float64Var(&cfg.VLANShare, "vlan-share", cfg.VLANShare, "fraction of flows with an 802.1Q tag")
	fs.IntVar(&cfg.Snaplen, "snaplen", cfg.Snaplen, "cap captured bytes per packet (0: whole frames)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "simulated time spanned by the trace")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gims-tracegen: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *out == "" {
		fmt.Fprintln(stderr, "gims-tracegen: -o FILE is required")
		return 2
	}
	g, err := New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "gims-tracegen: %v\n", err)
		return 2
	}
	began := time.Now()
	st, err := write(g, *out, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "gims-tracegen: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "gims-tracegen: %d packets, %d bytes, %d flows (tcp %d, udp %d, icmp %d, long %d, ipv6 %d, vlan %d), %d fragments, %v simulated, written to %s in %v\n",
		st.Packets, st.Bytes, st.Flows, st.TCPFlows, st.UDPFlows, st.ICMPFlows, st.LongFlows,
		st.IPv6Flows, st.VLANFlows, st.Fragments, st.Last.Sub(st.First).Round(time.Millisecond),
		*out, time.Since(began).Round(time.Millisecond))
	return 0
}

// write generates the trace into path, or stdout for "-". A file is written
// under a temporary name and renamed when complete, so an interrupted run
// never leaves a truncated trace behind that looks finished.
func write(g *Generator, path string, stdout io.Writer) (Stats, error) {
	if path == "-" {
		return g.Generate(stdout)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return Stats{}, fmt.Errorf("unable to create %s: %w", tmp, err)
	}
	st, err := g.Generate(f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("unable to close %s: %w", tmp, cerr)
	}
	if err == nil {
		if err = os.Rename(tmp, path); err != nil {
			err = fmt.Errorf("unable to rename %s to %s: %w", tmp, path, err)
		}
	}
	if err != nil {
		os.Remove(tmp)
		return st, err
	}
	return st, nil
}
