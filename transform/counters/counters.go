// Package counters aggregates packets into per-interval counters (SPEC §5
// item 3): packets, wire bytes, and packets and wire bytes per IP protocol
// class.
//
// Intervals are aligned to multiples of the interval since the Unix epoch
// and follow packet time, not wall time, so an offline run over a capture
// file and the live capture that produced it give the same numbers.
package counters

import (
	"fmt"
	"time"

	"github.com/gimsproject/gims/packet"
)

// MaxEmptyIntervals bounds the zero records emitted for one gap in the
// traffic. Empty intervals between two non-empty ones are emitted so that
// charts get a continuous time series; when a gap is longer than this, the
// first MaxEmptyIntervals empty intervals are emitted and the series then
// jumps to the interval of the next packet, so that a packet with a
// timestamp far in the future (a broken trace) cannot make the aggregator
// emit millions of records.
const MaxEmptyIntervals = 3600

// IP protocol numbers that have their own counter.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
)

// Record holds the counters of one interval.
type Record struct {
	// Start is the beginning of the interval (UTC); the interval lasts
	// Configuration.Interval.
	Start time.Time
	// Packets and Bytes count every packet and its length on the wire.
	Packets, Bytes uint64
	// TCP, UDP and ICMP count packets by IP protocol; ICMP counts both
	// ICMP (1) and ICMPv6 (58). Other counts every other packet,
	// including those that are not IP at all.
	TCP, UDP, ICMP, Other uint64
	// TCPBytes, UDPBytes, ICMPBytes and OtherBytes sum the wire length of
	// the packets that TCP, UDP, ICMP and Other count, so that charts can
	// show bits per second by protocol; together they add up to Bytes.
	TCPBytes, UDPBytes, ICMPBytes, OtherBytes uint64
}

// Aggregator counts packets per interval and hands each finished interval
// to the emit function. It is not safe for concurrent use; the capture
// path calls it from one goroutine.
type Aggregator struct {
	interval int64 // nanoseconds
	emit     func(Record)

	// open is false until the first packet fixes where the series starts.
	open bool
	// start is the start of the current interval, in Unix nanoseconds.
	start int64
	cur   Record
}

// New returns an Aggregator that calls emit, synchronously, for every
// closed interval.
func New(cfg Configuration, emit func(Record)) (*Aggregator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid counters configuration: %w", err)
	}
	if emit == nil {
		return nil, fmt.Errorf("invalid counters configuration: nil emit function")
	}
	return &Aggregator{interval: int64(cfg.Interval), emit: emit}, nil
}

// Add counts one packet in the interval of its timestamp. A packet whose
// timestamp falls in a later interval first closes the current one (and
// emits the empty intervals in between, up to MaxEmptyIntervals). A packet
// whose timestamp is earlier than the current interval (out-of-order
// capture, or a late packet after Advance) is counted in the current
// interval: an interval is never emitted twice. Add does not allocate.
func (a *Aggregator) Add(s *packet.Summary) {
	ts := s.Timestamp.UnixNano()
	if !a.open {
		a.open = true
		a.start = a.align(ts)
	} else if ts >= a.start+a.interval {
		a.roll(a.align(ts))
	}
	c := &a.cur
	c.Packets++
	var n uint64
	if s.WireLen > 0 {
		n = uint64(s.WireLen)
	}
	c.Bytes += n
	if s.IPVersion == 0 {
		c.Other++
		c.OtherBytes += n
		return
	}
	switch s.Proto {
	case protoTCP:
		c.TCP++
		c.TCPBytes += n
	case protoUDP:
		c.UDP++
		c.UDPBytes += n
	case protoICMP, protoICMPv6:
		c.ICMP++
		c.ICMPBytes += n
	default:
		c.Other++
		c.OtherBytes += n
	}
}

// Advance closes every interval that ended at or before now, emitting the
// current one and zero records for the empty intervals up to the one that
// holds now, which becomes current. A live capture calls it periodically
// with the wall clock so that quiet periods still produce records. Before
// the first packet it does nothing: the series starts with the first
// packet's interval.
func (a *Aggregator) Advance(now time.Time) {
	if !a.open {
		return
	}
	if ts := now.UnixNano(); ts >= a.start+a.interval {
		a.roll(a.align(ts))
	}
}

// Flush emits the current, partial interval if it counted any packet (end
// of capture or stop). The series then continues with the next interval,
// so packets added after Flush never make an interval appear twice.
func (a *Aggregator) Flush() {
	if !a.open || a.cur.Packets == 0 {
		return
	}
	a.emitCurrent()
	a.start += a.interval
	a.cur = Record{}
}

// roll closes the current interval, emits the empty ones before target
// (at most MaxEmptyIntervals of them) and makes target current.
func (a *Aggregator) roll(target int64) {
	a.emitCurrent()
	next := a.start + a.interval
	for n := 0; next < target && n < MaxEmptyIntervals; n++ {
		a.emit(Record{Start: time.Unix(0, next).UTC()})
		next += a.interval
	}
	a.start = target
	a.cur = Record{}
}

func (a *Aggregator) emitCurrent() {
	a.cur.Start = time.Unix(0, a.start).UTC()
	a.emit(a.cur)
}

// align returns the start of the interval holding ts (floor division, so
// that times before 1970 align too).
func (a *Aggregator) align(ts int64) int64 {
	r := ts % a.interval
	if r < 0 {
		r += a.interval
	}
	return ts - r
}
