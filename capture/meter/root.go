// Package meter is the capture path of SPEC §5: decode, interval
// counters, flow aggregation, sanitization of the packets kept (SPEC §8:
// Crypto-PAn addresses, keyed MACs, payloads cut by default), and the
// outputs fed from them. The offline flow meter (gims-capd -r) and live capture jobs run
// packets through the same Meter.
package meter

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/gimsproject/gims/packet"
	"github.com/gimsproject/gims/transform/counters"
	"github.com/gimsproject/gims/transform/cryptopan"
	"github.com/gimsproject/gims/transform/flow"
	"github.com/gimsproject/gims/transform/macanon"
)

// Configuration selects the transforms of one capture path. Transforms left
// nil are off; DefaultConfiguration turns them all off.
type Configuration struct {
	// Key is the Crypto-PAn key; nil leaves packets and addresses as
	// captured. With a key, nothing identifying leaves the meter: packets
	// given to the Packets sink are sanitized (packet.Sanitizer, with
	// Payload and MAC), and the addresses of flow records are anonymized
	// as the sanitized packets' are (packet.KeepReserved of Crypto-PAn).
	Key *[32]byte
	// Payload and MAC are the sanitization modes of the packets given to
	// the Packets sink when Key is set. The zero values are the SPEC
	// defaults, packet.PayloadStrip and packet.MACKeyed.
	Payload packet.PayloadMode
	MAC     packet.MACMode
	// Counters enables per-interval counters.
	Counters *counters.Configuration
	// Flows enables the bidirectional flow table.
	Flows *flow.Configuration
}

// DefaultConfiguration returns a meter that only counts packets: no key,
// no counters, no flows. Set Counters and Flows from their packages'
// DefaultConfiguration to turn them on.
func DefaultConfiguration() Configuration {
	return Configuration{}
}

// Validate checks the configuration of every transform that is on and
// names the transform and the field that is wrong.
func (cfg Configuration) Validate() error {
	if cfg.Counters != nil {
		if err := cfg.Counters.Validate(); err != nil {
			return fmt.Errorf("counters: %w", err)
		}
	}
	if cfg.Flows != nil {
		if err := cfg.Flows.Validate(); err != nil {
			return fmt.Errorf("flows: %w", err)
		}
	}
	return nil
}

// PacketWriter stores packets after sanitization (a pcapgo.Writer).
type PacketWriter interface {
	WritePacket(ci gopacket.CaptureInfo, data []byte) error
}

// RecordWriter is a PacketWriter that also takes a packet without its
// capture info, whose copies (it is passed by value, on the stack) cost
// more than the record on small packets: WriteRecord(ts, length, data)
// must do what WritePacket does with a capture info of timestamp ts, wire
// length length and capture length len(data). The meter uses it when the
// Packets sink has it (capture/output's does).
type RecordWriter interface {
	WriteRecord(ts time.Time, length int, data []byte) error
}

// Sinks receive what the meter produces; nil members are skipped. They are
// called from the goroutine that feeds the meter.
type Sinks struct {
	// Packets receives every packet; with a key, sanitized (capture
	// length cut to what is safe to keep, wire length unchanged), and
	// not at all when nothing safe is left of it (Stats.SanitizedDrops).
	Packets PacketWriter
	// Counters receives each closed interval.
	Counters func(counters.Record)
	// Flows receives each exported flow; the record is only valid during
	// the call.
	Flows func(*flow.Record)
	// Records, when not nil, is the Packets sink's buffer, which the
	// meter appends packet records to itself (see RecordBuffer).
	Records *RecordBuffer
}

// RecordBuffer is the buffer of the pcap file the Packets sink writes,
// which the meter fills itself: the call through the sink's interface,
// its checks for rotation and the pcap writer's call cost more than the
// record on small packets (~100 instructions a packet). Its owner (the
// Packets sink's: capture/output) keeps it current. When Buf is not nil,
// the meter writes a packet's record (a nanosecond pcap record header,
// then the bytes, as capture.PcapWriter.WriteRecord writes it) at
// Buf[*N:] and adds its length to *N if it fits (and the packet is one
// WriteRecord would take so: a capture length at most the wire length, a
// timestamp that is not the zero Time); any other packet goes to the
// Packets sink. The owner sets Buf to nil whenever a record must go
// through the sink: before the file's first record, when a part is to be
// closed or opened, when parts are cut by size, after a write error.
type RecordBuffer struct {
	Buf []byte
	N   *int
}

