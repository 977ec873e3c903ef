package meter

import (
	"context"
	"errors"
	"runtime/debug"
	"sync"
	"unsafe"

	"github.com/google/gopacket"

	"github.com/gimsproject/gims/internal/prefetch"
	"github.com/gimsproject/gims/packet"
)

// PrefetchConfiguration sizes a Prefetcher's batches.
type PrefetchConfiguration struct {
	// BatchBytes is the room for packet bytes in one batch; a packet
	// longer than that gets a batch of its own, grown to fit. Default
	// 256 KiB: a batch is read by the meter while it is still in cache.
	BatchBytes int
	// BatchPackets is the most packets in one batch; 0 stands for the
	// default, 1024: the capture information of a batch (72 bytes a
	// packet) stays in cache too when its packets are not copied (a
	// MappedAheadReader), and a batch is handed over seldom enough that
	// waking the other goroutine costs little (256 made the meter a
	// quarter slower).
	BatchPackets int
	// Batches is the number of batches in flight between the two
	// goroutines, at least 2. Default 4.
	Batches int
}

// DefaultPrefetchConfiguration returns the default batch sizes.
func DefaultPrefetchConfiguration() PrefetchConfiguration {
	return PrefetchConfiguration{BatchBytes: 256 << 10, BatchPackets: defaultBatchPackets, Batches: 4}
}

// defaultBatchPackets is BatchPackets's default.
const defaultBatchPackets = 1024

// Validate checks the sizes.
func (c PrefetchConfiguration) Validate() error {
	switch {
	case c.BatchBytes < 1:
		return errors.New("prefetch: BatchBytes must be positive")
	case c.BatchPackets < 0:
		return errors.New("prefetch: BatchPackets must not be negative")
	case c.Batches < 2:
		return errors.New("prefetch: Batches must be at least 2")
	}
	return nil
}

// MappedAheadReader is a MappedReader that can leave the pages of its
// mapping to its reader ahead (a capture.Source after MapFile): the
// Prefetcher then hands out the packets that lie in the mapping where
// they lie, instead of copies, and releases the pages once the meter is
// done with them. With a mapped file, reading costs the meter's core
// only a record header's parse, and the kernel's work to map the pages
// (a tenth to a fifth of metering a file of large packets) runs on the
// other core.
type MappedAheadReader interface {
	MappedReader
	// HoldMapped has the pages released only by ReleaseTo, and tells
	// whether the source is mapped; it is called before the first read.
	HoldMapped() bool
	// InMapping tells whether a packet read lies in the mapping, where
	// it stays readable after the next read.
	InMapping(data []byte) bool
	// ReleaseTo may release the pages before the end of a packet of
	// the mapping that the meter is done with.
	ReleaseTo(data []byte)
}

// Prefetcher reads packets from a Reader in a goroutine of its own,
// copies them into batches of packet buffers and hands the batches over a
// channel, so that reading a capture file (the system calls, the kernel's
// copy out of the page cache and the record parsing) runs on another core
// than the meter. From a MappedAheadReader it copies only the packets
// that are not in the mapping: a batch holds the others where they lie.
// It is a Reader itself: Meter.Run takes it in place of the source and
// sees the same packets, with the same bytes and capture information, in
// the same order, so the outputs are the same. The data it returns is
// valid until the next call, and is only read (it may lie in the source's
// mapping, as Run reads it). Batches are recycled: once the batches have
// grown to their working size, reading allocates nothing.
//
// It is for sources that end (capture files): a read error or io.EOF ends
// the goroutine after the packets read before it, and is returned once
// they have been; packet.ErrTimeout is passed on in its place among the
// packets and reading goes on. Close stops the goroutine and waits for
// it; the source must not be used or closed before Close returns.
type Prefetcher struct {
	ctx    context.Context
	full   chan *prefetchBatch // closed when fill returns
	free   chan *prefetchBatch
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mapped MappedReader // the source when it is one, for MappedFault

	cur *prefetchBatch // the batch being read, nil before the first
	i   int            // its next packet
	err error          // the error that ended the stream, returned from then on
}

// prefetchBatch is packets read in a row: packet j is views[j] when that
// is not nil (a packet in the source's mapping), data[ends[j-1]:ends[j]]
// otherwise, with capture information cis[j]; err, if not nil, comes
// after them. last is the batch's last packet in the mapping, for
// ReleaseTo once the batch is back.
type prefetchBatch struct {
	data  []byte
	cis   []gopacket.CaptureInfo
	ends  []int
	views [][]byte
	last  []byte
	err   error
}

// reset empties the batch for reuse.
func (b *prefetchBatch) reset() {
	clear(b.views) // no reference to the mapping is left behind
	b.data, b.cis, b.ends, b.views, b.last, b.err = b.data[:0], b.cis[:0], b.ends[:0], b.views[:0], nil, nil
}

