// Package cryptopan implements Crypto-PAn, the prefix-preserving IP address
// anonymization of Xu, Fan, Ammar and Moon (2002), as SPEC §5 requires it on
// the capture path.
//
// The 32-byte key is split in two: its first 16 bytes key AES-128, and the AES
// encryption of its last 16 bytes is the pad. Bit i of the anonymized address
// is bit i of the original XOR the most significant bit of the AES encryption
// of a block made of the first i bits of the original address followed by the
// remaining bits of the pad. Two addresses sharing a k-bit prefix therefore
// map to addresses sharing exactly a k-bit prefix. IPv4 uses the first 32 bits
// of the block, IPv6 the whole 128 bits (as the Yawning/cryptopan Go port and
// yacryptopan do). The output matches the sample trace of the original
// Crypto-PAn distribution bit for bit.
//
// Done naively, an IPv4 address costs 32 AES block encryptions and an IPv6
// address 128. A Cipher caches what it has computed (see cache.go) so that a
// realistic trace, where most addresses and prefixes repeat, costs a few
// table lookups per address. A Cipher is safe for concurrent use and does not
// allocate per address.
package cryptopan

import (
	"crypto/aes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"runtime"
	"sync"

	"github.com/gimsproject/gims/internal/check"
	"github.com/gimsproject/gims/internal/tablemem"
)

// KeySize is the length in bytes of a Crypto-PAn key: 16 bytes of AES-128 key
// followed by 16 bytes from which the pad is derived.
const KeySize = 32

// Configuration sizes the caches of a Cipher. Each size is a number of entries,
// rounded up to a power of two (at least 8); 0 disables that cache. The
// results never depend on the configuration, only the speed and memory do.
//
// The memory a Cipher uses is allocated once by New and never grows; with
// the sizes rounded up it is
//
//	256 KiB (the /16 prefix table, always present)
//	+ 8 B × (AddrCache4 + PrefixCache4)
//	+ 8 B × PrefixCache6 (IPv6 /32)
//	+ 4 × 40 B × PrefixCache6 (IPv6 /48, /64, /112, /120)
//	+ 40 B × AddrCache6,
//
// about 2.8 MiB with DefaultConfiguration. A full cache overwrites older entries.
type Configuration struct {
	// AddrCache4 is the number of IPv4 addresses whose anonymized form is
	// kept. Default 65536 (512 KiB).
	AddrCache4 int
	// PrefixCache4 is the number of IPv4 /24 prefixes whose anonymized
	// form is kept. Default 16384 (128 KiB).
	PrefixCache4 int
	// AddrCache6 is the number of IPv6 addresses whose anonymized form is
	// kept. Default 32768 (1.25 MiB).
	AddrCache6 int
	// PrefixCache6 is the number of IPv6 prefixes kept at each of the /32,
	// /48, /64, /112 and /120 levels. Default 4096 (32 KiB + 4 × 160 KiB).
	PrefixCache6 int
}

// DefaultConfiguration returns the cache sizes used by New: enough for tens of
// thousands of active hosts in a few thousand IPv4 /24 or IPv6 /64 networks.
func DefaultConfiguration() Configuration {
	return Configuration{
		AddrCache4:   1 << 16,
		PrefixCache4: 1 << 14,
		AddrCache6:   1 << 15,
		PrefixCache6: 1 << 12,
	}
}

// maxCacheEntries bounds every cache size in a Configuration, so that a typo cannot
// make New allocate gigabytes.
const maxCacheEntries = 1 << 24

// Validate checks that every size is within [0, maxCacheEntries] (0 turns
// that cache off) and names the field that is not.
func (cfg Configuration) Validate() error {
	return check.First(
		check.Between("AddrCache4", cfg.AddrCache4, 0, maxCacheEntries),
		check.Between("PrefixCache4", cfg.PrefixCache4, 0, maxCacheEntries),
		check.Between("AddrCache6", cfg.AddrCache6, 0, maxCacheEntries),
		check.Between("PrefixCache6", cfg.PrefixCache6, 0, maxCacheEntries),
	)
}