// pcapRecordHeader is the length of a pcap record header.
const pcapRecordHeader = 16

// zeroTimeUnix is the Unix time of the zero time.Time, which a pcap
// writer writes as the current time (not the meter's to do).
const zeroTimeUnix = -62135596800

// append writes the record of data, captured at ts with the wire length
// length, to b's buffer and tells whether it did (it fits and the record
// is one to write here); b.Buf is not nil.
func (b *RecordBuffer) append(ts time.Time, length int, data []byte) bool {
	n := len(data)
	r := b.Buf[*b.N:]
	if pcapRecordHeader+n > len(r) || n > length {
		return false
	}
	sec, nsec := ts.Unix(), ts.Nanosecond()
	if sec == zeroTimeUnix && nsec == 0 {
		return false
	}
	putRecordHeader(r, sec, nsec, n, length)
	copy(r[pcapRecordHeader:], data)
	*b.N += pcapRecordHeader + n
	return true
}

// commit completes the record at r, the free end of b's buffer, of a
// packet sanitized into r[pcapRecordHeader:][:keep] and counts it in the
// buffer, unless keep is 0 (the sanitizer declined the packet) or the
// packet is not one to write here (see RecordBuffer); it tells whether it
// did. Written past *b.N, the record was not the buffer's until then: a
// packet refused leaves nothing behind.
func (b *RecordBuffer) commit(r []byte, keep int, ci *gopacket.CaptureInfo) bool {
	sec, nsec := ci.Timestamp.Unix(), ci.Timestamp.Nanosecond()
	if keep == 0 || keep > ci.Length || sec == zeroTimeUnix && nsec == 0 {
		return false
	}
	putRecordHeader(r, sec, nsec, keep, ci.Length)
	*b.N += pcapRecordHeader + keep
	return true
}

// putRecordHeader writes a nanosecond pcap record header at r[:16]: the
// time sec, nsec; n bytes captured of length.
func putRecordHeader(r []byte, sec int64, nsec, n, length int) {
	h := (*[pcapRecordHeader]byte)(r)
	binary.LittleEndian.PutUint64(h[0:8], uint64(uint32(sec))|uint64(nsec)<<32)
	binary.LittleEndian.PutUint64(h[8:16], uint64(uint32(n))|uint64(uint32(length))<<32)
}

// Stats are the meter's running totals. They may be read while the meter
// runs; Run publishes them every 64 packets, after a packet stamped 10 ms
// or more after the last it published with, and whenever its source has
// no packet in time (a live source's read timeout), so they trail the
// packets read by at most that; Process, Advance and Flush publish them
// before they return, and so does Run.
type Stats struct {
	Packets, Bytes   uint64 // packets seen after the BPF filter, wire bytes
	NonIP            uint64 // packets without an IP header
	Truncated        uint64 // packets cut short by the capture
	Malformed        uint64 // packets with a header that could not be decoded
	Fragments        uint64 // IP fragments
	FlowsExported    uint64
	CounterIntervals uint64
	WriteErrors      uint64 // packets the PacketWriter refused
	// SanitizedDrops counts packets not given to the Packets sink because
	// sanitization left nothing safe of them (SPEC §8).
	SanitizedDrops uint64
}

