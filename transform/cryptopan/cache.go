package cryptopan

import (
	"math/bits"
	"sync/atomic"

	"github.com/gimsproject/gims/internal/tablemem"
)

// The caches hold one-time pads, not anonymized addresses: bit i of the pad
// of an address depends only on its first i bits, so the first n bits of the
// pad of any address in a /n prefix are the same and a prefix's pad can be
// reused for every address under it. An address is looked up from the most
// specific level to the least; the missing bits are computed from the best
// level found and every level passed on the way is filled in:
//
//	IPv4: address → /24 → /16 (8 AES blocks per level)
//	IPv6: address → /120 → /112 → /64 → /48 → /32 → /16 (8 to 64 AES
//	blocks per level)
//
// The /16 level is a plain 65536-entry table shared by IPv4 and IPv6 (the
// first 16 bits of the pad are computed the same way for both). The other
// levels are fixed-size 4-way set-associative hash tables, hashed with a seed
// derived from the key; a full bucket drops its oldest entry. Memory never
// grows after New (see Configuration for the bound).
//
// Concurrency: every access is atomic, so readers never block and never
// see a torn entry. table64 keeps a whole entry in one 64-bit word; wideTable
// entries are guarded by a per-entry sequence number (a seqlock): a reader
// retries nothing, it treats a concurrent update as a miss. Writers that lose
// a race simply do not cache; the result they return is computed, so it is
// always right.

// prefix16Entry is the pad of a /16: its first 16 bits in the top half, bit 0
// set once computed.
type prefix16Entry struct {
	v atomic.Uint32
}

// ways is the associativity of the hash tables: a key may sit in any of the
// ways entries of its bucket. With 4 ways a table holding half as many keys
// as entries almost never has a bucket overflow, where 2 ways (or a
// direct-mapped table) would make a few percent of a steady working set
// evict each other on every pass.
const ways = 4

// table64 is a set-associative hash table from 32-bit keys to 32-bit
// values, each entry one atomic 64-bit word: a tag in the high half (bit 31
// set for a valid entry, then the hash bits that the bucket index does not
// already give) and the value in the low half. The hash is a bijection of
// the key, so the bucket and the tag together identify the key exactly. A
// bucket is 32 bytes, within one CPU cache line.
type table64 struct {
	slots []atomic.Uint64 // ways per bucket; nil if disabled
	mask  uint32          // buckets - 1
	shift uint            // log2(buckets), at least 1
	seed  uint32
}

// newTable64 returns a table of about n entries (0 disables it). Its
// memory is outside the Go heap; the function that returns it is added
// to releases.
func newTable64(n int, seed uint32, releases *[]func()) table64 {
	if n <= 0 {
		return table64{}
	}
	buckets := roundPow2(n) / ways // roundPow2 returns at least 2*ways
	slots, release := tablemem.Make[atomic.Uint64](ways * buckets)
	*releases = append(*releases, release)
	return table64{
		slots: slots,
		mask:  uint32(buckets - 1),
		shift: uint(bits.TrailingZeros(uint(buckets))),
		seed:  seed,
	}
}

// locate returns the bucket of key and the high word that an entry for key
// carries.
func (t *table64) locate(key uint32) ([]atomic.Uint64, uint64) {
	h := mix32(key ^ t.seed)
	tag := uint64(1<<31|h>>t.shift) << 32
	i := int(h&t.mask) * ways
	return t.slots[i : i+ways : i+ways], tag
}

// get returns the value stored for key.
func (t *table64) get(key uint32) (uint32, bool) {
	if t.slots == nil {
		return 0, false
	}
	b, tag := t.locate(key)
	for i := range b {
		if e := b[i].Load(); e&^0xffffffff == tag {
			return uint32(e), true
		}
	}
	return 0, false
}

// put stores v for key: in the entry that has key or in the first empty one;
// in a full bucket the entries shift down one way, the oldest is dropped and
// the new one goes first.
func (t *table64) put(key, v uint32) {
	if t.slots == nil {
		return
	}
	b, tag := t.locate(key)
	e := tag | uint64(v)
	for i := range b {
		if old := b[i].Load(); old == 0 || old&^0xffffffff == tag {
			b[i].Store(e)
			return
		}
	}
	for i := ways - 1; i > 0; i-- {
		b[i].Store(b[i-1].Load())
	}
	b[0].Store(e)
}

// wideEntry is one 128-bit key and its 128-bit value, guarded by seq: odd
// while a writer is updating the entry, 0 if it was never written.
type wideEntry struct {
	seq            atomic.Uint64
	k0, k1, v0, v1 atomic.Uint64
}

