package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gimsproject/gims/capture/job"
	"github.com/gimsproject/gims/internal/check"
	"github.com/gimsproject/gims/internal/httpserver"
	"github.com/gimsproject/gims/internal/tlsconfig"
	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/flow"
)

var errHelp = errors.New("help requested")

// options are the command-line settings of both modes.
type options struct {
	offline offlineOptions
	daemon  daemonOptions
}

// offlineOptions are the flags of the offline flow meter (SPEC §7).
type offlineOptions struct {
	input          string
	filter         string
	keyHex, secret string
	// payload and mac are the sanitization modes (SPEC §8); empty means
	// the default, and they need a key.
	payload, mac string
	pcapOut      string
	ipfixOut     string
	collector    string
	countersOut  string
	// readAhead reads the file in a goroutine of its own, ahead of the
	// meter (meter.Prefetcher), so that reading and metering use two
	// cores.
	readAhead bool
	// mmap reads the file through a memory mapping instead of read(2)
	// (capture.Source.MapFile): cheaper on some hosts, dearer on others
	// (bench/RESULTS.md, "Issue 14, round 7"). In daemon mode it is the
	// jobs' MapFiles, for file sources.
	mmap bool
	// counters and flows are the transforms' configurations, from their
	// DefaultConfiguration and the flags.
	counters counters.Configuration
	flows    flow.Configuration
}

