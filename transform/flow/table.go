package flow

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"time"
	"unsafe"

	"github.com/gimsproject/gims/internal/prefetch"
	"github.com/gimsproject/gims/packet"
)

// IP protocol numbers and TCP flags the table looks at.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoICMPv6 = 58

	tcpFIN = 0x01
	tcpRST = 0x04
)

// ICMP echo types, whose request and reply belong to one biflow.
const (
	icmpEchoReply     = 0
	icmpEchoRequest   = 8
	icmpv6EchoRequest = 128
	icmpv6EchoReply   = 129
)

// Stats are the table's counters since New.
type Stats struct {
	// Active is the number of live flows (Len).
	Active int
	// Created counts flows started by a packet that matched no live flow.
	Created uint64
	// Exported counts records handed to the export function, for every
	// end reason; an active timeout exports a record without ending the
	// flow, so Exported can exceed Created.
	Exported uint64
	// Evicted counts records exported early with EndLackOfResources
	// because the table held MaxFlows flows.
	Evicted uint64
	// Packets and Bytes count the IP packets added and their IP octets
	// (Summary.IPLen); once the table is flushed they equal the sums over
	// every exported record, both directions.
	Packets, Bytes uint64
	// NonIP counts summaries that were not IP, which the table ignores.
	NonIP uint64
	// Fragments counts IP fragments (first ones included).
	Fragments uint64
	// FragmentsUnmatched counts non-first fragments whose first fragment
	// was not seen within the fragment timeout (lost, out of order, or
	// pushed out of the fragment cache): they go to the flow with ports 0.
	FragmentsUnmatched uint64
	// Truncated and Malformed count IP packets the decoder flagged so; they
	// are still accounted with whatever fields were decoded.
	Truncated, Malformed uint64
}

// Table is a flow table: it aggregates packet summaries into flows and
// exports a Record when a flow ends. Every timeout is in packet time: the
// table's clock is the latest packet timestamp (or Expire time) seen, so
// an offline run over a capture file gives the same flows as the live
// capture. It is not safe for concurrent use; the capture path calls it
// from one goroutine.
//
// Flow ends:
//   - Idle timeout: no packet for more than IdleTimeout (EndIdleTimeout).
//   - Active timeout: the record's first packet is more than ActiveTimeout
//     old (EndActiveTimeout). The flow stays in the table with its key
//     orientation; its next record starts with its next packet.
//   - TCP: an RST in either direction, or a FIN seen from both directions,
//     ends the flow after counting that packet (EndOfFlow). In uni-flow
//     mode a FIN ends its direction's flow. Packets after the end (the
//     last ACK after the FINs, retransmissions) start a new, small flow,
//     as softflowd and YAF do.
//   - Lack of resources: a new flow in a full table first evicts the least
//     recently active flow (EndLackOfResources).
//   - Flush: every live flow (EndForced).
//
// Keys: ports are 0 for protocols without ports. ICMP and ICMPv6 keep the
// Summary's convention (SrcPort 0, DstPort type<<8|code); in biflow mode an
// echo reply (ICMP 0, ICMPv6 129) matches the flow of the echo request
// (8, 128) in the other direction, so a ping is one biflow whose key
// carries the first packet's type. Other ICMP types match their own type
// in either direction.
//
// Fragments: a first fragment (offset 0) carries the ports; the table
// remembers them per (addresses, protocol, VLAN, fragment ID) in a cache
// bounded to FragmentCacheSize entries and FragmentTimeout of packet time,
// so the datagram's later fragments count toward the same flow. A
// non-first fragment whose first fragment is not in the cache (lost, or
// arriving later, out of order) goes to the flow with ports 0 and is
// counted in Stats.FragmentsUnmatched; the table does not buffer.
type Table struct {
	biflow   bool
	maxFlows int
	activeNs int64
	idleNs   int64
	export   func(*Record)
	index    flowIndex // index key (mapKey) → slab slot
	slab     []entry
	// links holds each slab entry's places in the two lists, apart from
	// the entries: moving a flow to the back of the LRU list with every
	// packet touches its neighbours' links, and 16 bytes per flow stay in
	// cache where the 96-byte entries do not.
	links [][2]link
	free  int32   // head of the free slot chain, through links[i][lruList].next
	lists [2]list // lruList: by last packet; activeList: by record start
	now   int64   // packet clock, Unix nanoseconds
	// checkAt is the clock up to which advance has nothing to expire:
	// the earliest time the head of either list can time out. Add moves
	// the clock with nearly every packet; without it, each move read the
	// heads' entries (cache misses) to find nothing to do. Any change of
	// a list's head, or of the start of a record, resets it to
	// math.MinInt64 (check at the next move).
	checkAt int64
	order   []int32   // Flush's list of the flows, kept for the next
	frags   fragCache // ports of first fragments
	stats   Stats
	rec     Record // handed to export, reused
	mem     *offHeap
	// pre is a ring of AddLate's packets: the next one goes to
	// pre[late%len(pre)], the pending ones are the pending before it.
	// It holds pointers (to an array of its own): the compiler keeps a
	// loaded pointer in a register, where it built each field's address
	// from the Table's address and the index apart, two instructions a
	// field (tiny: 12 instructions a packet).
	pre     [4]*prepared
	late    uint8
	pending uint8
}