// NewPrefetcher starts reading r ahead in a goroutine; it stops at the end
// of r, on a read error other than packet.ErrTimeout, when ctx is done or
// on Close.
func NewPrefetcher(ctx context.Context, cfg PrefetchConfiguration, r Reader) (*Prefetcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.BatchPackets == 0 {
		cfg.BatchPackets = defaultBatchPackets
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &Prefetcher{
		ctx:    ctx,
		full:   make(chan *prefetchBatch, cfg.Batches),
		free:   make(chan *prefetchBatch, cfg.Batches),
		cancel: cancel,
	}
	var ahead MappedAheadReader
	if mr, ok := r.(MappedReader); ok {
		p.mapped = mr
		if a, ok := r.(MappedAheadReader); ok && a.HoldMapped() {
			ahead = a
		}
	}
	for range cfg.Batches {
		p.free <- &prefetchBatch{data: make([]byte, 0, cfg.BatchBytes)}
	}
	p.wg.Add(1)
	go p.fill(ctx, r, ahead, cfg)
	return p, nil
}

// MappedFault is the source's, when it is a MappedReader: the meter reads
// the packets of a MappedAheadReader in its mapping.
func (p *Prefetcher) MappedFault(addr uintptr) error {
	if p.mapped == nil {
		return nil
	}
	return p.mapped.MappedFault(addr)
}

// fill is the reading goroutine. With ahead, the packets in the mapping
// are not copied, and the pages of a batch's packets are released once
// the batch comes back.
func (p *Prefetcher) fill(ctx context.Context, r Reader, ahead MappedAheadReader, cfg PrefetchConfiguration) {
	defer p.wg.Done()
	defer close(p.full)
	var b *prefetchBatch
	if mr, ok := r.(MappedReader); ok {
		// A fault in the source's mapping ends the stream with its
		// error, after the packets read whole before it (b's).
		var fault error
		defer func() {
			if fault == nil {
				return
			}
			if b == nil {
				if b = p.take(ctx, ahead); b == nil {
					return
				}
			}
			b.err = fault
			select {
			case p.full <- b:
			case <-ctx.Done():
			}
		}()
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer catchFault(mr, &fault)
	}
	// send hands b over; false when the prefetcher is stopping.
	send := func() bool {
		select {
		case p.full <- b:
			b = nil
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		if b == nil {
			if b = p.take(ctx, ahead); b == nil {
				return
			}
			if cap(b.data) > cfg.BatchBytes && len(b.cis) == 0 {
				// A batch grown for one long packet goes back to its size.
				b.data = make([]byte, 0, cfg.BatchBytes)
			}
		}
		data, ci, err := r.ZeroCopyReadPacketData()
		if err != nil {
			b.err = err
			if !send() || !errors.Is(err, packet.ErrTimeout) {
				return
			}
			continue
		}
		inMap := ahead != nil && ahead.InMapping(data)
		if len(b.cis) > 0 && (len(b.cis) == cfg.BatchPackets || !inMap && len(b.data)+len(data) > cap(b.data)) {
			if !send() {
				return
			}
			if b = p.take(ctx, ahead); b == nil {
				return
			}
		}
		if inMap {
			b.views = append(b.views, data)
			b.last = data
		} else {
			b.data = append(b.data, data...)
			if ahead != nil {
				b.views = append(b.views, nil)
			}
		}
		b.cis = append(b.cis, ci)
		b.ends = append(b.ends, len(b.data))
	}
}

// take returns a free batch, emptied, once the meter is done with it (nil
// when the prefetcher is stopping): the pages of its packets in the
// source's mapping are released first.
func (p *Prefetcher) take(ctx context.Context, ahead MappedAheadReader) *prefetchBatch {
	select {
	case b := <-p.free:
		if b.last != nil {
			ahead.ReleaseTo(b.last)
		}
		b.reset()
		return b
	case <-ctx.Done():
		return nil
	}
}

// ZeroCopyReadPacketData returns the next packet read ahead, or the error
// that ended the source (io.EOF at its end), or packet.ErrTimeout where
// the source timed out. After Close, or once the context given to
// NewPrefetcher is done, it returns the context's error.
func (p *Prefetcher) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	var ci gopacket.CaptureInfo
	data, err := p.ReadPacket(&ci)
	return data, ci, err
}

// ReadPacket is ZeroCopyReadPacketData with the capture information
// written to *ci (Run's PacketReader), the one copy of it on the meter's
// side.
func (p *Prefetcher) ReadPacket(ci *gopacket.CaptureInfo) ([]byte, error) {
	for {
		if b := p.cur; b != nil && p.i < len(b.cis) {
			i := p.i
			p.i++
			*ci = b.cis[i]
			if len(b.views) > 0 {
				if v := b.views[i]; v != nil {
					if p.i < len(b.views) && len(b.views[p.i]) > 0 {
						// The next packet's first lines, last read by
						// the other core (as Source.ReadPacket does).
						next := uintptr(unsafe.Pointer(unsafe.SliceData(b.views[p.i])))
						prefetch.Lines(next, next+64)
					}
					return v, nil
				}
			}
			start := 0
			if i > 0 {
				start = b.ends[i-1]
			}
			end := b.ends[i]
			return b.data[start:end:end], nil
		}
		if err := p.next(); err != nil {
			*ci = gopacket.CaptureInfo{}
			return nil, err
		}
	}
}

// next gives the current batch back, with the error that ended it if
// any, and takes the next one.
func (p *Prefetcher) next() error {
	if p.err != nil {
		return p.err
	}
	if b := p.cur; b != nil {
		err := b.err
		p.cur = nil
		p.free <- b // never blocks: there are as many places as batches
		if err != nil {
			if !errors.Is(err, packet.ErrTimeout) {
				p.err = err
			}
			return err
		}
	}
	b, ok := <-p.full
	if !ok { // stopped early: Close, or ctx is done
		p.err = p.ctx.Err()
		if p.err == nil {
			p.err = context.Canceled // not reached: fill only stops early on ctx
		}
		return p.err
	}
	p.cur, p.i = b, 0
	return nil
}

// Close stops the reading goroutine and waits for it to end. It does not
// close the source. It is safe to call more than once.
func (p *Prefetcher) Close() {
	p.cancel()
	p.wg.Wait()
}
