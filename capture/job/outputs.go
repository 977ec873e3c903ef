package job

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
	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/flow"
	"github.com/gimsproject/gims/transform/ipfix"
)

// outputs are the result files (and collector) of one run of a job. They
// are written by the goroutine that feeds the meter only.
type outputs struct {
	csv     *os.File
	csvLine []byte

	pcapF   *os.File
	pcapBuf *bufio.Writer
	pcapW   *pcapgo.Writer

	ipfixF    *os.File
	ipfixBuf  *bufio.Writer
	fileExp   *ipfix.Exporter
	collector *ipfix.Exporter

	top    *topFlows
	report func(error)
	// failed is the first error writing a result file (a full disk): the
	// run ends on it, since the results can no longer be complete.
	failed error
	// dir is where the result files are, for repair after a failure.
	dir string
	// closed is set by close. The exporters stay in place after it so
	// that their Stats can still be read (from other goroutines).
	closed bool
}

// outputConfig says what to open and how.
type outputConfig struct {
	dir      string
	spec     *Spec
	linkType layers.LinkType
	snaplen  int
	// appendTo keeps existing files (a resumed live job) instead of
	// starting them afresh.
	appendTo bool
	// domain is the IPFIX observation domain of the job.
	domain uint32
	logger *slog.Logger
}

// resultFile is a result file as the writers see it: the first write
// error (like ENOSPC) is recorded in outputs.failed.
type resultFile struct {
	f *os.File
	o *outputs
}

func (r resultFile) Write(p []byte) (int, error) {
	n, err := r.f.Write(p)
	if err != nil {
		r.o.fail(fmt.Errorf("unable to write %s: %w", filepath.Base(r.f.Name()), err))
	}
	return n, err
}

// fail records the first write error on a result file and reports it.
func (o *outputs) fail(err error) {
	if o.failed == nil {
		o.failed = err
		o.report(err)
	}
}

// openFile opens one result file, repaired for appending or truncated.
// It returns the file positioned at its end and its length.
func openFile(path string, appendTo bool, repair func(*os.File) (int64, error)) (*os.File, int64, error) {
	if !appendTo {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
		if err != nil {
			return nil, 0, fmt.Errorf("unable to create result file: %w", err)
		}
		return f, 0, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o640)
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
	return f, size, nil
}

// open creates or reopens the files the spec asks for and dials the
// collector. On error, what was opened is closed again.
func (o *outputs) open(ctx context.Context, c outputConfig) (err error) {
	defer func() {
		if err != nil {
			_ = o.close()
		}
	}()
	s := c.spec
	o.dir = c.dir
	if s.Counters != nil {
		f, size, err := openFile(filepath.Join(c.dir, countersFile), c.appendTo, repairCSV)
		if err != nil {
			return err
		}
		o.csv = f
		if size == 0 {
			if err := counters.WriteCSVHeader(resultFile{f, o}); err != nil {
				return err
			}
		}
	}
	if s.Pcap {
		f, size, err := openFile(filepath.Join(c.dir, pcapFile), c.appendTo, repairPcap)
		if err != nil {
			return err
		}
		o.pcapF = f
		o.pcapBuf = bufio.NewWriterSize(resultFile{f, o}, 1<<20)
		if size == 0 {
			if o.pcapW, err = capture.NewPcapWriter(o.pcapBuf, c.snaplen, c.linkType); err != nil {
				return err
			}
		} else {
			o.pcapW = pcapgo.NewWriterNanos(o.pcapBuf)
		}
	}
	if s.Flows != nil {
		xcfg := ipfix.DefaultConfiguration()
		xcfg.Biflow = s.Flows.Biflow
		xcfg.ObservationDomainID = c.domain
		f, _, err := openFile(filepath.Join(c.dir, flowsFile), c.appendTo, repairIPFIX)
		if err != nil {
			return err
		}
		o.ipfixF = f
		o.ipfixBuf = bufio.NewWriterSize(resultFile{f, o}, 1<<16)
		if o.fileExp, err = ipfix.New(xcfg, ipfix.NewFileTransport(o.ipfixBuf)); err != nil {
			return fmt.Errorf("unable to create ipfix exporter: %w", err)
		}
		if s.Flows.Collector != "" {
			t, err := ipfix.Dial(ctx, s.Flows.Collector, c.logger)
			if err != nil {
				return fmt.Errorf("%w: flows collector: %w", ErrInvalid, err)
			}
			if o.collector, err = ipfix.New(xcfg, t); err != nil {
				t.Close()
				return fmt.Errorf("unable to create ipfix exporter: %w", err)
			}
		}
	}
	return nil
}

