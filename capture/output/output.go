// Package output writes what a meter run produces (capture/meter's Sinks)
// to its outputs: the pcap file of the (anonymized) packets, the counters
// CSV file, the IPFIX file of the flows and an IPFIX collector. Capture
// jobs and the offline flow meter set their outputs up here alike; a job
// also appends to the files of an earlier run, cut back to their last
// complete record, and repairs them after a failed write.
package output

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/capture/meter"
	"github.com/gimsproject/gims/internal/check"
	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/flow"
	"github.com/gimsproject/gims/transform/ipfix"
)

// Configuration says which outputs to open and how. Start from
// DefaultConfiguration: New refuses invalid values (see Validate).
type Configuration struct {
	// Pcap, Counters and Flows are the paths of the pcap file, the
	// counters CSV file and the IPFIX file; an empty path leaves that
	// output out.
	Pcap, Counters, Flows string
	// Collector is an IPFIX collector, "udp://host:port" or
	// "tcp://host:port", fed with the flows as well; empty for none.
	Collector string
	// IPFIX configures the flow exporters of the file and the collector
	// (biflow records, observation domain). Default
	// ipfix.DefaultConfiguration(); it must be valid.
	IPFIX ipfix.Configuration
	// Append keeps the files of an earlier run, cut back to their last
	// complete record, and writes after it; otherwise the files are
	// created empty.
	Append bool
	// Perm is the permission of created files (before the umask).
	// Default 0640; permission bits only, and the owner must be able to
	// read and write (a job reopens its files to append to them).
	Perm os.FileMode
	// LinkType and Snaplen go into the header of a new pcap file; a
	// Snaplen of 0 is capture.DefaultSnaplen (capture.NewPcapWriter).
	LinkType layers.LinkType
	Snaplen  int
}

// DefaultConfiguration returns a configuration with no output.
func DefaultConfiguration() Configuration {
	return Configuration{IPFIX: ipfix.DefaultConfiguration(), Perm: 0o640}
}

// Validate names the field that is wrong, the rule and the value given.
func (c Configuration) Validate() error {
	var perm error
	if c.Perm&^os.ModePerm != 0 || c.Perm&0o600 != 0o600 {
		perm = &check.FieldError{Field: "Perm",
			Rule: "permission bits that let the owner read and write (like 0640)", Value: c.Perm}
	}
	if err := check.First(perm, check.NotNegative("Snaplen", c.Snaplen)); err != nil {
		return err
	}
	if err := c.IPFIX.Validate(); err != nil {
		return fmt.Errorf("IPFIX: %w", err)
	}
	return nil
}

// Dependencies are what a Writer reports to and feeds besides its outputs.
type Dependencies struct {
	// Logger receives the collector transport's reports. Default:
	// discard.
	Logger *slog.Logger
	// Report receives every error met while writing (the first failed
	// write of a result file, a failed flush); the run goes on. Default:
	// ignore.
	Report func(error)
	// Top, when not nil, also keeps the largest flows.
	Top *ipfix.TopFlows
}

// CollectorError is an IPFIX collector that could not be dialed: its URL
// or its address is wrong, a bad argument more than a failure of the run.
type CollectorError struct{ Err error }

func (e *CollectorError) Error() string { return "flows collector: " + e.Err.Error() }
func (e *CollectorError) Unwrap() error { return e.Err }

// Writer writes a meter run's packets, counters and flows to their
// outputs. New opens nothing; Open creates (or reopens) the files and
// dials the collector; Close flushes and closes them. Its sinks are
// called from the goroutine that feeds the meter, and so are its methods,
// except CollectorStats.
type Writer struct {
	cfg  Configuration
	deps Dependencies

	csv     *os.File
	csvLine []byte

	pcapF   *os.File
	pcapBuf *bufio.Writer
	pcapW   *pcapgo.Writer

	ipfixF    *os.File
	ipfixBuf  *bufio.Writer
	fileExp   *ipfix.Exporter
	collector *ipfix.Exporter
	// collectorErr is what closing the collector returned.
	collectorErr error

	// failed is the first error writing a result file (a full disk).
	failed error
	// size is the length of the result files: what they held when
	// opened (appending) plus every byte written to them since.
	size int64
	// closed is set by Close. The exporters stay in place after it so
	// that their Stats can still be read (from other goroutines).
	closed bool
}