// load returns the key and value of e, unless e is empty or being written.
func (e *wideEntry) load() (k0, k1, v0, v1 uint64, ok bool) {
	seq := e.seq.Load()
	if seq == 0 || seq&1 != 0 {
		return 0, 0, 0, 0, false
	}
	k0, k1, v0, v1 = e.k0.Load(), e.k1.Load(), e.v0.Load(), e.v1.Load()
	if e.seq.Load() != seq {
		return 0, 0, 0, 0, false
	}
	return k0, k1, v0, v1, true
}

// store replaces the key and value of e, unless another writer holds it.
func (e *wideEntry) store(k0, k1, v0, v1 uint64) {
	seq := e.seq.Load()
	if seq&1 != 0 || !e.seq.CompareAndSwap(seq, seq+1) {
		return
	}
	e.k0.Store(k0)
	e.k1.Store(k1)
	e.v0.Store(v0)
	e.v1.Store(v1)
	e.seq.Store(seq + 2)
}

// wideTable is a set-associative hash table from 128-bit keys to 128-bit
// values whose entries are seqlocks made of atomic words.
type wideTable struct {
	entries []wideEntry // ways per bucket; nil if disabled
	mask    uint64      // buckets - 1
	seed    uint64
}

// newWideTable returns a table of about n entries (0 disables it), as
// newTable64 does.
func newWideTable(n int, seed uint64, releases *[]func()) wideTable {
	if n <= 0 {
		return wideTable{}
	}
	size := roundPow2(n)
	entries, release := tablemem.Make[wideEntry](size)
	*releases = append(*releases, release)
	return wideTable{
		entries: entries,
		mask:    uint64(size/ways - 1),
		seed:    seed,
	}
}

// bucket returns the entries where the key k0:k1 may be.
func (t *wideTable) bucket(k0, k1 uint64) []wideEntry {
	h := mix64(k0 ^ t.seed ^ mix64(k1+t.seed))
	i := (h & t.mask) * ways
	return t.entries[i : i+ways : i+ways]
}

// get returns the value stored for the key k0:k1. An entry being updated
// counts as a miss.
func (t *wideTable) get(k0, k1 uint64) (uint64, uint64, bool) {
	if t.entries == nil {
		return 0, 0, false
	}
	b := t.bucket(k0, k1)
	for i := range b {
		if ek0, ek1, v0, v1, ok := b[i].load(); ok && ek0 == k0 && ek1 == k1 {
			return v0, v1, true
		}
	}
	return 0, 0, false
}

// put stores v0:v1 for the key k0:k1, as table64.put does. If another
// writer holds an entry, put gives up on it: the cache may then miss, never
// lie.
func (t *wideTable) put(k0, k1, v0, v1 uint64) {
	if t.entries == nil {
		return
	}
	b := t.bucket(k0, k1)
	for i := range b {
		ek0, ek1, _, _, ok := b[i].load()
		if ok && ek0 == k0 && ek1 == k1 || !ok && b[i].seq.Load() == 0 {
			b[i].store(k0, k1, v0, v1)
			return
		}
	}
	for i := ways - 1; i > 0; i-- {
		if ek0, ek1, ev0, ev1, ok := b[i-1].load(); ok {
			b[i].store(ek0, ek1, ev0, ev1)
		}
	}
	b[0].store(k0, k1, v0, v1)
}

// otp4 returns the 32-bit one-time pad of the IPv4 address x, through the
// caches.
func (c *Cipher) otp4(x uint32) uint32 {
	if v, ok := c.addr4.get(x); ok {
		return v
	}
	var otp uint32
	from := 0
	if v, ok := c.pre24.get(x >> 8); ok {
		otp, from = v, 24
	} else if e := c.pre16[x>>16].v.Load(); e&1 != 0 {
		otp, from = e&^1, 16
	}

	s := c.scratch.Get().(*scratch)
	hi := uint64(x) << 32
	ohi := uint64(otp) << 32
	if from < 16 {
		ohi, _ = c.otpBits(s, hi, 0, ohi, 0, 0, 16)
		c.pre16[x>>16].v.Store(uint32(ohi>>32) | 1)
	}
	if from < 24 {
		ohi, _ = c.otpBits(s, hi, 0, ohi, 0, 16, 24)
		c.pre24.put(x>>8, uint32(ohi>>32))
	}
	ohi, _ = c.otpBits(s, hi, 0, ohi, 0, 24, 32)
	c.scratch.Put(s)

	otp = uint32(ohi >> 32)
	c.addr4.put(x, otp)
	return otp
}