// entry is one live flow. Its counters are those of the current record;
// all of them are zero while the flow waits for its next packet after an
// active timeout.
type entry struct {
	// mkey is the flow's index key (Table.mapKey of the record's key), so
	// that a lookup compares it with the packet's index key as it is; the
	// record's key is recordKey.
	mkey Key
	// start is the record's first packet time, last the flow's latest,
	// in Unix nanoseconds.
	start, last                          int64
	packets, bytes, revPackets, revBytes uint64
	flags, revFlags                      uint8
	// finFwd and finRev say a FIN was seen in each direction; they
	// survive an active timeout.
	finFwd, finRev bool
	// inActive says the entry is on the active list (it has a record in
	// progress).
	inActive bool
	// swapped says the record's key has mkey's ends the other way round
	// (Table.canonical swapped the first packet's key): a packet goes
	// forward when canonical swapped its key too, or did not for either.
	swapped bool
	// dstPort is the record key's DstPort, which mkey does not keep for
	// ICMP echo replies (mapped to the request's type).
	dstPort uint16
}

// recordKey returns the key of the flow's record: mkey turned back the
// way its first packet went.
func (e *entry) recordKey() Key {
	var k Key
	e.putRecordKey(&k)
	return k
}

// putRecordKey writes the key of the flow's record (recordKey) to *k,
// field by field.
func (e *entry) putRecordKey(k *Key) {
	m := &e.mkey
	if e.swapped {
		k.Src, k.Dst = m.Dst, m.Src
		if isICMP(m.Proto) {
			k.SrcPort = m.SrcPort
		} else {
			k.SrcPort = m.DstPort
		}
	} else {
		k.Src, k.Dst = m.Src, m.Dst
		k.SrcPort = m.SrcPort
	}
	k.DstPort = e.dstPort
	k.VLAN, k.Proto, k.IPVersion = m.VLAN, m.Proto, m.IPVersion
}

const (
	lruList    = 0
	activeList = 1
	none       = int32(-1)
)

type link struct{ prev, next int32 }
type list struct{ head, tail int32 }

// New returns a Table that calls export, synchronously, with each ended
// flow's record. The Record pointer is valid only during the call: copy
// the record to keep it. export must not call back into the Table.
func New(cfg Configuration, export func(*Record)) (*Table, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid flow configuration: %w", err)
	}
	if export == nil {
		return nil, fmt.Errorf("invalid flow configuration: nil export function")
	}
	t := &Table{
		biflow:   cfg.Biflow,
		maxFlows: cfg.MaxFlows,
		activeNs: int64(cfg.ActiveTimeout),
		idleNs:   int64(cfg.IdleTimeout),
		export:   export,
		index:    newFlowIndex(cfg.MaxFlows),
		free:     none,
		lists:    [2]list{{none, none}, {none, none}},
		now:      math.MinInt64,
		checkAt:  math.MinInt64,
		mem:      new(offHeap),
	}
	ring := new([len(t.pre)]prepared)
	for i := range t.pre {
		t.pre[i] = &ring[i]
	}
	t.index.mem = t.mem
	// The off-heap tables go back when the table is unreachable (the
	// cleanup holds only t.mem, which holds no reference to t).
	runtime.AddCleanup(t, (*offHeap).release, t.mem)
	return t, nil
}

// Len returns the number of live flows, counting those waiting for their
// next packet after an active timeout.
func (t *Table) Len() int {
	t.Sync()
	return t.index.n
}