// daemonOptions are the flags of the capture daemon (SPEC §1).
type daemonOptions struct {
	listen    string
	tokenFile string
	register  string
	// activation is -activation: the code RegisterDevice needs.
	activation string
	// jobs is the job manager's configuration (DataDir, PcapDir), from
	// its DefaultConfiguration and the flags.
	jobs job.Configuration
	// http bounds the device API's connections, from its
	// DefaultConfiguration and the flags.
	http httpserver.Configuration
	// tls is the transport security of the device API (SPEC §10).
	tls tlsconfig.Configuration
	// registerCA is the PEM CA file that verifies the AM at -register.
	registerCA string
	// simulate is -simulate: the number of simulated devices to run
	// (0: a real capture daemon); simulatePPS their packets per second
	// per job.
	simulate, simulatePPS int
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{
		offline: offlineOptions{counters: counters.DefaultConfiguration(), flows: flow.DefaultConfiguration()},
		daemon:  daemonOptions{jobs: job.DefaultConfiguration(), http: httpserver.DefaultConfiguration(), tls: tlsconfig.DefaultConfiguration()},
	}
	o.daemon.jobs.DataDir = "gims-capd-data"
	o.daemon.jobs.Filters.Isolate = true // main calls capture.ServeFilterChild
	fs := flag.NewFlagSet("gims-capd", flag.ContinueOnError)
	// Errors are reported by run as one line; -h prints the flags.
	fs.SetOutput(io.Discard)
	off := &o.offline
	fs.StringVar(&off.input, "r", "", "offline mode: read this pcap/pcapng `file` (- for stdin), process it and exit")
	fs.StringVar(&off.filter, "filter", "", "BPF `expression` applied to the packets")
	fs.StringVar(&off.keyHex, "anonymize-key", "", "Crypto-PAn key as 64 hex digits")
	fs.StringVar(&off.secret, "anonymize-secret", "", "Crypto-PAn passphrase (turned into the key with argon2id)")
	fs.StringVar(&off.payload, "payload", "", "with a key: what sanitization does with payloads, strip (default), zero or keep")
	fs.StringVar(&off.mac, "mac", "", "with a key: what sanitization does with MAC addresses, keyed (default), zero or keep")
	fs.StringVar(&off.pcapOut, "w", "", "write the (anonymized) packets to this pcap `file`")
	fs.StringVar(&off.ipfixOut, "ipfix", "", "write flows to this RFC 5655 IPFIX `file`")
	fs.StringVar(&off.collector, "collector", "", "export flows to an IPFIX collector (udp://host:port or tcp://host:port)")
	fs.StringVar(&off.countersOut, "counters", "", "write interval counters to this CSV `file`")
	fs.BoolVar(&off.mmap, "mmap", false, "read pcap files (offline -r, and the daemon's file: sources) through a memory mapping instead of read(2) (same outputs; faster or slower depending on the host)")
	fs.BoolVar(&off.readAhead, "read-ahead", false, "offline mode: read the file ahead of the meter on another core (same outputs, more CPU in all)")
	fs.DurationVar(&off.counters.Interval, "counter-interval", off.counters.Interval, "counter interval")
	fs.DurationVar(&off.flows.ActiveTimeout, "active-timeout", off.flows.ActiveTimeout, "flow active timeout")
	fs.DurationVar(&off.flows.IdleTimeout, "idle-timeout", off.flows.IdleTimeout, "flow idle timeout")
	fs.BoolVar(&off.flows.Biflow, "biflow", off.flows.Biflow, "bidirectional flows (RFC 5103)")
	d := &o.daemon
	fs.StringVar(&d.listen, "listen", "127.0.0.1:8081", "daemon mode: XML-RPC device API `address`")
	fs.StringVar(&d.jobs.DataDir, "data", d.jobs.DataDir, "daemon mode: `folder` for jobs and results")
	fs.StringVar(&d.jobs.PcapDir, "pcap-dir", d.jobs.PcapDir, "daemon mode: `folder` of pcap files offered as file: interfaces")
	fs.StringVar(&d.tokenFile, "token-file", "", "daemon mode: `file` holding the bearer token (or GIMS_DEVICE_TOKEN)")
	fs.StringVar(&d.register, "register", "", "daemon mode: announce this device to the aggregate manager at `URL`")
	fs.StringVar(&d.activation, "activation", "", "daemon mode: activation `code` for -register, made by the AM's admin (or "+activationEnv+")")
	fs.Func("collectors", "daemon mode: comma-separated `networks` (CIDR or address) jobs may export flows to; \"\" for none (default \""+
		prefixFlag(d.jobs.Collectors)+"\")", func(v string) error {
		ps, err := parsePrefixes(v)
		d.jobs.Collectors = ps
		return err
	})
	fs.Func("min-free", "daemon mode: when the free space of the -data folder's file system falls under this `size` "+
		"(bytes, or with a unit: 512MiB, 1GiB, 10GB), every running job stops itself and new jobs are refused; 0 disables (default "+
		formatSize(d.jobs.MinFree)+")", func(v string) error {
		n, err := parseSize(v)
		d.jobs.MinFree = n
		return err
	})
	fs.DurationVar(&d.jobs.Lease, "lease", d.jobs.Lease, "daemon mode: a running job that no call from the aggregate manager names for this `duration` pauses itself (0: never)")
	fs.Func("policy", "daemon mode: the device owner's own limit on jobs, a JSON `file` (SPEC §9; absent fields impose nothing)", func(v string) error {
		p, err := loadPolicy(v)
		d.jobs.Policy = p
		return err
	})
	fs.IntVar(&d.simulate, "simulate", 0, "daemon mode: run `N` simulated capture devices on ports -listen … -listen+N-1, "+
		"each with the full device API and one interface, sim0, of synthetic traffic (SPEC §11)")
	fs.IntVar(&d.simulatePPS, "simulate-pps", simulateDefaultPPS, "with -simulate: packets per second of each job's synthetic traffic")
	d.http.RegisterFlags(fs)
	d.jobs.Filters.RegisterFlags(fs)
	d.jobs.Capture.RegisterFlags(fs)
	fs.StringVar(&d.registerCA, "register-ca", "", "daemon mode: verify the aggregate manager of an https -register URL against this PEM CA `file`")
	d.tls.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return o, errHelp
		}
		return o, usageError{err}
	}
	if fs.NArg() > 0 {
		return o, usagef("unexpected argument %q", fs.Arg(0))
	}
	// An invalid value is reported under the flag the user typed.
	if err := off.counters.Validate(); err != nil {
		return o, usageError{check.Flags(err, map[string]string{"Interval": "counter-interval"})}
	}
	if err := off.flows.Validate(); err != nil {
		return o, usageError{check.Flags(err, map[string]string{"ActiveTimeout": "active-timeout", "IdleTimeout": "idle-timeout"})}
	}
	if off.input == "" {
		if err := d.jobs.Validate(); err != nil {
			return o, usageError{check.Flags(err, map[string]string{"DataDir": "data", "PcapDir": "pcap-dir",
				"Filters.MaxBytes": "filter-max-bytes", "Filters.MaxTerms": "filter-max-terms",
				"Filters.Timeout": "filter-timeout", "Filters.MaxMemoryBytes": "filter-max-memory", "Collectors": "collectors",
				"MinFree": "min-free", "Lease": "lease"})}
		}
		if err := d.http.Validate(); err != nil {
			return o, usageError{check.Flags(err, httpserver.Flags())}
		}
		if err := d.tls.ValidateFlags(d.listen); err != nil {
			return o, usageError{err}
		}
		switch {
		case d.simulate < 0 || d.simulate > maxSimulate:
			return o, usagef("-simulate %d: want 0 (a real device) to %d simulated devices", d.simulate, maxSimulate)
		case d.simulate > 0 && d.register != "":
			return o, usagef("-simulate and -register do not go together: add simulated devices with AddDevice")
		case d.simulatePPS < 1 || d.simulatePPS > 1_000_000:
			return o, usagef("-simulate-pps %d: want 1 to 1000000 packets per second", d.simulatePPS)
		}
	}
	d.jobs.MapFiles = off.mmap
	return o, nil
}

