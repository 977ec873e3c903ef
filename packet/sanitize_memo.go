package packet

import (
	"encoding/binary"

	"github.com/gimsproject/gims/internal/tablemem"
)

// A Sanitizer remembers the mappings it made in memos of its own, one per
// kind of address: a link's packets carry the same hosts over and over,
// and a hit in a memo that only one goroutine uses (no atomics, no call
// through an interface, no KeepReserved check) costs a few nanoseconds,
// where the shared, concurrent caches of the mappers cost tens and a miss
// there (macanon: 10 AES blocks) hundreds. The memos hold what the mappers
// returned, so the output never depends on them.
//
// Each memo is a set-associative table hashed by multiplication (a bad
// spread only costs speed: a miss falls through to the mappers and their
// keyed caches), the most recently used entry of a set first: a hit there
// is the fast path's, inline; a hit in another way moves the entry to the
// front. They are sized for the working set of a busy link and allocated
// once by NewSanitizer:
//
//	IPv4: 4096 sets of 4 (16384 addresses, 128 KiB, a set is half a line),
//	IPv6: 4096 sets of 4 (16384 addresses, 512 KiB, a set is two lines),
//	MAC:  4096 sets of 2 (8192 addresses, 128 KiB).
//
// The address memos had 2 ways (IPv4 8192 sets, IPv6 4096 sets) until
// the suite's traces showed their conflicts: on ipv6 (4,656 IPv6
// addresses) the IPv6 memo missed 19,015 times where 4,656 first sightings
// must miss, and each miss costs a lookup in Crypto-PAn's large caches
// (a memory access, ~300 ns); tiny's IPv4 memo missed 8,470 times for
// 4,655 addresses. With 4 ways neither misses beyond the first sightings,
// and the lines a hit touches are those of the 2-way memos: the first
// line of a set (the IPv6 memo's second line only for its third and
// fourth entries).
//
// A zero entry stands for a mapping that is right without being computed:
// 0.0.0.0 and :: map to themselves (KeepReserved keeps them), and a MAC
// entry holds a valid bit in its key.
const (
	memo4Bits   = 12 // sets of IPv4 addresses
	memo16Bits  = 12 // sets of IPv6 addresses
	memoMACBits = 12 // sets of MAC addresses
	memo4Ways   = 4
	memo16Ways  = 4
	memoValid   = 1 << 63
)

// sanitizeMemo holds the memos of a Sanitizer.
type sanitizeMemo struct {
	v4  *[1 << memo4Bits]memo4Set
	v6  *[1 << memo16Bits]memo16Set
	mac *[1 << memoMACBits][2]memoMACEntry
}

// memo4Set is a set of the IPv4 memo: address<<32 | mapped, per way.
type memo4Set = [memo4Ways]uint64

// memo16Set is a set of the IPv6 memo.
type memo16Set = [memo16Ways]memo16Entry

type memo16Entry struct{ k0, k1, v0, v1 uint64 }

type memoMACEntry struct{ k, v uint64 } // k: address | memoValid

// newSanitizeMemo allocates the memos (the MAC memo only with mac)
// outside the Go heap (package tablemem: they would bring the next
// collection closer) and returns the function that returns their memory,
// for a cleanup of their owner.
func newSanitizeMemo(mac bool) (sanitizeMemo, func()) {
	v4, r4 := tablemem.Make[memo4Set](1 << memo4Bits)
	v6, r6 := tablemem.Make[memo16Set](1 << memo16Bits)
	m := sanitizeMemo{v4: (*[1 << memo4Bits]memo4Set)(v4), v6: (*[1 << memo16Bits]memo16Set)(v6)}
	releases := []func(){r4, r6}
	if mac {
		macs, r := tablemem.Make[[2]memoMACEntry](1 << memoMACBits)
		m.mac = (*[1 << memoMACBits][2]memoMACEntry)(macs)
		releases = append(releases, r)
	}
	return m, func() {
		for _, r := range releases {
			r()
		}
	}
}

// Multipliers of the hashes (Fibonacci hashing, and the splitmix64
// constant to mix the halves of an IPv6 address).
const (
	golden32 = 0x9e3779b1
	golden64 = 0x9e3779b97f4a7c15
	mix64c   = 0xbf58476d1ce4e5b9
)

// Set indexes of the memos.
func set4(x uint32) uint32       { return (x * golden32) >> (32 - memo4Bits) }
func set16(k0, k1 uint64) uint64 { return ((k0*golden64 ^ k1) * mix64c) >> (64 - memo16Bits) }
func setMAC(x uint64) uint64     { return (x * golden64) >> (64 - memoMACBits) }

// map4 maps the IPv4 address x (big-endian) through the memo: a hit in
// the set's first way here (the fast path repeats this check inline), anything
// else in map4Miss. So do map16 and mapMAC.
func (s *Sanitizer) map4(x uint32) uint32 {
	set := &s.memo.v4[set4(x)]
	if e := set[0]; e>>32 == uint64(x) {
		return uint32(e)
	}
	return s.map4Miss(x, set)
}