// sinks connects the meter to the outputs the spec asks for. It may be
// called before open: the sinks are only called once the meter runs.
func (o *outputs) sinks(s *Spec) meter.Sinks {
	var sinks meter.Sinks
	if s.Pcap {
		sinks.Packets = o
	}
	if s.Counters != nil {
		sinks.Counters = o.writeCounters
	}
	if s.Flows != nil {
		sinks.Flows = o.writeFlow
	}
	return sinks
}

// WritePacket implements meter.PacketWriter.
func (o *outputs) WritePacket(ci gopacket.CaptureInfo, data []byte) error {
	return o.pcapW.WritePacket(ci, data)
}

// writeCounters writes one interval straight to the file: one row per
// interval is little, and a row is on disk as soon as its interval ends.
func (o *outputs) writeCounters(r counters.Record) {
	o.csvLine = counters.AppendCSV(o.csvLine[:0], r)
	if o.failed != nil {
		return // the run ends: no torn row after the failed one
	}
	// resultFile records (and reports) the error.
	_, _ = resultFile{o.csv, o}.Write(o.csvLine)
}

func (o *outputs) writeFlow(r *flow.Record) {
	o.top.add(flowRow(r))
	if err := o.fileExp.Add(r); err != nil {
		o.report(fmt.Errorf("unable to write flows: %w", err))
	}
	if o.collector != nil {
		// Transport losses are counted by the exporter, not errors here.
		_ = o.collector.Add(r)
	}
}

// flush pushes buffered results to the files and to the collector.
func (o *outputs) flush() {
	if o.fileExp != nil {
		if err := o.fileExp.Flush(); err != nil {
			o.report(fmt.Errorf("unable to write flows: %w", err))
		}
		if err := o.ipfixBuf.Flush(); err != nil {
			o.report(fmt.Errorf("unable to write flows: %w", err))
		}
	}
	if o.collector != nil {
		_ = o.collector.Flush() // losses are counted by the exporter
	}
	if o.pcapBuf != nil {
		if err := o.pcapBuf.Flush(); err != nil {
			o.report(fmt.Errorf("unable to write packets: %w", err))
		}
	}
}

// collectorLost is the number of flow records the collector did not get.
func (o *outputs) collectorLost() uint64 {
	if o.collector == nil {
		return 0
	}
	return o.collector.Stats().RecordsLost
}

// close flushes and closes everything, returning every error met. Only
// the first call does anything.
func (o *outputs) close() error {
	if o.closed {
		return nil
	}
	o.closed = true
	var errs []error
	if o.fileExp != nil {
		// Closing the file transport flushes ipfixBuf.
		if err := o.fileExp.Close(); err != nil {
			errs = append(errs, fmt.Errorf("unable to write flows: %w", err))
		}
	}
	if o.collector != nil {
		// A last message the collector did not take is counted in the
		// exporter's Stats, which the job reports.
		_ = o.collector.Close()
	}
	if o.pcapBuf != nil {
		if err := o.pcapBuf.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("unable to write packets: %w", err))
		}
	}
	for _, f := range []*os.File{o.csv, o.pcapF, o.ipfixF} {
		if f == nil {
			continue
		}
		if err := f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("unable to close result file: %w", err))
		}
	}
	return errors.Join(errs...)
}

// repair cuts each result file after its last complete record, after a
// failed write left a partial one (the disk filled up in the middle of a
// buffer): readers then see every whole packet, row and message written.
func (o *outputs) repair() error {
	var errs []error
	for name, fix := range map[string]func(*os.File) (int64, error){
		countersFile: repairCSV, pcapFile: repairPcap, flowsFile: repairIPFIX,
	} {
		f, err := os.OpenFile(filepath.Join(o.dir, name), os.O_RDWR, 0)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err == nil {
			_, err = fix(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("unable to repair %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}
