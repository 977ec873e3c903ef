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
//
// -shape picks a named shape of traffic whose defaults the other flags
// adjust (ShapeConfig): mix (the above), clustered (400k packets, 20k
// flows, every address in one /16 and one /48), ports (many port pairs
// per host pair), ipv6 (90 % IPv6), icmp (80 % pings) and tiny (60-byte
// frames). bench/suite.sh generates them all.
//
//	gims-tracegen -o out.pcap -concat [-repeat N] file.pcap...
//
// concatenates capture files (pcap or pcapng; Ethernet, raw IP, loopback
// or Linux cooked frames, all written as Ethernet) into one pcap, N times
// over, each file after the previous one in time.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags besides the trace's configuration.
type options struct {
	out    string
	shape  string
	concat bool
	repeat int
}

// flags returns the command's flag set, bound to cfg and o.
func flags(cfg *Config, o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("gims-tracegen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.out, "o", "", "output pcap file, - for standard output (required)")
	fs.StringVar(&o.shape, "shape", "mix", "named shape of traffic, the defaults the other flags adjust: "+strings.Join(shapeNames(), ", "))
	fs.BoolVar(&o.concat, "concat", false, "concatenate the capture files given as arguments instead of generating traffic")
	fs.IntVar(&o.repeat, "repeat", 1, "with -concat: how many times the files are written, one copy after the other")
	fs.IntVar(&cfg.Packets, "packets", cfg.Packets, "number of packets")
	fs.IntVar(&cfg.Flows, "flows", cfg.Flows, "number of flows (TCP, UDP and ICMP)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "pseudo-random seed")
	fs.Float64Var(&cfg.IPv6Share, "ipv6-share", cfg.IPv6Share, "fraction of flows over IPv6")
	fs.Float64Var(&cfg.VLANShare, "vlan-share", cfg.VLANShare, "fraction of flows with an 802.1Q tag")
	fs.IntVar(&cfg.Snaplen, "snaplen", cfg.Snaplen, "cap captured bytes per packet (0: whole frames)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "simulated time spanned by the trace")
	fs.IntVar(&cfg.Clients, "clients", cfg.Clients, "number of client hosts")
	fs.IntVar(&cfg.Servers, "servers", cfg.Servers, "number of server hosts")
	fs.Float64Var(&cfg.TCPShare, "tcp-share", cfg.TCPShare, "fraction of the short flows that are TCP connections")
	fs.Float64Var(&cfg.DNSShare, "dns-share", cfg.DNSShare, "fraction of the short flows that are DNS exchanges (the rest are pings)")
	fs.BoolVar(&cfg.Clustered, "clustered", cfg.Clustered, "all addresses in one IPv4 /16 and one IPv6 /48")
	fs.BoolVar(&cfg.Tiny, "tiny", cfg.Tiny, "packets as short as their headers allow (60-byte IPv4 frames)")
	return fs
}

// run is main without the process: it returns the exit status, 2 for bad
// arguments and 1 for a failure to write.
func run(args []string, stdout, stderr io.Writer) int {
	// The first pass finds the shape, whose configuration the second pass
	// adjusts with the other flags, wherever -shape is on the line.
	cfg := DefaultConfig()
	var o options
	fs := flags(&cfg, &o, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg, err := ShapeConfig(o.shape)
	if err != nil {
		fmt.Fprintf(stderr, "gims-tracegen: %v\n", err)
		return 2
	}
	fs = flags(&cfg, &o, io.Discard)
	if err := fs.Parse(args); err != nil {
		return 2 // not reached: the first pass parsed the same arguments
	}
	if fs.NArg() > 0 && !o.concat {
		fmt.Fprintf(stderr, "gims-tracegen: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if o.out == "" {
		fmt.Fprintln(stderr, "gims-tracegen: -o FILE is required")
		return 2
	}
	began := time.Now()
	if o.concat {
		if fs.NArg() == 0 {
			fmt.Fprintln(stderr, "gims-tracegen: -concat needs capture files as arguments")
			return 2
		}
		if o.repeat < 1 || o.repeat > maxRepeat {
			fmt.Fprintf(stderr, "gims-tracegen: -repeat must be between 1 and %d, not %d\n", maxRepeat, o.repeat)
			return 2
		}
		files := fs.Args()
		st, err := write(func(w io.Writer) (Stats, error) { return Concat(w, files, o.repeat, cfg.Start) }, o.out, stdout)
		if err != nil {
			fmt.Fprintf(stderr, "gims-tracegen: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "gims-tracegen: %d packets, %d bytes from %d files × %d, %v of capture time, written to %s in %v\n",
			st.Packets, st.Bytes, len(files), o.repeat, st.Last.Sub(st.First).Round(time.Millisecond),
			o.out, time.Since(began).Round(time.Millisecond))
		return 0
	}
	g, err := New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "gims-tracegen: %v\n", err)
		return 2
	}
	st, err := write(g.Generate, o.out, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "gims-tracegen: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "gims-tracegen: %d packets, %d bytes, %d flows (tcp %d, udp %d, icmp %d, long %d, ipv6 %d, vlan %d), %d fragments, %v simulated, written to %s in %v\n",
		st.Packets, st.Bytes, st.Flows, st.TCPFlows, st.UDPFlows, st.ICMPFlows, st.LongFlows,
		st.IPv6Flows, st.VLANFlows, st.Fragments, st.Last.Sub(st.First).Round(time.Millisecond),
		o.out, time.Since(began).Round(time.Millisecond))
	return 0
}

// write generates the trace into path, or stdout for "-". A file is written
// under a temporary name and renamed when complete, so an interrupted run
// never leaves a truncated trace behind that looks finished.
func write(gen func(io.Writer) (Stats, error), path string, stdout io.Writer) (Stats, error) {
	if path == "-" {
		return gen(stdout)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return Stats{}, fmt.Errorf("unable to create %s: %w", tmp, err)
	}
	st, err := gen(f)
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