// Stats returns the table's counters.
func (t *Table) Stats() Stats {
	t.Sync()
	s := t.stats
	s.Active = t.index.n
	return s
}

// Add accounts one packet. Summaries that are not IP are counted in
// Stats.NonIP and otherwise ignored. Add first advances the table's clock
// to the packet's timestamp (never backwards), exporting the flows that
// timed out by then; an out-of-order packet is still counted in its flow,
// whose Start and End stay the earliest and latest packet times. In steady
// state Add does not allocate. The packets AddLate left pending are
// added first.
func (t *Table) Add(s *packet.Summary) {
	t.Sync()
	if s.IPVersion == 0 {
		t.stats.NonIP++
		return
	}
	var p prepared
	p.fill(s)
	t.clock(&p)
	t.key(s, &p)
	p.swapped = t.canonical(&p.mk)
	p.h = t.index.hash(&p.mk)
	t.account(&p)
}

// AddLate is Add two packets late: it takes what the table needs of s (s
// can be reused at once), starts loading the index slot the packet's key
// leads to without waiting for it, and adds the packet of the call before
// the previous one. The packets of the last two calls stay pending until
// the next call of AddLate, or of Add, Sync, Expire, Flush, Stats or Len,
// which add them first. The records and the order of the export calls are
// those of Add; the calls come up to two packets later. On small packets
// the flow table waited a third of its time for each packet's index slot
// (a cache miss at the end of the key → hash → slot chain); here the slot
// is on its way while two packets are accounted and read and decoded.
// Fragments (whose ports depend on the fragments added before them) and
// non-IP packets are added at once, after the pending packets.
//
// It is kept out of line: profile-guided optimization inlines only the
// calls that are hot in the profile where the profile saw them, so once
// AddLate went inline into its caller, the calls in it (canonical, hash,
// fill, clock) were calls again (tiny: 865M → 894M instructions).
//
//go:noinline
func (t *Table) AddLate(s *packet.Summary) {
	if s.IPVersion == 0 || s.Fragment {
		t.Add(s)
		return
	}
	i := t.late
	p := t.pre[i%uint8(len(t.pre))]
	p.fill(s)
	// The index key in registers, then stored once: Add's key, canonical
	// and hash store the key field by field and read it back in words,
	// and the Summary's own fields were stored by the decoder just
	// before, an IPv4 address as 4 bytes and the ports as 2 bytes each.
	// A load wider than the store it reads (16-byte address moves, the
	// ports as one 4-byte word) cannot be forwarded from the store
	// buffer: it waited for the stores to reach the cache (tiny: a tenth
	// of AddLate's samples on one such load). Here every load matches a
	// store: the address's 4 or 16 bytes (an IPv4 address's other 12
	// bytes are zero, Summary's contract), each port apart.
	var a, b, c, d uint64
	if s.IPVersion == 4 {
		a = uint64(binary.LittleEndian.Uint32(s.Src[:4]))
		c = uint64(binary.LittleEndian.Uint32(s.Dst[:4]))
	} else {
		a, b = binary.LittleEndian.Uint64(s.Src[:8]), binary.LittleEndian.Uint64(s.Src[8:])
		c, d = binary.LittleEndian.Uint64(s.Dst[:8]), binary.LittleEndian.Uint64(s.Dst[8:])
	}
	var sp, dp uint16
	if s.HasPorts {
		sp = s.SrcPort
		dp = s.DstPort
	}
	proto := s.Proto
	p.dstPort = dp
	swapped := false
	if t.biflow {
		// canonical, on the words.
		x, y := bits.ReverseBytes64(a), bits.ReverseBytes64(c)
		if x == y {
			x, y = bits.ReverseBytes64(b), bits.ReverseBytes64(d)
		}
		icmp := isICMP(proto)
		if icmp {
			dp = echoRequest(proto, dp)
		}
		if x > y || x == y && !icmp && sp > dp {
			a, b, c, d = c, d, a, b
			if !icmp {
				sp, dp = dp, sp
			}
			swapped = true
		}
	}
	e := keyTail(sp, dp, s.VLAN, proto, s.IPVersion)
	mk := &p.mk
	binary.LittleEndian.PutUint64(mk.Src[:8], a)
	binary.LittleEndian.PutUint64(mk.Src[8:], b)
	binary.LittleEndian.PutUint64(mk.Dst[:8], c)
	binary.LittleEndian.PutUint64(mk.Dst[8:], d)
	// The tail from e, piece by piece: the compiler makes one 8-byte
	// store of them (where the fields took five).
	mk.SrcPort, mk.DstPort, mk.VLAN = uint16(e), uint16(e>>16), uint16(e>>32)
	mk.Proto, mk.IPVersion = uint8(e>>48), uint8(e>>56)
	p.swapped = swapped
	p.h = t.index.hashWords(a, b, c, d, e)
	// The slot's address, without a bounds check: before the first
	// array, slots is nil and mask 0, and a prefetch of any address is
	// harmless.
	x := &t.index
	prefetch.Line(uintptr(unsafe.Pointer(unsafe.SliceData(x.slots))) + uintptr(p.h&x.mask)*8)
	if t.pending == lateDepth {
		q := t.pre[(i-lateDepth)%uint8(len(t.pre))]
		t.clock(q)
		t.account(q)
	} else {
		t.pending++
	}
	t.late = i + 1
}

