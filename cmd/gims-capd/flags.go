package main

import (
	"errors"
	"flag"
	"io"
	"time"
)

var errHelp = errors.New("help requested")

// options are the command-line settings of both modes.
type options struct {
	offline offlineOptions
	daemon  daemonOptions
}

// offlineOptions are the flags of the offline flow meter (SPEC §7).
type offlineOptions struct {
	input           string
	filter          string
	keyHex, secret  string
	pcapOut         string
	ipfixOut        string
	collector       string
	countersOut     string
	counterInterval time.Duration
	activeTimeout   time.Duration
	idleTimeout     time.Duration
	biflow          bool
}

// daemonOptions are the flags of the capture daemon (SPEC §1).
type daemonOptions struct {
	listen    string
	dataDir   string
	pcapDir   string
	tokenFile string
	register  string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("gims-capd", flag.ContinueOnError)
	// Errors are reported by run as one line; -h prints the flags.
	fs.SetOutput(io.Discard)
	off := &o.offline
	fs.StringVar(&off.input, "r", "", "offline mode: read this pcap/pcapng `file` (- for stdin), process it and exit")
	fs.StringVar(&off.filter, "filter", "", "BPF `expression` applied to the packets")
	fs.StringVar(&off.keyHex, "anonymize-key", "", "Crypto-PAn key as 64 hex digits")
	fs.StringVar(&off.secret, "anonymize-secret", "", "Crypto-PAn passphrase (turned into the key with argon2id)")
	fs.StringVar(&off.pcapOut, "w", "", "write the (anonymized) packets to this pcap `file`")
	fs.StringVar(&off.ipfixOut, "ipfix", "", "write flows to this RFC 5655 IPFIX `file`")
	fs.StringVar(&off.collector, "collector", "", "export flows to an IPFIX collector (udp://host:port or tcp://host:port)")
	fs.StringVar(&off.countersOut, "counters", "", "write interval counters to this CSV `file`")
	fs.DurationVar(&off.counterInterval, "counter-interval", time.Second, "counter interval")
	fs.DurationVar(&off.activeTimeout, "active-timeout", 1800*time.Second, "flow active timeout")
	fs.DurationVar(&off.idleTimeout, "idle-timeout", 300*time.Second, "flow idle timeout")
	fs.BoolVar(&off.biflow, "biflow", true, "bidirectional flows (RFC 5103)")
	d := &o.daemon
	fs.StringVar(&d.listen, "listen", "127.0.0.1:8081", "daemon mode: XML-RPC device API `address`")
	fs.StringVar(&d.dataDir, "data", "gims-capd-data", "daemon mode: `folder` for jobs and results")
	fs.StringVar(&d.pcapDir, "pcap-dir", "", "daemon mode: `folder` of pcap files offered as file: interfaces")
	fs.StringVar(&d.tokenFile, "token-file", "", "daemon mode: `file` holding the bearer token (or GIMS_DEVICE_TOKEN)")
	fs.StringVar(&d.register, "register", "", "daemon mode: announce this device to the aggregate manager at `URL`")
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
	return o, nil
}
