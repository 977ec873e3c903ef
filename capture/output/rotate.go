package output

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/transform/ipfix"
)

// rotating tells whether the pcap and IPFIX files are split into parts.
func (w *Writer) rotating() bool { return w.cfg.RotateBytes > 0 || w.cfg.RotateEvery > 0 }

// openSeries opens the pcap or IPFIX file at path into s, with a buffer of
// bufSize: the file itself (appended to or truncated, as openFile does)
// or, when rotating, its next part. It returns the length the file being
// written already has (0 for a new part, which needs its file header).
func (w *Writer) openSeries(s *series, path string, repair func(*os.File) (int64, error), bufSize int) (int64, error) {
	s.path = path
	if !w.rotating() {
		f, size, err := w.openFile(path, repair)
		if err != nil {
			return 0, err
		}
		s.f, s.size = f, size
		s.buf = capture.NewOutputBuffer(resultFile{f, w, &s.size}, bufSize)
		return size, nil
	}
	parts, err := Parts(path)
	if err != nil {
		return 0, err
	}
	s.n = 1
	if !w.cfg.Append {
		// Fresh results: the parts of an earlier run go.
		for _, p := range parts {
			if err := os.Remove(p.Path); err != nil {
				return 0, fmt.Errorf("unable to remove the earlier part %s: %w", p.Name, err)
			}
		}
	} else if len(parts) > 0 {
		for _, p := range parts[:len(parts)-1] {
			if info, err := os.Stat(p.Path); err == nil {
				w.size += info.Size()
			}
		}
		last := parts[len(parts)-1]
		size, err := repairFile(last.Path, repair)
		if err != nil {
			return 0, fmt.Errorf("unable to append to %s: %w", last.Name, err)
		}
		s.n = last.N + 1
		if size == 0 {
			// Nothing complete in it (not even the file header): the
			// new part takes its place.
			if err := os.Remove(last.Path); err != nil {
				return 0, fmt.Errorf("unable to remove the empty part %s: %w", last.Name, err)
			}
			s.n = last.N
		}
		w.size += size
	}
	s.buf = capture.NewOutputBuffer(nil, bufSize)
	return 0, w.createPart(s)
}

// repairFile cuts the file at path after its last complete record and
// returns its length.
func repairFile(path string, repair func(*os.File) (int64, error)) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	size, err := repair(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return size, err
}

// createPart creates part s.n of s, empty, and points s's buffer at it.
func (w *Writer) createPart(s *series) error {
	path := PartPath(s.path, s.n)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, w.cfg.Perm)
	if err != nil {
		return fmt.Errorf("unable to create output: %w", err)
	}
	// s.start stays: the time of the last Advance, that of the record
	// that opens the part.
	s.f, s.size, s.records = f, 0, false
	s.buf.Reset(resultFile{f, w, &s.size})
	return nil
}

// closePart writes out the buffer of s's current part and closes it. It
// tells whether the next part may be opened: after a failed write the
// current part stays current (Repair cuts it), and the capture ends.
func (w *Writer) closePart(s *series) bool {
	if err := s.buf.Flush(); err != nil || w.failed != nil {
		return false
	}
	if err := s.f.Close(); err != nil {
		w.fail(fmt.Errorf("unable to close %s: %w", filepath.Base(s.f.Name()), err))
		return false
	}
	return true
}

// nextPart opens the part after s's current one, which closePart closed.
// On failure the error is recorded (Failed) and s keeps the closed file:
// every write fails, and the capture ends.
func (w *Writer) nextPart(s *series) bool {
	s.n++
	s.between = false
	if err := w.createPart(s); err != nil {
		w.fail(err)
		return false
	}
	return true
}

// endPcap closes the current pcap part; the next one is opened by the
// next packet (openPcap), so that no part is empty.
func (w *Writer) endPcap() {
	if w.failed == nil && w.closePart(&w.pcap) {
		w.pcap.between = true
	}
	w.syncDirect()
}

// openPcap opens the next pcap part, with its file header.
func (w *Writer) openPcap() {
	if w.failed != nil || !w.nextPart(&w.pcap) {
		return
	}
	pw, err := capture.NewPcapWriter(w.pcap.buf, w.cfg.Snaplen, w.cfg.LinkType)
	if err != nil {
		w.fail(fmt.Errorf("%s: %w", w.pcap.current(), err))
		return
	}
	w.pcapW = pw
}

// endFlows closes the current IPFIX part with the exporter's last
// message; the next flow opens the next part (openFlows).
func (w *Writer) endFlows() {
	if w.failed != nil {
		return
	}
	// Closing the exporter sends its message and flushes the buffer.
	if err := w.fileExp.Close(); err != nil && !errors.Is(err, ipfix.ErrClosed) {
		w.deps.Report(fmt.Errorf("unable to write flows: %w", err))
	}
	if w.closePart(&w.ipfix) {
		w.ipfix.between = true
	}
}

// openFlows opens the next IPFIX part with an exporter of its own, so
// that the part starts with the templates and decodes alone.
func (w *Writer) openFlows() {
	if w.failed != nil || !w.nextPart(&w.ipfix) {
		return
	}
	exp, err := ipfix.New(w.cfg.IPFIX, ipfix.NewFileTransport(w.ipfix.buf))
	if err != nil {
		w.fail(fmt.Errorf("unable to create ipfix exporter: %w", err))
		return
	}
	w.fileExp = exp
}

// Advance tells the Writer the time of the capture (a packet's timestamp,
// or the clock when no packet comes): a part whose first record is
// RotateEvery or more before now is closed, and the next record opens
// the next part. A part without a record (or the next part, not open
// yet) starts its time at now. Without
// RotateEvery it does nothing. It does not allocate unless a part is
// closed.
func (w *Writer) Advance(now time.Time) {
	every := w.cfg.RotateEvery
	if every <= 0 || w.closed {
		return
	}
	if s := &w.pcap; s.f != nil {
		if s.between || !s.records {
			s.start = now
		} else if now.Sub(s.start) >= every {
			w.endPcap()
			s.start = now
		}
	}
	if s := &w.ipfix; s.f != nil && w.fileExp != nil {
		if s.between || !s.records {
			s.start = now
		} else if now.Sub(s.start) >= every {
			w.endFlows()
			s.start = now
		}
	}
}