// Meter runs packets of one link type through the configured transforms.
// Process, Advance and Flush are called from one goroutine; Stats from any.
type Meter struct {
	sinks    Sinks
	decoder  *packet.Decoder
	counters *counters.Aggregator
	flows    *flow.Table

	// sanitizer rewrites the packets given to the Packets sink (a key
	// and a Packets sink); nil leaves them as captured.
	sanitizer *packet.Sanitizer
	// records is the Packets sink as a RecordWriter, if it is one.
	records RecordWriter
	// direct is the Packets sink's buffer (Sinks.Records), or nil.
	direct *RecordBuffer
	// anon maps the addresses of exported flow records (a key); nil
	// leaves them as captured.
	anon packet.PairAnonymizer

	summary packet.Summary
	// late says Run hands packets to the flow table through
	// flow.Table.AddLate, which adds them two packets later.
	late bool
	buf  []byte      // copy of a packet to sanitize (sanitizeCopy)
	rec  flow.Record // anonymized copy of an exported flow record (-w)
	// pending holds the flow records exported under a key without -w and
	// not yet anonymized and handed on (see drainFlows).
	pending  [flowBatch]flow.Record
	npending int
	pairs    [flowBatch]packet.AddrPair // their addresses, for the anonymizer

	lastErr error // first PacketWriter error, reported by Flush

	// st is counted by the goroutine that feeds the meter, in plain
	// fields, and published to the atomic totals that Stats reads every
	// publishEvery packets and whenever Run, Process, Advance or Flush
	// returns: an atomic add per counter and packet cost as much as
	// decoding a small packet. unpublished counts the packets since.
	st          Stats
	unpublished int
	// published is st as last published: a total that did not change is
	// not stored again (see publish).
	published Stats
	// publishedAt is the timestamp of the packet after which Run last
	// published, in Unix nanoseconds.
	publishedAt int64

	packets, bytes, nonIP, truncated, malformed, fragments atomic.Uint64
	flowsExported, intervals, writeErrors, sanitizedDrops  atomic.Uint64
	pause                                                  atomic.Pointer[pauseWindow] // the current or last pause; nil: never paused
}

// Run publishes its totals to Stats every publishEvery packets, and after
// a packet stamped publishGap or more after the last it published with:
// a paced file replay or a quiet link hands on packets too slowly to reach
// 64 soon, and a job's status must show them.
const (
	publishEvery = 64
	publishGap   = int64(10 * time.Millisecond)
)

// New builds a meter for packets of the given link type.
func New(cfg Configuration, linkType layers.LinkType, sinks Sinks) (*Meter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid meter configuration: %w", err)
	}
	m := &Meter{sinks: sinks, publishedAt: math.MinInt64}
	m.records, _ = sinks.Packets.(RecordWriter)
	if sinks.Packets != nil {
		m.direct = sinks.Records
	}
	var err error
	if m.decoder, err = packet.NewDecoder(linkType); err != nil {
		return nil, fmt.Errorf("meter: %w", err)
	}
	if cfg.Key != nil {
		cc := cryptopan.DefaultConfiguration()
		if sinks.Packets == nil {
			// MemoAnonymizer below holds as many addresses as the
			// cipher's address caches would: they would only add a
			// lookup (a cache miss) to each first sighting.
			cc.AddrCache4, cc.AddrCache6 = 0, 0
		}
		cipher, err := cryptopan.NewWithConfig(cfg.Key[:], cc)
		if err != nil {
			return nil, fmt.Errorf("meter: %w", err)
		}
		// Identifiers leave the meter in written packets and in flow
		// records (counters hold none). Packets are decoded from the
		// captured bytes for the counters and the flow table, and each
		// flow record is anonymized on export, once per flow: Crypto-PAn
		// (and KeepReserved) is a permutation of addresses, so the flows
		// are those of the sanitized packets, with or without a packet
		// sink. Flow records carry no MAC and no payload.
		ip := packet.KeepReserved(cipher)
		if sinks.Packets != nil {
			sc := packet.SanitizerConfig{Payload: cfg.Payload, MAC: cfg.MAC, IP: ip}
			if cfg.MAC == packet.MACKeyed {
				if sc.MACs, err = macanon.New(cfg.Key[:]); err != nil {
					return nil, fmt.Errorf("meter: %w", err)
				}
			}
			if m.sanitizer, err = packet.NewSanitizer(linkType, sc); err != nil {
				return nil, fmt.Errorf("meter: %w", err)
			}
			// The sanitizer maps addresses as ip does, through a
			// memo that the packets of each flow have already filled.
			m.anon = m.sanitizer
		} else {
			// Flows share their hosts: a memo sized for all of them
			// maps each again without the cipher, which keeps only
			// its prefix caches (above) for the first sightings.
			m.anon = packet.MemoAnonymizer(ip)
		}
	}
	if cfg.Counters != nil {
		if m.counters, err = counters.New(*cfg.Counters, m.emitCounters); err != nil {
			return nil, fmt.Errorf("meter: counters: %w", err)
		}
	}
	if cfg.Flows != nil {
		if m.flows, err = flow.New(*cfg.Flows, m.emitFlow); err != nil {
			return nil, fmt.Errorf("meter: flows: %w", err)
		}
	}
	return m, nil
}