// Cipher anonymizes IPv4 and IPv6 addresses with one Crypto-PAn key. It is
// safe for concurrent use by several goroutines; they share its caches.
type Cipher struct {
	// block is AES-128 keyed with the first half of the key.
	block blockEncrypter
	// padHi and padLo are the pad, big-endian, as a 128-bit number.
	padHi, padLo uint64
	// scratch holds *scratch buffers for the AES input and output: the
	// cipher.Block interface makes its arguments escape, so buffers on the
	// stack would be moved to the heap on every call.
	scratch sync.Pool

	// Caches, see cache.go.
	pre16  []prefix16Entry // IPv4 and IPv6: first 16 bits, indexed by them
	pre24  table64         // IPv4 /24
	addr4  table64         // IPv4 addresses
	pre32  table64         // IPv6 /32
	pre48  wideTable       // IPv6 /48
	pre64  wideTable       // IPv6 /64
	pre112 wideTable       // IPv6 /112
	pre120 wideTable       // IPv6 /120
	addr16 wideTable       // IPv6 addresses
}

// blockEncrypter is the part of cipher.Block a Cipher uses.
type blockEncrypter interface {
	Encrypt(dst, src []byte)
}

// scratch is the AES input and output blocks of one computation: one
// pair (otpBit), and one per bit of a 64-bit word (otpWord, which
// encrypts them all before it reads any).
type scratch struct {
	in, out   [aes.BlockSize]byte
	ins, outs [64][aes.BlockSize]byte
}

// New returns a Cipher for a 32-byte Crypto-PAn key, with the cache sizes of
// DefaultConfiguration.
func New(key []byte) (*Cipher, error) {
	return NewWithConfig(key, DefaultConfiguration())
}

// NewWithConfig returns a Cipher for a 32-byte Crypto-PAn key with the given
// cache sizes.
func NewWithConfig(key []byte, cfg Configuration) (*Cipher, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("cryptopan: key is %d bytes, want %d", len(key), KeySize)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cryptopan: invalid configuration: %w", err)
	}
	block, err := aes.NewCipher(key[:16])
	if err != nil {
		return nil, fmt.Errorf("cryptopan: unable to create AES cipher: %w", err)
	}
	var pad [aes.BlockSize]byte
	block.Encrypt(pad[:], key[16:])

	// The cache hash is seeded from the key so that nobody who does not
	// know the key can pick addresses that collide in the caches.
	seed := sha256.Sum256(append([]byte("gims-cryptopan-cache-seed"), key...))
	seed32 := binary.BigEndian.Uint32(seed[0:4])
	seed64 := binary.BigEndian.Uint64(seed[8:16])

	// The caches live outside the Go heap (package tablemem): megabytes
	// of integers that would otherwise bring the next collection closer.
	// They are returned when the Cipher is collected.
	var releases []func()
	pre16, release := tablemem.Make[prefix16Entry](1 << 16)
	releases = append(releases, release)
	c := &Cipher{
		block:  block,
		padHi:  binary.BigEndian.Uint64(pad[:8]),
		padLo:  binary.BigEndian.Uint64(pad[8:]),
		pre16:  pre16,
		pre24:  newTable64(cfg.PrefixCache4, seed32^0x24, &releases),
		addr4:  newTable64(cfg.AddrCache4, seed32^0x32, &releases),
		pre32:  newTable64(cfg.PrefixCache6, seed32^0x632, &releases),
		pre48:  newWideTable(cfg.PrefixCache6, seed64^0x648, &releases),
		pre64:  newWideTable(cfg.PrefixCache6, seed64^0x664, &releases),
		pre112: newWideTable(cfg.PrefixCache6, seed64^0x6112, &releases),
		pre120: newWideTable(cfg.PrefixCache6, seed64^0x6120, &releases),
		addr16: newWideTable(cfg.AddrCache6, seed64^0x6128, &releases),
	}
	c.scratch.New = func() any { return new(scratch) }
	runtime.AddCleanup(c, func(rs []func()) {
		for _, r := range rs {
			r()
		}
	}, releases)
	return c, nil
}