// lateDepth is how many packets AddLate keeps pending: each packet's slot
// is loaded while that many packets before it are accounted. One left
// a quarter of the wait on tiny's profile, and prefetching the entry of
// the packet in between as well cost more than it saved (see
// bench/RESULTS.md, round 6).
const lateDepth = 2

// Sync adds the packets AddLate left pending, if any.
func (t *Table) Sync() {
	for t.pending > 0 {
		q := t.pre[(t.late-t.pending)%uint8(len(t.pre))]
		t.pending--
		t.clock(q)
		t.account(q)
	}
}

// prepared is what the table takes of an IP packet's Summary: its index
// key and the key's hash, and the fields it accounts.
type prepared struct {
	mk      Key    // the packet's index key (mapKey of its key)
	h       uint64 // mk's hash
	ts      int64  // the packet's time, Unix nanoseconds
	n       uint64 // IP octets
	dstPort uint16 // the packet key's DstPort, which mk may not keep
	flags   uint8  // TCP flags
	swapped bool   // canonical swapped the packet key's ends into mk
	// truncated and malformed are the Summary's flags.
	truncated, malformed bool
}

// fill takes the fields of IP packet s that the table accounts, besides
// its key.
func (p *prepared) fill(s *packet.Summary) {
	p.ts = s.Timestamp.UnixNano()
	p.n = 0
	if s.IPLen > 0 {
		p.n = uint64(s.IPLen)
	}
	p.flags = 0
	if s.Proto == protoTCP && s.HasPorts && (!s.Fragment || s.FragOffset == 0) {
		p.flags = s.TCPFlags
	}
	p.truncated, p.malformed = s.Truncated, s.Malformed
}

// clock counts packet p's flags in the stats and advances the table's
// clock to its time (Add's first step).
func (t *Table) clock(p *prepared) {
	if p.truncated {
		t.stats.Truncated++
	}
	if p.malformed {
		t.stats.Malformed++
	}
	if ts := p.ts; ts > t.now {
		// advance, with its first check here: nearly every packet moves
		// the clock, and few reach a timeout.
		if ts > t.checkAt {
			t.advance(ts)
		} else {
			t.now = ts
		}
	}
}

// key sets p's key from IP packet s; the caller then turns it into the
// index key and hashes it (canonical and hash are called from Add and
// AddLate themselves: profile-guided optimization inlines the calls that
// are hot in the profile in their caller of the profile, and calls inside
// key, inlined in turn, are not). A fragment's ports come from the
// fragment cache, so a fragment's key is taken when it is added, after
// the clock moved.
func (t *Table) key(s *packet.Summary, p *prepared) {
	// Field by field: a composite literal is built aside and copied, and
	// reading back its small stores in 16-byte moves stalled the
	// processor (store forwarding) for a third of Add's own time.
	mk := &p.mk
	mk.Src = s.Src
	mk.Dst = s.Dst
	mk.VLAN, mk.Proto, mk.IPVersion = s.VLAN, s.Proto, s.IPVersion
	switch {
	case s.Fragment:
		sp, dp := t.fragmentPorts(s)
		setPorts(mk, sp, dp)
	case s.HasPorts:
		mk.SrcPort, mk.DstPort = s.SrcPort, s.DstPort
	default:
		mk.SrcPort, mk.DstPort = 0, 0
	}
	p.dstPort = mk.DstPort
}