func (m *Meter) emitCounters(r counters.Record) {
	m.st.CounterIntervals++
	if m.sinks.Counters != nil {
		m.sinks.Counters(r)
	}
}

func (m *Meter) emitFlow(r *flow.Record) {
	m.st.FlowsExported++
	if m.sinks.Flows == nil {
		return
	}
	switch {
	case m.anon == nil:
	case m.sanitizer == nil:
		m.pending[m.npending] = *r
		if m.npending++; m.npending == flowBatch {
			m.drainFlows()
		}
		return
	default:
		// With -w the sanitizer's memos, which the flow's packets
		// filled, map the addresses; the batch's copies and second
		// pass cost more instructions than their misses took (tiny
		// key+w: +15 a packet).
		m.rec = *r
		k := &m.rec.Key
		m.anon.AnonymizePair(k.IPVersion == 4, &k.Src, &k.Dst)
		r = &m.rec
	}
	m.sinks.Flows(r)
}

// flowBatch is the number of flow records anonymized together.
const flowBatch = 32

// drainFlows anonymizes the pending flow records and hands them to the
// Flows sink, in the order they were exported. It runs when flowBatch
// records wait, and whenever the meter publishes its totals (after every
// Process, Advance and Flush, and every publishEvery packets of Run), so
// a record waits no longer than the totals that count it.
//
// The address memo's entries of a record's hosts are out of the cache
// by the time its flow ends (the flow table and the packets have gone
// through it since): one record at a time, each address waited for its
// miss (~180 ns on the ipv6 trace). Prefetched first for the whole
// batch, the misses overlap.
func (m *Meter) drainFlows() {
	recs, pairs := m.pending[:m.npending], m.pairs[:m.npending]
	for i := range recs {
		k, p := &recs[i].Key, &pairs[i]
		p.Src, p.Dst, p.V4 = &k.Src, &k.Dst, k.IPVersion == 4
	}
	m.anon.AnonymizePairs(pairs)
	for i := range recs {
		m.sinks.Flows(&recs[i])
	}
	m.npending = 0
}

// Process runs one captured packet through the transforms. data is not
// kept and not modified: sanitization rewrites a copy (as in Run).
func (m *Meter) Process(data []byte, ci gopacket.CaptureInfo) {
	m.process(data, &ci)
	m.publish()
}

// process runs one packet through the transforms: it is decoded as
// captured for the counters and the flows, then, sanitized (with a key),
// given to the Packets sink. data is only read.
func (m *Meter) process(data []byte, ci *gopacket.CaptureInfo) {
	s := &m.summary
	m.decoder.DecodeSummary(data, ci, s)
	m.count(s)
	if m.counters != nil {
		m.counters.Add(s)
	}
	if m.flows != nil {
		if m.late {
			m.flows.AddLate(s)
		} else {
			m.flows.Add(s)
		}
	}
	if m.sinks.Packets == nil {
		return
	}
	capLen := ci.CaptureLength
	if m.sanitizer != nil {
		if m.writeSanitizedDirect(data, ci) {
			return
		}
		if data = m.sanitizeOther(data, ci); data == nil {
			return
		}
		capLen = len(data)
	}
	if d := m.direct; d != nil && d.Buf != nil && capLen == len(data) && d.append(ci.Timestamp, ci.Length, data) {
		return
	}
	var err error
	if m.records != nil && capLen == len(data) {
		err = m.records.WriteRecord(ci.Timestamp, ci.Length, data)
	} else {
		c := *ci
		c.CaptureLength = capLen
		err = m.sinks.Packets.WritePacket(c, data)
	}
	if err != nil {
		m.st.WriteErrors++
		if m.lastErr == nil {
			m.lastErr = fmt.Errorf("write packet: %w", err)
		}
	}
}