// Anonymize4 returns the anonymized form of the IPv4 address a. It does not
// allocate.
func (c *Cipher) Anonymize4(a [4]byte) [4]byte {
	x := binary.BigEndian.Uint32(a[:])
	var r [4]byte
	binary.BigEndian.PutUint32(r[:], x^c.otp4(x))
	return r
}

// Anonymize16 returns the anonymized form of the IPv6 address a, computed
// over all 128 bits (an IPv4-mapped address is anonymized as IPv6). It does
// not allocate.
func (c *Cipher) Anonymize16(a [16]byte) [16]byte {
	hi := binary.BigEndian.Uint64(a[:8])
	lo := binary.BigEndian.Uint64(a[8:])
	ohi, olo := c.otp16(hi, lo)
	var r [16]byte
	binary.BigEndian.PutUint64(r[:8], hi^ohi)
	binary.BigEndian.PutUint64(r[8:], lo^olo)
	return r
}

// AnonymizeAddr returns the anonymized form of a: an IPv4 address with
// Anonymize4, anything else (IPv6, including IPv4-mapped IPv6 addresses) with
// Anonymize16. An IPv6 zone is kept as is; the invalid Addr is returned
// unchanged.
func (c *Cipher) AnonymizeAddr(a netip.Addr) netip.Addr {
	switch {
	case a.Is4():
		return netip.AddrFrom4(c.Anonymize4(a.As4()))
	case a.Is6():
		r := netip.AddrFrom16(c.Anonymize16(a.As16()))
		if z := a.Zone(); z != "" {
			r = r.WithZone(z)
		}
		return r
	default:
		return a
	}
}

// otpBits computes bits from to to-1 (0 is the most significant) of the
// one-time pad of the address hi:lo (128 bits, big-endian; an IPv4 address
// is in the top 32 bits of hi) and ORs them into ohi:olo, which it returns.
// Bit i is the most significant bit of AES(first i bits of the address,
// then bits i.. of the pad). It depends only on the first i bits of the
// address, which is what makes the mapping prefix-preserving and what the
// caches rely on.
//
// The blocks of bits i-1 and i differ in bit i-1 only: the pad's in the
// first, the address's in the second. Where those are the same (half the
// bits of an address, on average) the block is the same, and so is the
// bit. So only the bits i where bit i-1 of the address and of the pad
// differ (and bit 0) take an AES block; each of the others repeats the bit
// before it (computed here, or for a prefix by an earlier call, in
// ohi:olo), and whole runs of them are set at once.
//
// The blocks of a range within one 64-bit word (all the callers' ranges)
// are encrypted by otpWord, one after another before any bit is read.
func (c *Cipher) otpBits(s *scratch, hi, lo, ohi, olo uint64, from, to int) (uint64, uint64) {
	switch {
	case from >= to:
		return ohi, olo
	case to <= 64:
		return ohi | c.otpWord(s, hi, lo, ohi, olo, from, to), olo
	case from >= 64:
		return ohi, olo | c.otpWord(s, hi, lo, ohi, olo, from, to)
	}
	return c.otpBitsLoop(s, hi, lo, ohi, olo, from, to)
}