// account adds IP packet p to its flow (the rest of Add, once the clock
// has moved).
func (t *Table) account(p *prepared) {
	ts, flags := p.ts, p.flags
	mk, h, swapped := &p.mk, p.h, p.swapped
	i, ok := t.lookup(mk, h)
	var e *entry
	if ok {
		e = &t.slab[i]
		switch {
		case t.now-e.last > t.idleNs:
			// The list walk in advance missed it (out-of-order times).
			if !e.empty() {
				t.exportRecord(i, EndIdleTimeout)
			}
			t.remove(i, h)
			ok = false
		case e.empty():
			e.start = ts
			t.pushBack(activeList, i)
		case t.now-e.start > t.activeNs:
			t.exportRecord(i, EndActiveTimeout)
			t.resetRecord(i)
			e.start = ts
			t.pushBack(activeList, i)
		}
	}
	if !ok {
		i = t.create(h, mk, swapped, p.dstPort, ts)
		e = &t.slab[i]
	}

	n := p.n
	if swapped == e.swapped {
		e.packets++
		e.bytes += n
		e.flags |= flags
		e.finFwd = e.finFwd || flags&tcpFIN != 0
	} else {
		e.revPackets++
		e.revBytes += n
		e.revFlags |= flags
		e.finRev = e.finRev || flags&tcpFIN != 0
	}
	if ts > e.last {
		e.last = ts
	}
	if ts < e.start {
		e.start = ts
		t.checkAt = math.MinInt64
	}
	t.touch(i)
	t.stats.Packets++
	t.stats.Bytes += n

	if flags&tcpRST != 0 || e.finFwd && (e.finRev || !t.biflow) {
		t.exportRecord(i, EndOfFlow)
		t.remove(i, h)
	}
}

// Expire advances the table's clock to now, if later, and exports the
// flows that are idle or active timed out by then. A live capture calls it
// periodically so that flows end even when no packet arrives; Add calls
// it itself.
func (t *Table) Expire(now time.Time) {
	t.Sync()
	t.advance(now.UnixNano())
}

// Flush exports every live flow with EndForced, least recently active
// first, and empties the table (end of capture or stop). The table can be
// used again afterwards.
func (t *Table) Flush() {
	// The order first, then the flows a batch at a time: each batch's
	// entries are read together, so that their cache misses overlap
	// instead of one after the other between exports (a flush of a large
	// table spent nine tenths of its time waiting for them).
	// The list is walked from both ends at once: two chains of
	// dependent loads overlap where one waited for each link in turn.
	t.Sync()
	n := t.index.n
	if cap(t.order) < n {
		t.order = make([]int32, n)
	}
	order := t.order[:n]
	f, b := t.lists[lruList].head, t.lists[lruList].tail
	lo, hi := 0, n-1
	for ; lo < hi; lo, hi = lo+1, hi-1 {
		order[lo], order[hi] = f, b
		f, b = t.links[f][lruList].next, t.links[b][lruList].prev
	}
	if lo == hi {
		order[lo] = f
	}
	const batch = 16
	var empty [batch]bool
	for len(order) > 0 {
		n := min(len(order), batch)
		for j, i := range order[:n] {
			empty[j] = t.slab[i].empty()
		}
		for j, i := range order[:n] {
			if !empty[j] {
				t.exportRecord(i, EndForced)
			}
		}
		order = order[n:]
	}
	// Every flow is gone: empty the index, the slab and the lists at once.
	t.index.reset()
	t.slab = t.slab[:0]
	t.links = t.links[:0]
	t.free = none
	t.lists = [2]list{{none, none}, {none, none}}
	t.checkAt = math.MinInt64
	t.frags.reset()
}

// advance moves the clock to ts if it is later and exports what timed out:
// idle flows from the head of the LRU list, then active timeouts from the
// head of the active list. Both lists are ordered by time (up to
// out-of-order packets), so each check stops at the first live entry.
func (t *Table) advance(ts int64) {
	if ts <= t.now {
		return
	}
	t.now = ts
	if ts <= t.checkAt {
		return
	}
	for i := t.lists[lruList].head; i != none; i = t.lists[lruList].head {
		e := &t.slab[i]
		if t.now-e.last <= t.idleNs {
			break
		}
		if !e.empty() {
			t.exportRecord(i, EndIdleTimeout)
		}
		t.remove(i, t.hashOf(i))
	}
	for i := t.lists[activeList].head; i != none; i = t.lists[activeList].head {
		if t.now-t.slab[i].start <= t.activeNs {
			break
		}
		t.exportRecord(i, EndActiveTimeout)
		t.resetRecord(i)
	}
	t.checkAt = math.MaxInt64
	if i := t.lists[lruList].head; i != none {
		t.checkAt = addSat(t.slab[i].last, t.idleNs)
	}
	if i := t.lists[activeList].head; i != none {
		t.checkAt = min(t.checkAt, addSat(t.slab[i].start, t.activeNs))
	}
}