// New returns a Writer of the outputs cfg names, refusing an invalid
// configuration. It does no I/O.
func New(cfg Configuration, deps Dependencies) (*Writer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid output configuration: %w", err)
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Report == nil {
		deps.Report = func(error) {}
	}
	return &Writer{cfg: cfg, deps: deps}, nil
}

// flows tells whether flows go anywhere.
func (w *Writer) flows() bool {
	return w.cfg.Flows != "" || w.cfg.Collector != "" || w.deps.Top != nil
}

// Sinks connects a meter to the outputs. It may be called before Open:
// the sinks are only called once the meter runs.
func (w *Writer) Sinks() meter.Sinks {
	var s meter.Sinks
	if w.cfg.Pcap != "" {
		s.Packets = packetSink{w}
	}
	if w.cfg.Counters != "" {
		s.Counters = w.writeCounters
	}
	if w.flows() {
		s.Flows = w.writeFlow
	}
	return s
}

// resultFile is a result file as the writers see it: the first write
// error (like ENOSPC) is recorded in Writer.failed.
type resultFile struct {
	f *os.File
	w *Writer
}

func (r resultFile) Write(p []byte) (int, error) {
	n, err := r.f.Write(p)
	r.w.size += int64(n)
	if err != nil {
		r.w.fail(fmt.Errorf("unable to write %s: %w", filepath.Base(r.f.Name()), err))
	}
	return n, err
}

// fail records the first write error on a result file and reports it.
func (w *Writer) fail(err error) {
	if w.failed == nil {
		w.failed = err
		w.deps.Report(err)
	}
}

// Failed returns the first error writing a result file (a full disk): the
// results are incomplete from there on, and a capture job ends on it.
func (w *Writer) Failed() error { return w.failed }

// Size is the length the result files have once the buffered packets
// and flows are written: the bytes in the files (those of an earlier run
// included, when appending) and those in the Writer's buffers. The IPFIX
// exporter's message in progress (at most one message) is not counted.
// A capture job compares it with its storage bound before each packet.
func (w *Writer) Size() int64 {
	n := w.size
	if w.pcapBuf != nil {
		n += int64(w.pcapBuf.Buffered())
	}
	if w.ipfixBuf != nil {
		n += int64(w.ipfixBuf.Buffered())
	}
	return n
}

// openFile opens one result file, repaired for appending or truncated.
// It returns the file positioned at its end and its length.
func (w *Writer) openFile(path string, repair func(*os.File) (int64, error)) (*os.File, int64, error) {
	if !w.cfg.Append {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, w.cfg.Perm)
		if err != nil {
			return nil, 0, fmt.Errorf("unable to create output: %w", err)
		}
		return f, 0, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, w.cfg.Perm)
	if err != nil {
		return nil, 0, fmt.Errorf("unable to open result file: %w", err)
	}
	size, err := repair(f)
	if err == nil {
		_, err = f.Seek(size, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("unable to append to %s: %w", path, err)
	}
	w.size += size
	return f, size, nil
}

// Open creates or reopens the files and dials the collector; ctx bounds
// the dialing. A collector that cannot be dialed is a *CollectorError. On
// error, what was opened is closed again.
func (w *Writer) Open(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = w.Close()
		}
	}()
	if path := w.cfg.Counters; path != "" {
		f, size, err := w.openFile(path, repairCSV)
		if err != nil {
			return err
		}
		w.csv = f
		if size == 0 {
			if err := counters.WriteCSVHeader(resultFile{f, w}); err != nil {
				return err
			}
		}
	}
	if path := w.cfg.Pcap; path != "" {
		f, size, err := w.openFile(path, repairPcap)
		if err != nil {
			return err
		}
		w.pcapF = f
		w.pcapBuf = bufio.NewWriterSize(resultFile{f, w}, 1<<20)
		if size == 0 {
			if w.pcapW, err = capture.NewPcapWriter(w.pcapBuf, w.cfg.Snaplen, w.cfg.LinkType); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		} else {
			w.pcapW = pcapgo.NewWriterNanos(w.pcapBuf)
		}
	}
	if path := w.cfg.Flows; path != "" {
		f, _, err := w.openFile(path, repairIPFIX)
		if err != nil {
			return err
		}
		w.ipfixF = f
		w.ipfixBuf = bufio.NewWriterSize(resultFile{f, w}, 1<<16)
		if w.fileExp, err = ipfix.New(w.cfg.IPFIX, ipfix.NewFileTransport(w.ipfixBuf)); err != nil {
			return fmt.Errorf("unable to create ipfix exporter: %w", err)
		}
	}
	if w.cfg.Collector != "" {
		t, err := ipfix.Dial(ctx, w.cfg.Collector, w.deps.Logger)
		if err != nil {
			return &CollectorError{Err: err}
		}
		if w.collector, err = ipfix.New(w.cfg.IPFIX, t); err != nil {
			t.Close()
			return fmt.Errorf("unable to create ipfix exporter: %w", err)
		}
	}
	return nil
}