// map4Miss is the memo's lookup past its first way, and the miss: not
// inlined, even where the profile finds it hot, so that its callers on
// the fast path stay within the inliner's budget (see SanitizeDecodedTo).
//
//go:noinline
func (s *Sanitizer) map4Miss(x uint32, set *memo4Set) uint32 {
	for i := 1; i < memo4Ways; i++ {
		if e := set[i]; e>>32 == uint64(x) {
			for ; i > 0; i-- { // move it to the front
				set[i] = set[i-1]
			}
			set[0] = e
			return uint32(e)
		}
	}
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], x)
	m := s.ip.Anonymize4(a)
	v := binary.BigEndian.Uint32(m[:])
	for i := memo4Ways - 1; i > 0; i-- { // the last entry goes
		set[i] = set[i-1]
	}
	set[0] = uint64(x)<<32 | uint64(v)
	return v
}

// map16 maps the IPv6 address k0:k1 (big-endian halves) through the memo.
func (s *Sanitizer) map16(k0, k1 uint64) (uint64, uint64) {
	set := &s.memo.v6[set16(k0, k1)]
	if e := &set[0]; e.k0 == k0 && e.k1 == k1 {
		return e.v0, e.v1
	}
	return s.map16Miss(k0, k1, set)
}

// map16Miss is the memo's lookup past its first way, and the miss: not
// inlined, even where the profile finds it hot, so that its callers on
// the fast path stay within the inliner's budget (see SanitizeDecodedTo).
//
//go:noinline
func (s *Sanitizer) map16Miss(k0, k1 uint64, set *memo16Set) (uint64, uint64) {
	for i := 1; i < memo16Ways; i++ {
		if e := set[i]; e.k0 == k0 && e.k1 == k1 {
			for ; i > 0; i-- {
				set[i] = set[i-1]
			}
			set[0] = e
			return e.v0, e.v1
		}
	}
	var a [16]byte
	binary.BigEndian.PutUint64(a[:8], k0)
	binary.BigEndian.PutUint64(a[8:], k1)
	m := s.ip.Anonymize16(a)
	v0, v1 := binary.BigEndian.Uint64(m[:8]), binary.BigEndian.Uint64(m[8:])
	for i := memo16Ways - 1; i > 0; i-- {
		set[i] = set[i-1]
	}
	set[0] = memo16Entry{k0, k1, v0, v1}
	return v0, v1
}

// mapMAC maps the unicast MAC address x (48 bits, big-endian) through
// the memo.
func (s *Sanitizer) mapMAC(x uint64) uint64 {
	set := &s.memo.mac[setMAC(x)]
	if e := set[0]; e.k == x|memoValid {
		return e.v
	}
	return s.mapMACMiss(x, set)
}

// mapMACMiss is the memo's lookup past its first way, and the miss: not
// inlined, even where the profile finds it hot, so that its callers on
// the fast path stay within the inliner's budget (see SanitizeDecodedTo).
//
//go:noinline
func (s *Sanitizer) mapMACMiss(x uint64, set *[2]memoMACEntry) uint64 {
	k := x | memoValid
	if e := set[1]; e.k == k {
		set[0], set[1] = e, set[0]
		return e.v
	}
	var a [6]byte
	putMAC(a[:], x)
	m := s.macs.AnonymizeMAC(a)
	v := getMAC(m[:])
	set[1], set[0] = set[0], memoMACEntry{k, v}
	return v
}

// macBroadcast is ff:ff:ff:ff:ff:ff as getMAC reads it: the one MAC the
// sanitizer keeps in every mode (macanon keeps 00:00:00:00:00:00 too).
const macBroadcast = 1<<48 - 1

// getMAC reads the 48-bit MAC address at the start of b.
func getMAC(b []byte) uint64 {
	_ = b[5]
	return uint64(binary.BigEndian.Uint16(b))<<32 | uint64(binary.BigEndian.Uint32(b[2:]))
}

// putMAC writes the 48-bit MAC address x at the start of b.
func putMAC(b []byte, x uint64) {
	_ = b[5]
	binary.BigEndian.PutUint16(b, uint16(x>>32))
	binary.BigEndian.PutUint32(b[2:], uint32(x))
}

// Anonymize4 maps an IPv4 address as the Sanitizer maps the addresses of
// the frames it sanitizes (KeepReserved of its Anonymizer), through its
// memo. With it a Sanitizer is an Anonymizer for the flow records of the
// same capture, which carry the same addresses as its packets. Like
// Sanitize, it is not safe for concurrent use.
func (s *Sanitizer) Anonymize4(a [4]byte) [4]byte {
	var r [4]byte
	binary.BigEndian.PutUint32(r[:], s.map4(binary.BigEndian.Uint32(a[:])))
	return r
}

// Anonymize16 maps an IPv6 address as Anonymize4 does.
func (s *Sanitizer) Anonymize16(a [16]byte) [16]byte {
	v0, v1 := s.map16(binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:]))
	return ip16(v0, v1)
}

func ip16(v0, v1 uint64) [16]byte {
	var r [16]byte
	binary.BigEndian.PutUint64(r[:8], v0)
	binary.BigEndian.PutUint64(r[8:], v1)
	return r
}