// addSat returns a+b for b >= 0, or math.MaxInt64 when that overflows.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// create adds a flow for a packet that matched none, evicting the least
// recently active flow first when the table is full. mk is the packet's
// index key, which hashes to h; swapped and dstPort say how to turn it
// back into the packet's key (see entry).
func (t *Table) create(h uint64, mk *Key, swapped bool, dstPort uint16, ts int64) int32 {
	if t.index.n >= t.maxFlows {
		old := t.lists[lruList].head
		if !t.slab[old].empty() {
			t.stats.Evicted++
			t.exportRecord(old, EndLackOfResources)
		}
		t.remove(old, t.hashOf(old))
	}
	var i int32
	if t.free != none {
		i = t.free
		t.free = t.links[i][lruList].next
	} else {
		if len(t.slab) == cap(t.slab) {
			t.growSlab()
		}
		t.slab = append(t.slab, entry{})
		t.links = append(t.links, [2]link{})
		i = int32(len(t.slab) - 1)
	}
	t.slab[i] = entry{mkey: *mk, start: ts, last: ts, swapped: swapped, dstPort: dstPort}
	t.index.insert(h, i)
	t.pushBack(lruList, i)
	t.pushBack(activeList, i)
	t.stats.Created++
	return i
}

// lookup returns the slab slot of the flow whose index key is mk, which
// hashes to h.
func (t *Table) lookup(mk *Key, h uint64) (int32, bool) {
	x := &t.index
	if x.n == 0 {
		return none, false
	}
	tag := slotTag(h)
	for pos := h & x.mask; ; pos = (pos + 1) & x.mask {
		s := x.slots[pos]
		if s == 0 {
			return none, false
		}
		if s>>32 == tag {
			i := slotIndex(s)
			if sameKey(&t.slab[i].mkey, mk) {
				return i, true
			}
		}
	}
}

// hashOf returns the hash of flow i's index key.
func (t *Table) hashOf(i int32) uint64 {
	return t.index.hash(&t.slab[i].mkey)
}

// remove deletes flow i, whose index key hashes to h, and frees its slot.
func (t *Table) remove(i int32, h uint64) {
	t.index.deleteAt(t.index.position(h, i))
	t.unlink(lruList, i)
	if t.slab[i].inActive {
		t.unlink(activeList, i)
	}
	t.links[i][lruList].next = t.free
	t.free = i
}

// resetRecord clears flow i's counters after its record was exported on
// active timeout; the flow keeps its key and TCP FIN state and leaves the
// active list until its next packet.
func (t *Table) resetRecord(i int32) {
	e := &t.slab[i]
	e.packets, e.bytes, e.revPackets, e.revBytes = 0, 0, 0, 0
	e.flags, e.revFlags = 0, 0
	t.unlink(activeList, i)
}

// exportRecord hands flow i's current record to the export function.
func (t *Table) exportRecord(i int32, reason EndReason) {
	e := &t.slab[i]
	// Field by field, in place: a composite literal (and recordKey's
	// returned Key) is built aside and copied in 16-byte moves over its
	// small stores, a store-forwarding stall per record (as in Add).
	r := &t.rec
	e.putRecordKey(&r.Key)
	r.Start = time.Unix(0, e.start).UTC()
	r.End = time.Unix(0, e.last).UTC()
	r.Packets, r.Bytes = e.packets, e.bytes
	r.RevPackets, r.RevBytes = e.revPackets, e.revBytes
	r.TCPFlags, r.RevTCPFlags = e.flags, e.revFlags
	r.EndReason = reason
	t.stats.Exported++
	t.export(&t.rec)
}

// empty says the flow has no packet in its current record.
func (e *entry) empty() bool { return e.packets == 0 && e.revPackets == 0 }

// mapKey returns the index key of a flow whose packet (or record) key is
// k. In biflow mode both directions of a conversation map to one key: the
// endpoints are put in a canonical order and ICMP echo replies take the
// request's type.
func (t *Table) mapKey(k Key) Key {
	t.canonical(&k)
	return k
}