// writeSanitizedDirect writes the record of a packet of the sanitizer's
// fast path, which the decoder has just decoded into m.summary, straight
// into the Packets sink's buffer: the packet is copied there as far as it
// is kept and rewritten there (packet.Sanitizer.SanitizeDecodedTo). It
// tells whether it did; when not, nothing was written.
//
// It is a call of its own, with the sanitizer's fast path inline (PGO):
// inlined into process, it would take process past the budget that lets
// Run take it inline (a call on every packet, keyed or not), and the
// fast path's call would then be at a place the profile does not know
// as hot.
//
//go:noinline
func (m *Meter) writeSanitizedDirect(data []byte, ci *gopacket.CaptureInfo) bool {
	d := m.direct
	if d == nil || d.Buf == nil {
		return false
	}
	r := d.Buf[*d.N:]
	if len(r) < pcapRecordHeader+packet.MaxDecodedKeep {
		return false // the buffer's end: the sink flushes it
	}
	// Written past *d.N, the record is not the buffer's until counted:
	// a packet refused after sanitizing leaves nothing behind (the source's
	// data is unchanged, for sanitizeCopy).
	keep := m.sanitizer.SanitizeDecodedTo(r[pcapRecordHeader:], data, &m.summary)
	return d.commit(r, keep, ci)
}

// sanitizeOther sanitizes a packet that writeSanitizedDirect did not
// take. It writes it straight into the Packets sink's buffer too when the
// sanitizer's fast path takes it (packet.Sanitizer.SanitizeFastTo: SCTP,
// MPLS, neighbor discovery, ICMP errors, which the decoder's fast path
// leaves to the parser), and otherwise sanitizes a copy (sanitizeCopy)
// and returns what is kept of it, for process to write. It returns nil
// when there is nothing left to write: written, or dropped (counted).
// It is apart from writeSanitizedDirect so that these packets cost the
// others nothing (tried after SanitizeDecodedTo there: 12 instructions
// a packet more on tiny with the key and -w, values kept across calls).
func (m *Meter) sanitizeOther(data []byte, ci *gopacket.CaptureInfo) []byte {
	if d := m.direct; d != nil && d.Buf != nil {
		r := d.Buf[*d.N:]
		if len(r) >= pcapRecordHeader+packet.MaxDecodedKeep {
			keep := m.sanitizer.SanitizeFastTo(r[pcapRecordHeader:], data)
			if d.commit(r, keep, ci) {
				return nil
			}
		}
	}
	data, keep := m.sanitizeCopy(data)
	if keep == 0 {
		m.st.SanitizedDrops++
		return nil
	}
	return data[:keep]
}

// sanitizeCopy sanitizes a copy of data (in m.buf) and returns it with
// the number of its bytes to keep, 0 when nothing safe is left of it.
func (m *Meter) sanitizeCopy(data []byte) (sanitized []byte, keep int) {
	if m.buf == nil {
		// Allocated on first use: most packets are sanitized straight
		// into the output buffer, and 64 KiB more on the heap can bring
		// a collection into a run that would have had none.
		m.buf = make([]byte, 0, packet.DefaultSnaplen)
	}
	m.buf = append(m.buf[:0], data...)
	// The frames the decoder's fast path took are sanitized from its
	// Summary; the others by Sanitize.
	if keep = m.sanitizer.SanitizeDecoded(m.buf, &m.summary); keep == 0 {
		var res packet.SanitizeResult
		if keep, res = m.sanitizer.Sanitize(m.buf); res.Drop {
			keep = 0
		}
	}
	return m.buf, keep
}

func (m *Meter) count(s *packet.Summary) {
	st := &m.st
	st.Packets++
	st.Bytes += uint64(s.WireLen)
	if s.IPVersion == 0 {
		st.NonIP++
	}
	if s.Truncated {
		st.Truncated++
	}
	if s.Malformed {
		st.Malformed++
	}
	if s.Fragment {
		st.Fragments++
	}
}

