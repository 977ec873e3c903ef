// Package output writes what a meter run produces (capture/meter's Sinks)
// to its outputs: the pcap file of the (anonymized) packets, the counters
// CSV file, the IPFIX file of the flows and an IPFIX collector. Capture
// jobs and the offline flow meter set their outputs up here alike; a job
// also appends to the files of an earlier run, cut back to their last
// complete record, and repairs them after a failed write.
package output

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

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
	// RotateBytes and RotateEvery split the pcap file and the IPFIX file
	// into parts (parts.go): a part is closed, complete, and the next one
	// opened when it holds RotateBytes bytes or more (checked before each
	// packet or flow record is written, so a part passes the bound by at
	// most one record, or one IPFIX message) or when RotateEvery passed
	// since its first record, by the times given to Advance. A part
	// without a record is never closed for its time: an idle capture
	// makes no empty parts. 0 leaves that bound out; both 0, the files are
	// not rotated and keep their own names.
	//
	// With rotation, Open on fresh files removes the parts an earlier run
	// left, and Open appending cuts the last part of an earlier run back
	// to its last complete record (removing it when nothing is left) and
	// begins a new part after it.
	RotateBytes int64
	RotateEvery time.Duration
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
	if err := check.First(perm, check.NotNegative("Snaplen", c.Snaplen),
		check.NotNegative("RotateBytes", c.RotateBytes), check.NotNegative("RotateEvery", c.RotateEvery)); err != nil {
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

	pcap  series
	pcapW *capture.PcapWriter
	// direct is the pcap buffer the meter appends records to itself
	// (Sinks.Records), kept current by syncDirect.
	direct meter.RecordBuffer

	ipfix     series
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
		s.Records = &w.direct
	}
	if w.cfg.Counters != "" {
		s.Counters = w.writeCounters
	}
	if w.flows() {
		s.Flows = w.writeFlow
	}
	return s
}

// series is the pcap file or the IPFIX file: one file, or its parts
// when rotating.
type series struct {
	// path is the file's configured path (the parts are named after it).
	path string
	f    *os.File
	buf  *capture.OutputBuffer
	// n is the number of the current part; 0 without rotation.
	n int
	// size is the length of the current part's file (what the buffer
	// holds not included).
	size int64
	// start is when the current part's time began: the time of the last
	// Advance before its first record.
	start time.Time
	// records tells that the current part holds a record.
	records bool
	// between tells that the current part is closed and the next one not
	// open yet: the next record opens it.
	between bool
}

// partSize is the length the current part has once its buffer is written.
func (s *series) partSize() int64 { return s.size + int64(s.buf.Buffered()) }

// open is the file of the current part, nil if none is open.
func (s *series) open() *os.File {
	if s.between {
		return nil
	}
	return s.f
}

// current is the path of the file being written.
func (s *series) current() string {
	if s.n > 0 {
		return PartPath(s.path, s.n)
	}
	return s.path
}

// resultFile is a result file as the writers see it: the first write
// error (like ENOSPC) is recorded in Writer.failed. part, when not nil,
// counts the bytes written to the file too.
type resultFile struct {
	f    *os.File
	w    *Writer
	part *int64
}

func (r resultFile) Write(p []byte) (int, error) {
	n, err := r.f.Write(p)
	r.w.size += int64(n)
	if r.part != nil {
		*r.part += int64(n)
	}
	if err != nil {
		r.w.fail(fmt.Errorf("unable to write %s: %w", filepath.Base(r.f.Name()), err))
	}
	return n, err
}