// canonical turns k into its index key in place (see mapKey) and says
// whether it swapped its ends.
func (t *Table) canonical(k *Key) bool {
	if !t.biflow {
		return false
	}
	if isICMP(k.Proto) {
		setPorts(k, k.SrcPort, echoRequest(k.Proto, k.DstPort))
		if compareAddr(&k.Src, &k.Dst) > 0 {
			k.Src, k.Dst = k.Dst, k.Src
			return true
		}
		return false
	}
	if c := compareAddr(&k.Src, &k.Dst); c > 0 || c == 0 && k.SrcPort > k.DstPort {
		k.Src, k.Dst = k.Dst, k.Src
		setPorts(k, k.DstPort, k.SrcPort)
		return true
	}
	return false
}

// setPorts sets both ports of k in one 4-byte store. The hash reads them
// with one 4-byte load (the compiler merges the two), which the processor
// cannot forward from two 2-byte stores still in its store buffer: it
// waited for them to reach the cache, on every key canonical swapped
// (half of a biflow's packets), the largest stall of the hash.
func setPorts(k *Key, src, dst uint16) {
	p := uint32(src) | uint32(dst)<<16
	k.SrcPort, k.DstPort = uint16(p), uint16(p>>16)
}

// sameKey says a == b, a word at a time, inline (*a == *b calls
// memequal).
func sameKey(a, b *Key) bool {
	return a.Src == b.Src && a.Dst == b.Dst &&
		a.SrcPort == b.SrcPort && a.DstPort == b.DstPort && a.VLAN == b.VLAN &&
		a.Proto == b.Proto && a.IPVersion == b.IPVersion
}

// compareAddr compares two addresses as bytes.Compare would, a word at a
// time.
func compareAddr(a, b *[16]byte) int {
	a0, b0 := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])
	if a0 == b0 {
		a0, b0 = binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:])
	}
	switch {
	case a0 < b0:
		return -1
	case a0 > b0:
		return 1
	}
	return 0
}

func isICMP(proto uint8) bool { return proto == protoICMP || proto == protoICMPv6 }

// echoRequest maps an ICMP echo reply's type<<8|code to the echo
// request's, and returns any other value unchanged.
func echoRequest(proto uint8, typeCode uint16) uint16 {
	typ, code := typeCode>>8, typeCode&0xff
	switch {
	case proto == protoICMP && typ == icmpEchoReply:
		return icmpEchoRequest<<8 | code
	case proto == protoICMPv6 && typ == icmpv6EchoReply:
		return icmpv6EchoRequest<<8 | code
	}
	return typeCode
}

// pushBack appends entry i to list l.
func (t *Table) pushBack(l int, i int32) {
	ls := &t.lists[l]
	t.links[i][l] = link{prev: ls.tail, next: none}
	if ls.tail != none {
		t.links[ls.tail][l].next = i
	} else {
		ls.head = i
		t.checkAt = math.MinInt64
	}
	ls.tail = i
	if l == activeList {
		t.slab[i].inActive = true
	}
}

// unlink removes entry i from list l.
func (t *Table) unlink(l int, i int32) {
	ls := &t.lists[l]
	lk := t.links[i][l]
	if lk.prev != none {
		t.links[lk.prev][l].next = lk.next
	} else {
		ls.head = lk.next
		t.checkAt = math.MinInt64
	}
	if lk.next != none {
		t.links[lk.next][l].prev = lk.prev
	} else {
		ls.tail = lk.prev
	}
	if l == activeList {
		t.slab[i].inActive = false
	}
}

// touch moves entry i to the end of the LRU list: unlink and pushBack by
// hand for the one list, since it runs for every packet.
func (t *Table) touch(i int32) {
	ls := &t.lists[lruList]
	tail := ls.tail
	if tail == i {
		return
	}
	// i is on the list and not its tail: it has a next, and the list a
	// tail.
	lk := &t.links[i][lruList]
	prev, next := lk.prev, lk.next
	if prev != none {
		t.links[prev][lruList].next = next
	} else {
		ls.head = next
		t.checkAt = math.MinInt64
	}
	t.links[next][lruList].prev = prev
	lk.prev, lk.next = tail, none
	t.links[tail][lruList].next = i
	ls.tail = i
}