// Masks of the IPv6 prefixes within a 64-bit word: mask48 keeps the
// first 48 bits of the high word (a /48), mask112 and mask120 the first
// 48 and 56 bits of the low word (a /112 and a /120).
const (
	mask48  = 0xffff_ffff_ffff_0000
	mask112 = 0xffff_ffff_ffff_0000
	mask120 = 0xffff_ffff_ffff_ff00
)

// otp16 returns the 128-bit one-time pad of the IPv6 address hi:lo, through
// the caches.
//
// The /112 and /120 levels serve the hosts numbered from the bottom of
// their /64 (static and DHCPv6 addresses: ::1, ::53, ::1:2a6; the upper
// half of the interface identifier zero): a new host in a known /120 costs
// the AES blocks of its last 8 bits, not of its last 64. The addresses with
// an identifier of their own (SLAAC, privacy addresses) share no more than
// their /64 with other hosts; for them the levels would only cost two
// lookups and two stores, so they skip them.
func (c *Cipher) otp16(hi, lo uint64) (uint64, uint64) {
	if v0, v1, ok := c.addr16.get(hi, lo); ok {
		return v0, v1
	}
	low := lo>>32 == 0 // numbered from the bottom: the /112 and /120 levels
	ohi, olo, from := c.prefix16(hi, lo, low)
	s := c.scratch.Get().(*scratch)
	if from < 16 {
		ohi, _ = c.otpBits(s, hi, 0, ohi, 0, 0, 16)
		c.pre16[hi>>48].v.Store(uint32(ohi>>32) | 1)
	}
	if from < 32 {
		ohi, _ = c.otpBits(s, hi, 0, ohi, 0, 16, 32)
		c.pre32.put(uint32(hi>>32), uint32(ohi>>32))
	}
	if from < 48 {
		ohi, _ = c.otpBits(s, hi, 0, ohi, 0, 32, 48)
		c.pre48.put(hi&mask48, 0, ohi, 0)
	}
	if from < 64 {
		ohi, _ = c.otpBits(s, hi, 0, ohi, 0, 48, 64)
		c.pre64.put(hi, 0, ohi, 0)
	}
	if low {
		if from < 112 {
			ohi, olo = c.otpBits(s, hi, lo, ohi, olo, 64, 112)
			c.pre112.put(hi, lo&mask112, ohi, olo)
		}
		if from < 120 {
			ohi, olo = c.otpBits(s, hi, lo, ohi, olo, 112, 120)
			c.pre120.put(hi, lo&mask120, ohi, olo)
		}
		from = 120
	}
	ohi, olo = c.otpBits(s, hi, lo, ohi, olo, max(from, 64), 128)
	c.scratch.Put(s)

	c.addr16.put(hi, lo, ohi, olo)
	return ohi, olo
}

// prefix16 returns the pad of the longest prefix of the IPv6 address hi:lo
// that the caches hold and its length (0 if none; the /112 and /120 levels
// only when low): the pad's bits before from, the others 0.
func (c *Cipher) prefix16(hi, lo uint64, low bool) (ohi, olo uint64, from int) {
	if low {
		if v0, v1, ok := c.pre120.get(hi, lo&mask120); ok {
			return v0, v1, 120
		}
		if v0, v1, ok := c.pre112.get(hi, lo&mask112); ok {
			return v0, v1, 112
		}
	}
	if v, _, ok := c.pre64.get(hi, 0); ok {
		return v, 0, 64
	}
	if v, _, ok := c.pre48.get(hi&mask48, 0); ok {
		return v, 0, 48
	}
	if v, ok := c.pre32.get(uint32(hi >> 32)); ok {
		return uint64(v) << 32, 0, 32
	}
	if e := c.pre16[hi>>48].v.Load(); e&1 != 0 {
		return uint64(e&^1) << 32, 0, 16
	}
	return 0, 0, 0
}

// roundPow2 returns the smallest power of two ≥ n, and at least 2*ways (so
// that a table64 has at least two buckets and a shift of at least 1, which
// leaves room for the valid bit in its tags).
func roundPow2(n int) int {
	if n <= 2*ways {
		return 2 * ways
	}
	return 1 << bits.Len(uint(n-1))
}

// mix32 is the MurmurHash3 finalizer: a bijection of uint32 that spreads
// every input bit over the output.
func mix32(h uint32) uint32 {
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// mix64 is the 64-bit MurmurHash3 finalizer.
func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9a53ce5e558
	h ^= h >> 33
	return h
}
