package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/capture/meter"
	"github.com/gimsproject/gims/capture/output"
	"github.com/gimsproject/gims/deviceapi"
	"github.com/gimsproject/gims/packet"
	"github.com/gimsproject/gims/transform/cryptopan"
)

// offlineGCPercent is the garbage collector's target in offline mode
// (unless GOGC is set). Each collection scans the package variables,
// megabytes of them in gopacket's layer tables, while what the flow table
// leaves behind as it grows is a few tens of megabytes in all: collecting
// four times less often took 5 % of the instructions off the tiny trace
// with the same peak RSS (bench/RESULTS.md, "Meter on tiny packets").
const offlineGCPercent = 400

// runOffline is the offline flow meter: it runs one file through the same
// meter a live job uses, writes the requested outputs and prints a summary.
func runOffline(ctx context.Context, o offlineOptions, stderr io.Writer) error {
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(offlineGCPercent))
	}
	cfg, err := o.meterConfig()
	if err != nil {
		return err
	}
	src, err := capture.OpenFile(o.input, o.filter)
	if err != nil {
		// A missing or unreadable input and a filter libpcap refuses are
		// both bad arguments: nothing was processed.
		return usageError{err}
	}
	defer src.Close()
	if o.mmap {
		// Through a mapping, without the kernel's copy of every byte; on
		// some hosts, walking the mapping's small pages costs more than
		// the copy (there, mapped runs took up to 2.2 times as long:
		// bench/RESULTS.md, "Issue 14, round 7").
		src.MapFile()
	}

	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var writeErr error // the first error writing the outputs; the run goes on
	out, err := output.New(o.outputConfig(src), output.Dependencies{Logger: logger, Report: func(err error) {
		if writeErr == nil {
			writeErr = err
		}
	}})
	if err != nil {
		return err
	}
	defer func() { _ = out.Close() }() // what is still open after an early error
	if err := out.Open(ctx); err != nil {
		var ce *output.CollectorError
		if errors.As(err, &ce) {
			return usagef("-collector: %v", ce.Err)
		}
		return err
	}
	m, err := meter.New(cfg, src.LinkType(), out.Sinks())
	if err != nil {
		return usageError{err}
	}

	start := time.Now()
	var r meter.Reader = src
	if o.readAhead {
		p, err := meter.NewPrefetcher(ctx, meter.DefaultPrefetchConfiguration(), src)
		if err != nil {
			return err
		}
		defer p.Close() // before src.Close, deferred earlier: p reads src
		r = p
	}
	runErr := m.Run(ctx, r)
	// Whatever stopped the run, what was read is flushed and written.
	flushErr := m.Flush()
	closeErr := out.Close()
	closeErr = errors.Join(writeErr, closeErr, collectorError(out, o.collector))
	elapsed := time.Since(start)

	st := m.Stats()
	fmt.Fprintf(stderr, "gims-capd: %d packets, %d bytes, %d flows, %d counter intervals in %s (%.0f packets/s)",
		st.Packets, st.Bytes, st.FlowsExported, st.CounterIntervals, elapsed.Round(time.Millisecond),
		float64(st.Packets)/max(elapsed.Seconds(), 1e-9))
	if st.Malformed+st.Truncated+st.NonIP > 0 {
		fmt.Fprintf(stderr, "; %d malformed, %d truncated, %d non-IP", st.Malformed, st.Truncated, st.NonIP)
	}
	if cfg.Key != nil && o.pcapOut != "" {
		// Frames of which sanitization left nothing safe are not in the
		// pcap (SPEC §8).
		fmt.Fprintf(stderr, "; %d sanitized_drops", st.SanitizedDrops)
	}
	fmt.Fprintln(stderr)
	return errors.Join(runErr, flushErr, closeErr)
}

// meterConfig turns the flags into the meter's configuration, refusing
// bad values as usage errors.
func (o offlineOptions) meterConfig() (meter.Configuration, error) {
	var cfg meter.Configuration
	switch {
	case o.keyHex != "" && o.secret != "":
		return cfg, usagef("-anonymize-key and -anonymize-secret are exclusive")
	case o.keyHex != "":
		raw, err := hex.DecodeString(o.keyHex)
		if err != nil || len(raw) != 32 {
			return cfg, usagef("-anonymize-key wants 64 hex digits (a 32-byte Crypto-PAn key)")
		}
		cfg.Key = (*[32]byte)(raw)
	case o.secret != "":
		key, err := cryptopan.KeyFromSecret(o.secret)
		if err != nil {
			return cfg, usagef("-anonymize-secret: %v", err)
		}
		cfg.Key = &key
	}
	if cfg.Key == nil {
		if o.payload != "" || o.mac != "" {
			return cfg, usagef("-payload and -mac need -anonymize-key or -anonymize-secret")
		}
	} else {
		payload, mac, err := deviceapi.CheckSanitization(o.payload, o.mac)
		if err != nil {
			return cfg, usagef("-%v", err)
		}
		if cfg.Payload, err = packet.ParsePayloadMode(payload); err != nil {
			return cfg, usagef("-payload: %v", err)
		}
		if cfg.MAC, err = packet.ParseMACMode(mac); err != nil {
			return cfg, usagef("-mac: %v", err)
		}
	}
	// parseFlags validated both configurations.
	if o.countersOut != "" {
		cfg.Counters = &o.counters
	}
	if o.ipfixOut != "" || o.collector != "" {
		cfg.Flows = &o.flows
	}
	return cfg, nil
}

// outputConfig names the outputs the flags ask for, as a job's are set
// up, in files created like os.Create's.
func (o offlineOptions) outputConfig(src *capture.Source) output.Configuration {
	cfg := output.DefaultConfiguration()
	cfg.Pcap, cfg.Counters, cfg.Flows, cfg.Collector = o.pcapOut, o.countersOut, o.ipfixOut, o.collector
	cfg.IPFIX.Biflow = o.flows.Biflow
	cfg.Perm = 0o666
	cfg.LinkType, cfg.Snaplen = src.LinkType(), src.Snaplen()
	return cfg
}

// collectorError is what the collector did not get, as an error of the
// run: flows were meant for it.
func collectorError(out *output.Writer, url string) error {
	err := out.CollectorErr()
	if st := out.CollectorStats(); st.RecordsLost > 0 {
		err = fmt.Errorf("%d of %d flow records could not be sent to %s: %w",
			st.RecordsLost, st.RecordsLost+st.RecordsSent, url, err)
	}
	if err != nil {
		return fmt.Errorf("ipfix: %w", err)
	}
	return nil
}
