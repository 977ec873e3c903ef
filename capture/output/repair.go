package output

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gimsproject/gims/transform/ipfix"
)

// A daemon killed while writing leaves a partial record at the end of a
// file (a buffered writer flushes whole buffers, not whole records), and so
// does a full disk. Before Open appends, and in Repair, the repair
// functions cut each file back to its last complete record so that readers
// never meet a torn record in the middle of the file. Each returns the
// length the file was cut to.

// pcap file constants (the classic format written by pcapgo).
const (
	pcapHeaderLen       = 24
	pcapRecordHeaderLen = 16
	// maxPcapRecord bounds a plausible record; anything larger is garbage.
	// It is libpcap's largest snaplen, the most a job may ask for
	// (deviceapi.MaxSnaplen).
	maxPcapRecord = 262144
)

// repairPcap cuts f after its last complete packet record. A file without
// a complete, known file header is cut to 0 (the caller writes a header).
func repairPcap(f *os.File) (int64, error) {
	size, err := fileSize(f)
	if err != nil {
		return 0, err
	}
	good, err := pcapValidLength(io.NewSectionReader(f, 0, size))
	if err != nil {
		return 0, err
	}
	return good, truncate(f, size, good)
}

// pcapValidLength returns the length of the longest prefix of r that is a
// pcap file header followed by complete records.
func pcapValidLength(r io.Reader) (int64, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var hdr [pcapHeaderLen]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return 0, nil
	}
	var order binary.ByteOrder
	switch binary.LittleEndian.Uint32(hdr[:4]) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		order = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		order = binary.BigEndian
	default:
		return 0, nil
	}
	good := int64(pcapHeaderLen)
	var rec [pcapRecordHeaderLen]byte
	for {
		if _, err := io.ReadFull(br, rec[:]); err != nil {
			return good, readErr(err)
		}
		n := order.Uint32(rec[8:12])
		if n > maxPcapRecord {
			return good, nil
		}
		if _, err := br.Discard(int(n)); err != nil {
			return good, readErr(err)
		}
		good += pcapRecordHeaderLen + int64(n)
	}
}

// repairIPFIX cuts f after its last complete IPFIX message.
func repairIPFIX(f *os.File) (int64, error) {
	size, err := fileSize(f)
	if err != nil {
		return 0, err
	}
	good, err := ipfix.WalkMessages(io.NewSectionReader(f, 0, size), nil)
	if err != nil {
		return 0, err
	}
	return good, truncate(f, size, good)
}

// repairCSV cuts f after its last complete line.
func repairCSV(f *os.File) (int64, error) {
	size, err := fileSize(f)
	if err != nil {
		return 0, err
	}
	// Counter rows are short: the last 64 KiB hold the last newline if
	// there is one at all, unless the file is garbage.
	from := max(0, size-1<<16)
	tail := make([]byte, size-from)
	if _, err := f.ReadAt(tail, from); err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("unable to read %s: %w", f.Name(), err)
	}
	good := int64(0)
	if i := bytes.LastIndexByte(tail, '\n'); i >= 0 {
		good = from + int64(i) + 1
	}
	return good, truncate(f, size, good)
}

func fileSize(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("unable to stat %s: %w", f.Name(), err)
	}
	return st.Size(), nil
}

func truncate(f *os.File, size, good int64) error {
	if good == size {
		return nil
	}
	if err := f.Truncate(good); err != nil {
		return fmt.Errorf("unable to cut %s to its last complete record: %w", f.Name(), err)
	}
	return nil
}

// readErr maps the end of the data (complete or not) to no error.
func readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, bufio.ErrBufferFull) {
		return nil
	}
	return fmt.Errorf("unable to read: %w", err)
}