// publish makes the totals counted so far visible to Stats, after it has
// handed on the flow records waiting to be anonymized (drainFlows).
func (m *Meter) publish() {
	if m.npending > 0 {
		m.drainFlows()
	}
	// Only the totals that changed are stored: an atomic store is a full
	// barrier (~25 cycles on amd64), and a file whose packets are stamped
	// 10 ms apart or more has Run publish every few packets (the sample
	// captures concatenated: a publication every 4 packets, 10 stores of
	// which 2 or 3 changed).
	st, p := &m.st, &m.published
	publishTotal(&m.packets, &p.Packets, st.Packets)
	publishTotal(&m.bytes, &p.Bytes, st.Bytes)
	publishTotal(&m.nonIP, &p.NonIP, st.NonIP)
	publishTotal(&m.truncated, &p.Truncated, st.Truncated)
	publishTotal(&m.malformed, &p.Malformed, st.Malformed)
	publishTotal(&m.fragments, &p.Fragments, st.Fragments)
	publishTotal(&m.flowsExported, &p.FlowsExported, st.FlowsExported)
	publishTotal(&m.intervals, &p.CounterIntervals, st.CounterIntervals)
	publishTotal(&m.writeErrors, &p.WriteErrors, st.WriteErrors)
	publishTotal(&m.sanitizedDrops, &p.SanitizedDrops, st.SanitizedDrops)
	m.unpublished = 0
}

// publishTotal stores v to a, unless v is *last, the value last stored
// there, and makes it the last.
func publishTotal(a *atomic.Uint64, last *uint64, v uint64) {
	if v != *last {
		a.Store(v)
		*last = v
	}
}

// Advance tells the meter that time has reached now although no packet
// arrived (live captures): counter intervals close and flows time out.
func (m *Meter) Advance(now time.Time) {
	if m.counters != nil {
		m.counters.Advance(now)
	}
	if m.flows != nil {
		m.flows.Expire(now)
	}
	m.publish()
}

// Flush ends the capture: the last counter interval and every open flow
// are emitted. It returns the first packet-writing error, if any.
func (m *Meter) Flush() error {
	if m.counters != nil {
		m.counters.Flush()
	}
	if m.flows != nil {
		m.flows.Flush()
	}
	m.publish()
	return m.lastErr
}

// SetPaused pauses (p) or resumes the meter at wall time at. Run drops
// the packets stamped from the start of a pause to its end and does not
// advance time while paused; open flows stay open. Timestamps, not the
// time packets are read, decide: libpcap hands live packets on in blocks.
func (m *Meter) SetPaused(p bool, at time.Time) {
	if p {
		m.pause.Store(&pauseWindow{from: at.UnixNano()})
		return
	}
	if w := m.pause.Load(); w != nil && w.until == 0 {
		m.pause.Store(&pauseWindow{from: w.from, until: at.UnixNano()})
	}
}

// pauseWindow is a pause in Unix nanoseconds; until is 0 while it lasts.
type pauseWindow struct{ from, until int64 }

// paused tells whether the meter is paused now.
func (m *Meter) paused() bool {
	w := m.pause.Load()
	return w != nil && w.until == 0
}

// pausedAt tells whether a packet stamped ts (Unix nanoseconds) falls in
// the current or last pause.
func (m *Meter) pausedAt(ts int64) bool {
	w := m.pause.Load()
	if w == nil {
		return false
	}
	return ts >= w.from && (w.until == 0 || ts < w.until)
}

// endRun ends Run: the flow table adds the packets AddLate left pending,
// later packets are added at once (Process), and the totals are published.
func (m *Meter) endRun() {
	if m.late {
		m.flows.Sync()
		m.late = false
	}
	m.publish()
}

// Stats returns the running totals.
func (m *Meter) Stats() Stats {
	return Stats{
		Packets:          m.packets.Load(),
		Bytes:            m.bytes.Load(),
		NonIP:            m.nonIP.Load(),
		Truncated:        m.truncated.Load(),
		Malformed:        m.malformed.Load(),
		Fragments:        m.fragments.Load(),
		FlowsExported:    m.flowsExported.Load(),
		CounterIntervals: m.intervals.Load(),
		WriteErrors:      m.writeErrors.Load(),
		SanitizedDrops:   m.sanitizedDrops.Load(),
	}
}

