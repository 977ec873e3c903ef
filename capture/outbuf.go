package capture

import (
	"io"
	"runtime"

	"github.com/gimsproject/gims/internal/tablemem"
)

// OutputBuffer is the buffer in front of an output file: a bufio.Writer
// (the same Write, Flush, Buffered, Available and Reset, the same errors)
// whose free space a PcapWriter fills in place with a whole record, where
// bufio.Writer's AvailableBuffer and Write cost more than the record on
// small packets.
type OutputBuffer struct {
	err error
	buf []byte
	n   int
	wr  io.Writer
}

// NewOutputBuffer returns a buffer of size bytes (at least 4096) in front
// of w. The buffer is allocated outside the Go heap (package tablemem) and
// returned by a cleanup when the OutputBuffer is collected: the pcap
// file's megabyte would bring the collector's next cycle closer, and an
// offline run with -w paid a whole collection (the scan of gopacket's
// package tables, 70 instructions per packet on a 400k-packet trace) that
// the same run without -w stayed under.
func NewOutputBuffer(w io.Writer, size int) *OutputBuffer {
	buf, release := tablemem.Make[byte](max(size, 4096))
	b := &OutputBuffer{buf: buf, wr: w}
	runtime.AddCleanup(b, func(release func()) { release() }, release)
	return b
}

// Reset discards what is buffered and any error, and writes to w from now.
func (b *OutputBuffer) Reset(w io.Writer) {
	b.err, b.n, b.wr = nil, 0, w
}

// Flush writes the buffered bytes out. After an error every write and
// flush returns it, until Reset.
func (b *OutputBuffer) Flush() error {
	if b.err != nil {
		return b.err
	}
	if b.n == 0 {
		return nil
	}
	n, err := b.wr.Write(b.buf[0:b.n])
	if n < b.n && err == nil {
		err = io.ErrShortWrite
	}
	if err != nil {
		if n > 0 && n < b.n {
			copy(b.buf[0:b.n-n], b.buf[n:b.n])
		}
		b.n -= n
		b.err = err
		return err
	}
	b.n = 0
	return nil
}

// Available returns how many bytes are free in the buffer.
func (b *OutputBuffer) Available() int { return len(b.buf) - b.n }

// Buffered returns how many bytes are in the buffer.
func (b *OutputBuffer) Buffered() int { return b.n }

// Write writes p into the buffer, flushing it when full; a write larger
// than an empty buffer goes straight to the writer.
func (b *OutputBuffer) Write(p []byte) (nn int, err error) {
	for len(p) > b.Available() && b.err == nil {
		var n int
		if b.n == 0 {
			n, b.err = b.wr.Write(p)
		} else {
			n = copy(b.buf[b.n:], p)
			b.n += n
			_ = b.Flush()
		}
		nn += n
		p = p[n:]
	}
	if b.err != nil {
		return nn, b.err
	}
	n := copy(b.buf[b.n:], p)
	b.n += n
	nn += n
	return nn, nil
}

// Direct returns the buffer, a pointer to the count of its bytes in use
// and whether it may be appended to, for a writer that fills it itself
// (the meter's direct record path: meter.RecordBuffer, which
// capture/output keeps): bytes written at buf[*n:] and counted in *n are
// written out by the next Flush, like those of Write. The buffer is the
// same for the OutputBuffer's life (Reset keeps it). ok is false after a
// write error: the bytes must then go through Write, which returns it.
func (b *OutputBuffer) Direct() (buf []byte, n *int, ok bool) {
	return b.buf, &b.n, b.err == nil
}

// reserve returns the next n bytes of the buffer, counted as written, for
// the caller to fill; it flushes the buffer first if they do not fit. It
// returns nil, and reserves nothing, after an error or when n is more
// than the buffer holds: the caller then writes with Write.
func (b *OutputBuffer) reserve(n int) []byte {
	if b.n+n > len(b.buf) {
		if n > len(b.buf) || b.Flush() != nil {
			return nil
		}
	}
	if b.err != nil {
		return nil
	}
	r := b.buf[b.n : b.n+n : b.n+n]
	b.n += n
	return r
}
