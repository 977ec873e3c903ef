package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/google/gopacket/pcapgo"

	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/capture/meter"
	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/cryptopan"
	"github.com/gimsproject/gims/transform/flow"
	"github.com/gimsproject/gims/transform/ipfix"
)

// runOffline is the offline flow meter: it runs one file through the same
// meter a live job uses, writes the requested outputs and prints a summary.
func runOffline(ctx context.Context, o offlineOptions, stderr io.Writer) error {
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

	out := &outputs{}
	defer out.abort()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := out.open(ctx, o, src, logger); err != nil {
		return err
	}
	m, err := meter.New(cfg, src.LinkType(), out.sinks())
	if err != nil {
		return usageError{err}
	}

	start := time.Now()
	runErr := m.Run(ctx, src)
	// Whatever stopped the run, what was read is flushed and written.
	flushErr := m.Flush()
	closeErr := out.close()
	elapsed := time.Since(start)

	st := m.Stats()
	fmt.Fprintf(stderr, "gims-capd: %d packets, %d bytes, %d flows, %d counter intervals in %s (%.0f packets/s)",
		st.Packets, st.Bytes, st.FlowsExported, st.CounterIntervals, elapsed.Round(time.Millisecond),
		float64(st.Packets)/max(elapsed.Seconds(), 1e-9))
	if st.Malformed+st.Truncated+st.NonIP > 0 {
		fmt.Fprintf(stderr, "; %d malformed, %d truncated, %d non-IP", st.Malformed, st.Truncated, st.NonIP)
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
	// parseFlags validated both configurations.
	if o.countersOut != "" {
		cfg.Counters = &o.counters
	}
	if o.ipfixOut != "" || o.collector != "" {
		cfg.Flows = &o.flows
	}
	return cfg, nil
}

// outputs are the files and exporters of one offline run.
type outputs struct {
	files     []*os.File
	bufs      []*bufio.Writer
	pcap      *pcapgo.Writer
	csv       *bufio.Writer
	csvLine   []byte
	exporters []*ipfix.Exporter
	names     []string // where each exporter sends, for error messages
	errs      []error
}

func (out *outputs) create(path string) (*bufio.Writer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("unable to create output: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	out.files = append(out.files, f)
	out.bufs = append(out.bufs, w)
	return w, nil
}

func (out *outputs) open(ctx context.Context, o offlineOptions, src *capture.Source, logger *slog.Logger) error {
	if o.pcapOut != "" {
		w, err := out.create(o.pcapOut)
		if err != nil {
			return err
		}
		if out.pcap, err = capture.NewPcapWriter(w, src.Snaplen(), src.LinkType()); err != nil {
			return fmt.Errorf("%s: %w", o.pcapOut, err)
		}
	}
	if o.countersOut != "" {
		w, err := out.create(o.countersOut)
		if err != nil {
			return err
		}
		if err := counters.WriteCSVHeader(w); err != nil {
			return fmt.Errorf("write %s: %w", o.countersOut, err)
		}
		out.csv = w
	}
	xcfg := ipfix.DefaultConfiguration()
	xcfg.Biflow = o.flows.Biflow
	if o.ipfixOut != "" {
		w, err := out.create(o.ipfixOut)
		if err != nil {
			return err
		}
		if err := out.addExporter(o.ipfixOut, xcfg, ipfix.NewFileTransport(w)); err != nil {
			return err
		}
	}
	if o.collector != "" {
		t, err := ipfix.Dial(ctx, o.collector, logger)
		if err != nil {
			return usagef("-collector: %v", err)
		}
		if err := out.addExporter(o.collector, xcfg, t); err != nil {
			return err
		}
	}
	return nil
}

func (out *outputs) addExporter(name string, cfg ipfix.Configuration, t ipfix.Transport) error {
	e, err := ipfix.New(cfg, t)
	if err != nil {
		t.Close()
		return fmt.Errorf("ipfix exporter: %w", err)
	}
	out.exporters = append(out.exporters, e)
	out.names = append(out.names, name)
	return nil
}

func (out *outputs) sinks() meter.Sinks {
	var s meter.Sinks
	if out.pcap != nil {
		s.Packets = out.pcap
	}
	if out.csv != nil {
		s.Counters = func(r counters.Record) {
			out.csvLine = counters.AppendCSV(out.csvLine[:0], r)
			if _, err := out.csv.Write(out.csvLine); err != nil && len(out.errs) == 0 {
				out.errs = append(out.errs, fmt.Errorf("write counters: %w", err))
			}
		}
	}
	if len(out.exporters) > 0 {
		s.Flows = func(r *flow.Record) {
			for _, e := range out.exporters {
				if err := e.Add(r); err != nil && len(out.errs) == 0 {
					out.errs = append(out.errs, fmt.Errorf("export flow: %w", err))
				}
			}
		}
	}
	return s
}

// close flushes and closes every output, returning every error met.
func (out *outputs) close() error {
	errs := out.errs
	for i, e := range out.exporters {
		err := e.Close()
		if st := e.Stats(); st.RecordsLost > 0 {
			err = fmt.Errorf("%d of %d flow records could not be sent to %s: %w",
				st.RecordsLost, st.RecordsLost+st.RecordsSent, out.names[i], err)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("ipfix: %w", err))
		}
	}
	for i, w := range out.bufs {
		if err := w.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("write %s: %w", out.files[i].Name(), err))
		}
		if err := out.files[i].Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", out.files[i].Name(), err))
		}
	}
	out.exporters, out.names, out.bufs, out.files = nil, nil, nil, nil
	return errors.Join(errs...)
}

// abort closes what is still open after an early error.
func (out *outputs) abort() { _ = out.close() }