// packetSink is the meter's PacketWriter: the pcap file.
type packetSink struct{ w *Writer }

func (p packetSink) WritePacket(ci gopacket.CaptureInfo, data []byte) error {
	return p.w.pcapW.WritePacket(ci, data)
}

// writeCounters writes one interval straight to the file: one row per
// interval is little, and a row is on disk as soon as its interval ends.
func (w *Writer) writeCounters(r counters.Record) {
	w.csvLine = counters.AppendCSV(w.csvLine[:0], r)
	if w.failed != nil {
		return // no torn row after the failed one
	}
	// resultFile records (and reports) the error.
	_, _ = resultFile{w.csv, w}.Write(w.csvLine)
}

func (w *Writer) writeFlow(r *flow.Record) {
	if w.deps.Top != nil {
		w.deps.Top.Add(ipfix.FlowRowOf(r))
	}
	if w.fileExp != nil {
		if err := w.fileExp.Add(r); err != nil {
			w.deps.Report(fmt.Errorf("unable to write flows: %w", err))
		}
	}
	if w.collector != nil {
		// Transport losses are counted by the exporter, not errors here.
		_ = w.collector.Add(r)
	}
}

// Flush pushes buffered results to the files and to the collector.
func (w *Writer) Flush() {
	if w.fileExp != nil {
		if err := w.fileExp.Flush(); err != nil {
			w.deps.Report(fmt.Errorf("unable to write flows: %w", err))
		}
		if err := w.ipfixBuf.Flush(); err != nil {
			w.deps.Report(fmt.Errorf("unable to write flows: %w", err))
		}
	}
	if w.collector != nil {
		_ = w.collector.Flush() // losses are counted by the exporter
	}
	if w.pcapBuf != nil {
		if err := w.pcapBuf.Flush(); err != nil {
			w.deps.Report(fmt.Errorf("unable to write packets: %w", err))
		}
	}
}

// CollectorStats returns the counts of the collector's exporter (zero
// without a collector): the flow records it did not get are RecordsLost.
// It is safe to call from any goroutine.
func (w *Writer) CollectorStats() ipfix.Stats {
	if w.collector == nil {
		return ipfix.Stats{}
	}
	return w.collector.Stats()
}

// CollectorErr returns what closing the collector returned (its last
// message may not have been taken). Close does not return it: flows a
// collector does not get are counted (CollectorStats), not a failure of
// the results.
func (w *Writer) CollectorErr() error { return w.collectorErr }

// Close flushes and closes every output, returning every error met with
// the result files. Only the first call does anything.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	var errs []error
	if w.fileExp != nil {
		// Closing the file transport flushes ipfixBuf.
		if err := w.fileExp.Close(); err != nil {
			errs = append(errs, fmt.Errorf("unable to write flows: %w", err))
		}
	}
	if w.collector != nil {
		w.collectorErr = w.collector.Close()
	}
	if w.pcapBuf != nil {
		if err := w.pcapBuf.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("unable to write packets: %w", err))
		}
	}
	for _, f := range []*os.File{w.csv, w.pcapF, w.ipfixF} {
		if f == nil {
			continue
		}
		if err := f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("unable to close result file: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Repair cuts each result file after its last complete record, after a
// failed write left a partial one (the disk filled up in the middle of a
// buffer): readers then see every whole packet, row and message written.
// Call it after Close.
func (w *Writer) Repair() error {
	var errs []error
	for _, r := range []struct {
		path string
		fix  func(*os.File) (int64, error)
	}{{w.cfg.Counters, repairCSV}, {w.cfg.Pcap, repairPcap}, {w.cfg.Flows, repairIPFIX}} {
		if r.path == "" {
			continue
		}
		f, err := os.OpenFile(r.path, os.O_RDWR, 0)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err == nil {
			_, err = r.fix(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("unable to repair %s: %w", filepath.Base(r.path), err))
		}
	}
	return errors.Join(errs...)
}
