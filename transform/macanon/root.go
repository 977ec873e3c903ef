// Package macanon maps MAC addresses with a keyed permutation, as SPEC §8
// requires for the `mac: keyed` mode of sanitized captures.
//
// # Construction
//
// A 48-bit MAC address carries two flag bits in its first octet: I/G (bit
// 0, group address) and U/L (bit 1, locally administered). Both are kept;
// the other 46 bits are permuted with a balanced Feistel network over two
// 23-bit halves, with ten rounds (as NIST SP 800-38G FF1 uses for small
// domains: four rounds are enough for the Luby–Rackoff bound, but with
// 23-bit halves that bound is only about 2^11 queries, and more rounds
// push the known attacks out of reach). Round i computes
//
//	L, R = R, L XOR F(i, U/L, R)
//	F(i, u, R) = first 23 bits of AES-128_k(0x4d 'M', 1, i, u | g<<1, R as 4 bytes big-endian, zeros)
//
// (the fourth byte carries U/L and, in its second bit, I/G), so the
// universally and locally administered, individual and group quarters of
// the address space are permuted independently. A Feistel network is a permutation
// whatever its round function, so two MACs never map to the same one.
//
// The AES key k (16 bytes) is derived from the experiment's 32-byte
// Crypto-PAn key with HKDF-SHA256 (RFC 5869; golang.org/x/crypto/hkdf), no
// salt (the input key is already uniformly random; HKDF then uses a block
// of zeros) and info "gims-mac-v1"; the next 8 bytes of the same HKDF
// output seed the cache hash. The same experiment secret therefore maps a
// MAC the same way on every device, and the MAC mapping reveals nothing
// about the IP mapping (HKDF outputs are independent PRF outputs).
//
// # Addresses kept unchanged
//
//   - The broadcast ff:ff:ff:ff:ff:ff (SPEC §8): it names every host.
//     Multicast addresses are permuted like unicast ones, within the group
//     addresses (their I/G bit stays set, so they stay multicast): IPv4 and
//     IPv6 multicast MACs embed the low 23 or 32 bits of the IP group
//     address, and the IPv6 solicited-node multicast MAC
//     33:33:ff:xx:xx:xx the low 24 bits of the solicited unicast address
//     (with SLAAC, the NIC-specific half of the host's own MAC), so keeping
//     them would leak what the IP mapping hides.
//   - 00:00:00:00:00:00, the "unknown" address (ARP requests, unset
//     fields).
//
// To keep the mapping a permutation of the remaining addresses, an
// address whose image would be one of those two is mapped by cycle
// walking: the permutation is applied again until the result is neither.
//
// A Mapper keeps a small fixed-size cache of mapped addresses (a link
// carries few MACs), is safe for concurrent use and never allocates after
// New.
package macanon

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/hkdf"

	"github.com/gimsproject/gims/internal/tablemem"
)

// KeySize is the length in bytes of the key New takes: the experiment's
// Crypto-PAn key (cryptopan.KeySize).
const KeySize = 32

// Info is the HKDF info string of the key derivation. Changing it changes
// every mapping.
const Info = "gims-mac-v1"

const (
	rounds    = 10
	halfBits  = 23
	halfMask  = 1<<halfBits - 1
	low40     = 1<<40 - 1
	cacheBits = 12 // 4096 entries, 96 KiB
)

// Mapper maps MAC addresses with one key. It is safe for concurrent use.
type Mapper struct {
	block cipher.Block
	seed  uint64
	// scratch holds *[2][16]byte AES buffers: the cipher.Block interface
	// makes its arguments escape, so stack buffers would be allocated on
	// every call.
	scratch sync.Pool
	cache   []entry
}

// entry is one cached mapping guarded by a sequence number (a seqlock):
// odd while a writer updates it, 0 if never written. Readers treat a
// concurrent update as a miss.
type entry struct {
	seq  atomic.Uint32
	k, v atomic.Uint64
}