// fail records the first write error on a result file and reports it.
func (w *Writer) fail(err error) {
	if w.failed == nil {
		w.failed = err
		w.syncDirect()
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
	if w.pcap.buf != nil {
		n += int64(w.pcap.buf.Buffered())
	}
	if w.ipfix.buf != nil {
		n += int64(w.ipfix.buf.Buffered())
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
			if err := counters.WriteCSVHeader(resultFile{f, w, nil}); err != nil {
				return err
			}
		}
	}
	if path := w.cfg.Pcap; path != "" {
		size, err := w.openSeries(&w.pcap, path, repairPcap, 1<<20)
		if err != nil {
			return err
		}
		if size == 0 {
			if w.pcapW, err = capture.NewPcapWriter(w.pcap.buf, w.cfg.Snaplen, w.cfg.LinkType); err != nil {
				return fmt.Errorf("%s: %w", w.pcap.current(), err)
			}
		} else {
			w.pcapW = capture.NewPcapRecordWriter(w.pcap.buf)
		}
	}
	if path := w.cfg.Flows; path != "" {
		if _, err := w.openSeries(&w.ipfix, path, repairIPFIX, 1<<16); err != nil {
			return err
		}
		if w.fileExp, err = ipfix.New(w.cfg.IPFIX, ipfix.NewFileTransport(w.ipfix.buf)); err != nil {
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
	p.next()
	err := p.w.pcapW.WritePacket(ci, data)
	p.w.syncDirect()
	return err
}

// WriteRecord is WritePacket of data with the capture length len(data)
// (meter.RecordWriter).
func (p packetSink) WriteRecord(ts time.Time, length int, data []byte) error {
	if w := p.w; w.cfg.RotateBytes > 0 || w.pcap.between || !w.pcap.records {
		p.next()
	}
	err := p.w.pcapW.WriteRecord(ts, length, data)
	p.w.syncDirect()
	return err
}

// syncDirect points the meter's direct path (Sinks.Records) at the pcap
// buffer when the next record may go there without the sink: the current
// part is open and holds a record, parts are not cut by size (the sink
// checks the size before every record), and no write failed. Otherwise
// it turns the path off, and the next packet goes through the sink,
// which opens, closes or fails as it does for every record, and calls
// syncDirect again. Every change of those conditions calls it: the
// sink's writes, the end of a part, Flush, Close and a failure.
func (w *Writer) syncDirect() {
	w.direct.Buf = nil
	if w.failed != nil || w.closed || w.cfg.RotateBytes > 0 || w.pcapW == nil ||
		w.pcap.between || !w.pcap.records || w.pcap.buf == nil {
		return
	}
	if buf, n, ok := w.pcap.buf.Direct(); ok {
		w.direct.Buf, w.direct.N = buf, n
	}
}

// next makes the pcap part ready for one more record: a new part when
// the current one is full or closed.
func (p packetSink) next() {
	w := p.w
	if w.cfg.RotateBytes > 0 && w.pcap.records && !w.pcap.between && w.pcap.partSize() >= w.cfg.RotateBytes {
		w.endPcap()
	}
	if w.pcap.between {
		w.openPcap()
	}
	w.pcap.records = true
}

// writeCounters writes one interval straight to the file: one row per
// interval is little, and a row is on disk as soon as its interval ends.
func (w *Writer) writeCounters(r counters.Record) {
	w.csvLine = counters.AppendCSV(w.csvLine[:0], r)
	if w.failed != nil {
		return // no torn row after the failed one
	}
	// resultFile records (and reports) the error.
	_, _ = resultFile{w.csv, w, nil}.Write(w.csvLine)
}

func (w *Writer) writeFlow(r *flow.Record) {
	if w.deps.Top != nil {
		w.deps.Top.Add(ipfix.FlowRowOf(r))
	}
	if w.fileExp != nil {
		if w.cfg.RotateBytes > 0 && w.ipfix.records && !w.ipfix.between && w.ipfix.partSize() >= w.cfg.RotateBytes {
			w.endFlows()
		}
		if w.ipfix.between {
			w.openFlows()
		}
		w.ipfix.records = true
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
	if w.fileExp != nil && !w.ipfix.between {
		if err := w.fileExp.Flush(); err != nil {
			w.deps.Report(fmt.Errorf("unable to write flows: %w", err))
		}
		if err := w.ipfix.buf.Flush(); err != nil {
			w.deps.Report(fmt.Errorf("unable to write flows: %w", err))
		}
	}
	if w.collector != nil {
		_ = w.collector.Flush() // losses are counted by the exporter
	}
	if w.pcap.buf != nil {
		if err := w.pcap.buf.Flush(); err != nil {
			w.deps.Report(fmt.Errorf("unable to write packets: %w", err))
		}
		w.syncDirect()
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
	w.syncDirect()
	var errs []error
	if w.fileExp != nil && !w.ipfix.between {
		// Closing the file transport flushes the IPFIX buffer.
		if err := w.fileExp.Close(); err != nil {
			errs = append(errs, fmt.Errorf("unable to write flows: %w", err))
		}
	}
	if w.collector != nil {
		w.collectorErr = w.collector.Close()
	}
	if w.pcap.buf != nil {
		if err := w.pcap.buf.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("unable to write packets: %w", err))
		}
	}
	for _, f := range []*os.File{w.csv, w.pcap.open(), w.ipfix.open()} {
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
// With rotation it repairs the current parts (no part is closed after a
// failed write, so the earlier ones are whole). Call it after Close.
func (w *Writer) Repair() error {
	var errs []error
	for _, r := range []struct {
		path string
		fix  func(*os.File) (int64, error)
	}{{w.cfg.Counters, repairCSV}, {w.pcap.current(), repairPcap}, {w.ipfix.current(), repairIPFIX}} {
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