// Reader is a packet source shaped like gopacket's
// ZeroCopyPacketDataSource (a *capture.Source, or a pcapgo reader in tests),
// so the meter needs no libpcap. The data is only valid until the next call;
// the meter only reads it (it sanitizes packets into its output buffer or a
// copy), so it may lie in a file mapping. A live source returns
// packet.ErrTimeout when no packet came in time.
type Reader interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// MappedReader is a Reader whose packets may lie in a memory mapping of a
// file (a capture.Source after MapFile): when the file shrinks while it is
// read, touching a packet past its new end faults. Run and the Prefetcher
// read such a reader with debug.SetPanicOnFault and end with the error
// MappedFault gives for the fault's address, where the process would
// crash.
type MappedReader interface {
	Reader
	MappedFault(addr uintptr) error
}

// catchFault, deferred by a goroutine that reads r with
// debug.SetPanicOnFault(true), turns a fault in r's mapping into *err; any
// other panic goes on.
func catchFault(r MappedReader, err *error) {
	v := recover()
	if v == nil {
		return
	}
	if f, ok := v.(interface{ Addr() uintptr }); ok {
		if e := r.MappedFault(f.Addr()); e != nil {
			*err = e
			return
		}
	}
	panic(v)
}

// PacketReader is a Reader that can write the capture info to the
// caller's CaptureInfo instead of returning it (a *capture.Source): Run
// reads through it when r has it, which spares copying the 72-byte struct
// through the returns for every packet.
type PacketReader interface {
	Reader
	ReadPacket(ci *gopacket.CaptureInfo) ([]byte, error)
}

// Run feeds the meter from r until the source is exhausted (io.EOF, then it
// returns nil), ctx is done (ctx's error), or reading fails. It does not
// Flush: the caller decides whether the capture ends or only pauses.
func (m *Meter) Run(ctx context.Context, r Reader) (runErr error) {
	// Whatever ends the run, the flow table adds the packets it has
	// pending and Stats gets the totals.
	defer m.endRun()
	if mr, ok := r.(MappedReader); ok {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer catchFault(mr, &runErr)
	}
	// The context is checked before the first packet, then through a flag
	// that context.AfterFunc raises when it is done, read before every
	// packet: a plain load, where ctx.Err() cost three calls and an
	// atomic load per packet. Checking only every N packets made a stop
	// wait for N packets on a live source whose packets come too often
	// for a read timeout but too seldom to reach N soon (a quiet
	// loopback: seconds).
	if err := ctx.Err(); err != nil {
		return err
	}
	var done atomic.Bool
	stop := context.AfterFunc(ctx, func() { done.Store(true) })
	defer stop()
	pr, _ := r.(PacketReader)
	// Run owns the loop: packets go to the flow table two packets late,
	// each one's index slot loaded ahead (flow.Table.AddLate).
	m.late = m.flows != nil
	var (
		ci   gopacket.CaptureInfo
		data []byte
		err  error
	)
	for {
		if done.Load() {
			return ctx.Err()
		}
		if pr != nil {
			data, err = pr.ReadPacket(&ci)
		} else {
			data, ci, err = r.ZeroCopyReadPacketData()
		}
		switch {
		case err == nil:
			if ts := ci.Timestamp.UnixNano(); !m.pausedAt(ts) {
				m.process(data, &ci)
				m.unpublished++
				if m.unpublished == publishEvery || ts >= m.publishedAt+publishGap {
					m.publish()
					m.publishedAt = ts
				}
			}
		case errors.Is(err, packet.ErrTimeout):
			if m.late {
				m.flows.Sync()
			}
			m.publish()
			if err := ctx.Err(); err != nil {
				return err
			}
			if !m.paused() {
				m.Advance(time.Now())
			}
		case errors.Is(err, io.EOF):
			return nil
		default:
			return err
		}
	}
}