// New returns a Mapper for a 32-byte key (the experiment's Crypto-PAn
// key).
func New(key []byte) (*Mapper, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("macanon: key is %d bytes, want %d", len(key), KeySize)
	}
	var okm [24]byte
	if _, err := io.ReadFull(hkdf.New(sha256.New, key, nil, []byte(Info)), okm[:]); err != nil {
		return nil, fmt.Errorf("macanon: unable to derive the key: %w", err)
	}
	block, err := aes.NewCipher(okm[:16])
	if err != nil {
		return nil, fmt.Errorf("macanon: unable to create AES cipher: %w", err)
	}
	// The cache lives outside the Go heap (package tablemem), as
	// Crypto-PAn's caches do: on the heap its 96 KiB brought a keyed
	// offline run closer to a collection the run without a key never had.
	cache, release := tablemem.Make[entry](1 << cacheBits)
	m := &Mapper{
		block: block,
		seed:  binary.BigEndian.Uint64(okm[16:]) | 1,
		cache: cache,
	}
	runtime.AddCleanup(m, func(release func()) { release() }, release)
	m.scratch.New = func() any { return new([2][aes.BlockSize]byte) }
	return m, nil
}

// AnonymizeMAC returns the image of mac: mac itself for the broadcast
// address and 00:00:00:00:00:00, otherwise its keyed permutation with the
// I/G and U/L bits kept. It does not allocate.
func (m *Mapper) AnonymizeMAC(mac [6]byte) [6]byte {
	x := uint64(mac[0])<<40 | uint64(mac[1])<<32 | uint64(binary.BigEndian.Uint32(mac[2:]))
	if x == 0 || x == broadcast {
		return mac
	}
	e := &m.cache[(x*m.seed)>>(64-cacheBits)]
	if s := e.seq.Load(); s&1 == 0 && s != 0 {
		k, v := e.k.Load(), e.v.Load()
		if e.seq.Load() == s && k == x {
			return toMAC(v)
		}
	}
	y := m.mapBits(x, false)
	if s := e.seq.Load(); s&1 == 0 && e.seq.CompareAndSwap(s, s+1) {
		e.k.Store(x)
		e.v.Store(y)
		e.seq.Store(s + 2)
	}
	return toMAC(y)
}

func toMAC(v uint64) [6]byte {
	var r [6]byte
	r[0], r[1] = byte(v>>40), byte(v>>32)
	binary.BigEndian.PutUint32(r[2:], uint32(v))
	return r
}

// broadcast is ff:ff:ff:ff:ff:ff as a 48-bit number.
const broadcast = 1<<48 - 1

// mapBits maps the 48-bit address x, neither zero nor the broadcast (or
// inverts the mapping), without the cache.
func (m *Mapper) mapBits(x uint64, inverse bool) uint64 {
	ig, ul := (x>>40)&1, (x>>41)&1
	tweak := ul | ig<<1
	v := (x>>42)<<40 | x&low40 // the 46 address bits
	b := m.scratch.Get().(*[2][aes.BlockSize]byte)
	v = m.permute(b, v, tweak, inverse)
	// Cycle walking: 0 with both flags clear is 00:00:00:00:00:00 and all
	// ones with both set the broadcast, which are kept.
	for tweak == 0 && v == 0 || tweak == 3 && v == 1<<46-1 {
		v = m.permute(b, v, tweak, inverse)
	}
	m.scratch.Put(b)
	return (v>>40)<<42 | ul<<41 | ig<<40 | v&low40
}

// permute runs the Feistel network (or its inverse) on the 46-bit v.
func (m *Mapper) permute(b *[2][aes.BlockSize]byte, v, tweak uint64, inverse bool) uint64 {
	l, r := v>>halfBits, v&halfMask
	if !inverse {
		for i := range rounds {
			l, r = r, l^m.round(b, i, tweak, r)
		}
	} else {
		for i := rounds - 1; i >= 0; i-- {
			l, r = r^m.round(b, i, tweak, l), l
		}
	}
	return l<<halfBits | r
}

// round is the round function F(i, tweak, half); tweak holds U/L and,
// shifted by one, I/G.
func (m *Mapper) round(b *[2][aes.BlockSize]byte, i int, tweak, half uint64) uint64 {
	in := &b[0]
	*in = [aes.BlockSize]byte{0: 'M', 1: 1, 2: byte(i), 3: byte(tweak)}
	binary.BigEndian.PutUint32(in[4:], uint32(half))
	m.block.Encrypt(b[1][:], in[:])
	return uint64(binary.BigEndian.Uint32(b[1][:4]) >> (32 - halfBits))
}