// otpWord returns bits from to to-1 of the one-time pad of hi:lo, as
// otpBits computes them, in their places of the 64-bit word they are in
// (hi when to <= 64, lo when from >= 64; the range is within one), the
// others 0. It lists the bits that take a block first, then builds and
// encrypts every block, then reads them: the blocks are independent, and
// with no branch on their results between them the processor works on
// several at once, where otpBitsLoop's branches on each bit (half of them
// mispredicted) made it wait for each block in turn.
func (c *Cipher) otpWord(s *scratch, hi, lo, ohi, olo uint64, from, to int) uint64 {
	dhi, dlo := hi^c.padHi, lo^c.padLo // where address and pad differ
	// need has bit j (0 the most significant) set when bit base+j takes
	// a block: bit 0, or bit i-1 of the address and the pad differ.
	base, word, pad, need := 0, hi, c.padHi, dhi>>1|1<<63
	if from >= 64 {
		base, word, pad, need = 64, lo, c.padLo, dlo>>1|dhi<<63
	}
	a, b := from-base, to-base
	span := ^uint64(0) >> uint(a) &^ (^uint64(0) >> uint(b)) // bits a to b-1
	need &= span
	n := 0
	for t := need; t != 0; n++ {
		j := bits.LeadingZeros64(t)
		t &^= 1 << (63 - uint(j))
		m := ^uint64(0) >> uint(j) // the bits that come from the pad
		w := word&^m | pad&m
		in := &s.ins[n]
		if base == 0 {
			binary.BigEndian.PutUint64(in[:8], w)
			binary.BigEndian.PutUint64(in[8:], c.padLo)
		} else {
			binary.BigEndian.PutUint64(in[:8], hi)
			binary.BigEndian.PutUint64(in[8:], w)
		}
		c.block.Encrypt(s.outs[n][:], in[:])
	}
	// Bit a-1's value runs up to the first block's bit; each block's up
	// to the next.
	var out, cur uint64
	if from > 0 {
		cur = bit128(ohi, olo, from-1)
	}
	run := span // bits from the run's start to b-1
	k := 0
	for t := need; ; k++ {
		next := uint64(0) // bits from the next block's on
		if t != 0 {
			j := bits.LeadingZeros64(t)
			t &^= 1 << (63 - uint(j))
			next = ^uint64(0) >> uint(j)
		}
		out |= run &^ next & -cur
		if next == 0 {
			return out
		}
		run, cur = next&span, uint64(s.outs[k][0]>>7)
	}
}

// otpBitsLoop is otpBits bit by bit, for a range across both words.
func (c *Cipher) otpBitsLoop(s *scratch, hi, lo, ohi, olo uint64, from, to int) (uint64, uint64) {
	dhi, dlo := hi^c.padHi, lo^c.padLo // where address and pad differ
	var cur uint64                     // the bit before i
	if from > 0 {
		cur = bit128(ohi, olo, from-1)
	}
	for i := from; i < to; {
		if i == 0 || bit128(dhi, dlo, i-1) != 0 {
			cur = c.otpBit(s, hi, lo, i)
		}
		// Bits i to end-1 are cur: the next block is at the bit after
		// the next difference.
		end := min(nextSet128(dhi, dlo, i)+1, to)
		if cur != 0 {
			ohi |= ^uint64(0) >> min(i, 64) &^ (^uint64(0) >> min(end, 64))
			olo |= ^uint64(0) >> (max(i, 64) - 64) &^ (^uint64(0) >> (max(end, 64) - 64))
		}
		i = end
	}
	return ohi, olo
}

// otpBit computes bit i of the one-time pad of the address hi:lo with an
// AES block: the most significant bit of AES(first i bits of the address,
// then bits i.. of the pad).
func (c *Cipher) otpBit(s *scratch, hi, lo uint64, i int) uint64 {
	bhi, blo := c.padHi, c.padLo
	if i < 64 {
		m := ^uint64(0) >> uint(i) // the bits that come from the pad
		bhi = hi&^m | bhi&m
	} else {
		m := ^uint64(0) >> uint(i-64)
		bhi = hi
		blo = lo&^m | blo&m
	}
	binary.BigEndian.PutUint64(s.in[:8], bhi)
	binary.BigEndian.PutUint64(s.in[8:], blo)
	c.block.Encrypt(s.out[:], s.in[:])
	return uint64(s.out[0] >> 7)
}

// bit128 returns bit i (0 is the most significant) of hi:lo.
func bit128(hi, lo uint64, i int) uint64 {
	if i < 64 {
		return hi >> (63 - uint(i)) & 1
	}
	return lo >> (127 - uint(i)) & 1
}

// nextSet128 returns the first set bit of hi:lo at i or after, 128 if none.
func nextSet128(hi, lo uint64, i int) int {
	if i < 64 {
		if m := hi << uint(i); m != 0 {
			return i + bits.LeadingZeros64(m)
		}
		i = 64
	}
	if m := lo << uint(i-64); m != 0 {
		return i + bits.LeadingZeros64(m)
	}
	return 128
}