// parsePrefixes reads -collectors: networks in CIDR notation or single
// addresses, separated by commas.
func parsePrefixes(v string) ([]netip.Prefix, error) {
	var ps []netip.Prefix
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if a, err := netip.ParseAddr(f); err == nil {
			ps = append(ps, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a network (CIDR) nor an address", f)
		}
		ps = append(ps, p.Masked())
	}
	return ps, nil
}

// prefixFlag writes networks as -collectors takes them.
func prefixFlag(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// sizeUnits are the units -min-free takes, case aside: binary (KiB) and
// decimal (kB) multiples of a byte, the longest suffixes before "B".
var sizeUnits = []struct {
	name string
	mult int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3},
	{"B", 1},
}

// parseSize reads a size in bytes: a number, optionally with a unit of
// sizeUnits ("512MiB", "1.5 GiB", "10GB"). A negative number is returned
// as is, for the configuration's validation to refuse by name.
func parseSize(v string) (int64, error) {
	v = strings.TrimSpace(v)
	num, mult := v, int64(1)
	for _, u := range sizeUnits {
		if len(v) > len(u.name) && strings.EqualFold(v[len(v)-len(u.name):], u.name) {
			num, mult = strings.TrimSpace(v[:len(v)-len(u.name)]), u.mult
			break
		}
	}
	if n, err := strconv.ParseInt(num, 10, 64); err == nil {
		if n > math.MaxInt64/mult || n < math.MinInt64/mult {
			return 0, fmt.Errorf("%q is too large", v)
		}
		return n * mult, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%q is not a size (bytes, or a number with a unit like 512MiB, 1GiB, 10GB)", v)
	}
	b := f * float64(mult)
	if b >= math.MaxInt64 || b <= math.MinInt64 {
		return 0, fmt.Errorf("%q is too large", v)
	}
	return int64(math.Round(b)), nil
}

// formatSize writes a size as parseSize reads it, in the largest binary
// unit that divides it ("1GiB"), else in bytes.
func formatSize(n int64) string {
	for _, u := range sizeUnits[:4] {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}
