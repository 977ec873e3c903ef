package meter

import (
	"context"
	"errors"
	"runtime/debug"
	"sync"

	"github.com/google/gopacket"

	"github.com/gimsproject/gims/packet"
)

// PrefetchConfiguration sizes a Prefetcher's batches.
type PrefetchConfiguration struct {
	// BatchBytes is the room for packet bytes in one batch; a packet
	// longer than that gets a batch of its own, grown to fit. Default
	// 256 KiB: a batch is read by the meter while it is still in cache.
	BatchBytes int
	// Batches is the number of batches in flight between the two
	// goroutines, at least 2. Default 4.
	Batches int
}

// DefaultPrefetchConfiguration returns the default batch sizes.
func DefaultPrefetchConfiguration() PrefetchConfiguration {
	return PrefetchConfiguration{BatchBytes: 256 << 10, Batches: 4}
}

// Validate checks the sizes.
func (c PrefetchConfiguration) Validate() error {
	switch {
	case c.BatchBytes < 1:
		return errors.New("prefetch: BatchBytes must be positive")
	case c.Batches < 2:
		return errors.New("prefetch: Batches must be at least 2")
	}
	return nil
}

// Prefetcher reads packets from a Reader in a goroutine of its own,
// copies them into batches of packet buffers and hands the batches over a
// channel, so that reading a capture file (the system calls, the kernel's
// copy out of the page cache and the record parsing) runs on another core
// than the meter. It is a Reader itself: Meter.Run takes it in place of the
// source and sees the same packets, with the same bytes and capture
// information, in the same order, so the outputs are the same. The data it
// returns is its own until the next call. Batches
// are recycled: once the batches have grown to their working size, reading
// allocates nothing.
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

	cur *prefetchBatch // the batch being read, nil before the first
	i   int            // its next packet
	err error          // the error that ended the stream, returned from then on
}

// prefetchBatch is packets read in a row: packet j is
// data[ends[j-1]:ends[j]] with capture information cis[j]; err, if not
// nil, comes after them.
type prefetchBatch struct {
	data []byte
	cis  []gopacket.CaptureInfo
	ends []int
	err  error
}

// NewPrefetcher starts reading r ahead in a goroutine; it stops at the end
// of r, on a read error other than packet.ErrTimeout, when ctx is done or
// on Close.
func NewPrefetcher(ctx context.Context, cfg PrefetchConfiguration, r Reader) (*Prefetcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &Prefetcher{
		ctx:    ctx,
		full:   make(chan *prefetchBatch, cfg.Batches),
		free:   make(chan *prefetchBatch, cfg.Batches),
		cancel: cancel,
	}
	for range cfg.Batches {
		p.free <- &prefetchBatch{data: make([]byte, 0, cfg.BatchBytes)}
	}
	p.wg.Add(1)
	go p.fill(ctx, r, cfg.BatchBytes)
	return p, nil
}

// fill is the reading goroutine.
func (p *Prefetcher) fill(ctx context.Context, r Reader, room int) {
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
				select {
				case b = <-p.free:
					b.data, b.cis, b.ends = b.data[:0], b.cis[:0], b.ends[:0]
				case <-ctx.Done():
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
			select {
			case b = <-p.free:
			case <-ctx.Done():
				return
			}
			b.data, b.cis, b.ends, b.err = b.data[:0], b.cis[:0], b.ends[:0], nil
			if cap(b.data) > room && len(b.cis) == 0 {
				// A batch grown for one long packet goes back to its size.
				b.data = make([]byte, 0, room)
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
		if len(b.data)+len(data) > cap(b.data) && len(b.cis) > 0 {
			if !send() {
				return
			}
			select {
			case b = <-p.free:
			case <-ctx.Done():
				return
			}
			b.data, b.cis, b.ends, b.err = b.data[:0], b.cis[:0], b.ends[:0], nil
		}
		b.data = append(b.data, data...)
		b.cis = append(b.cis, ci)
		b.ends = append(b.ends, len(b.data))
	}
}

// ZeroCopyReadPacketData returns the next packet read ahead, or the error
// that ended the source (io.EOF at its end), or packet.ErrTimeout where
// the source timed out. After Close, or once the context given to
// NewPrefetcher is done, it returns the context's error.
func (p *Prefetcher) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	for {
		if p.err != nil {
			return nil, gopacket.CaptureInfo{}, p.err
		}
		if b := p.cur; b != nil {
			if p.i < len(b.cis) {
				start := 0
				if p.i > 0 {
					start = b.ends[p.i-1]
				}
				end := b.ends[p.i]
				ci := b.cis[p.i]
				p.i++
				return b.data[start:end:end], ci, nil
			}
			err := b.err
			p.cur = nil
			p.free <- b // never blocks: there are as many places as batches
			if err != nil {
				if !errors.Is(err, packet.ErrTimeout) {
					p.err = err
				}
				return nil, gopacket.CaptureInfo{}, err
			}
		}
		b, ok := <-p.full
		if !ok { // stopped early: Close, or ctx is done
			p.err = p.ctx.Err()
			if p.err == nil {
				p.err = context.Canceled // not reached: fill only stops early on ctx
			}
			continue
		}
		p.cur, p.i = b, 0
	}
}

// Close stops the reading goroutine and waits for it to end. It does not
// close the source. It is safe to call more than once.
func (p *Prefetcher) Close() {
	p.cancel()
	p.wg.Wait()
}
