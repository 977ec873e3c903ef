package cryptopan

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"testing"
)

// countingBlock counts the AES blocks a Cipher encrypts.
type countingBlock struct {
	b blockEncrypter
	n atomic.Int64
}

func (cb *countingBlock) Encrypt(dst, src []byte) {
	cb.n.Add(1)
	cb.b.Encrypt(dst, src)
}

// countBlocks makes c count its AES blocks.
func countBlocks(c *Cipher) *countingBlock {
	cb := &countingBlock{b: c.block}
	c.block = cb
	return cb
}

// TestCacheLevels checks how many AES blocks each address costs given what
// was seen before it: the caches must serve every level they claim to. An
// address computes the bits [from, to) of its one-time pad that no level
// cached, each with one AES block but those whose block is the one
// before (otpBits: bit i-1 the same in the address and the pad).
func TestCacheLevels(t *testing.T) {
	c := newTestCipher(t, DefaultConfiguration())
	cb := countBlocks(c)
	cases := []struct {
		pos      string
		addr     string
		from, to int // the bits computed; from == to: none
	}{
		{"new IPv4", "10.1.2.3", 0, 32},
		{"same IPv4", "10.1.2.3", 0, 0},
		{"new host in known /24", "10.1.2.4", 24, 32},
		{"new /24 in known /16", "10.1.3.4", 16, 32},
		{"new /16", "10.2.3.4", 0, 32},
		{"all again", "10.1.3.4", 0, 0},
		// Groups are non-zero so that a level keyed by too many or too
		// few bits would miss.
		{"new IPv6 in a /16 known from IPv4", "a01:db8:1:5::1", 16, 128},
		{"same IPv6", "a01:db8:1:5::1", 0, 0},
		{"new host in known /120", "a01:db8:1:5::2", 120, 128},
		{"new /120 in known /112", "a01:db8:1:5::302", 112, 128},
		{"new /112 in known /64", "a01:db8:1:5::1:302", 64, 128},
		{"new host in known /112", "a01:db8:1:5::1:402", 112, 128},
		// Hosts with identifiers of their own skip the /112 and /120
		// levels.
		{"own identifier in known /64", "a01:db8:1:5:211:22ff:fe33:4455", 64, 128},
		{"next identifier in known /64", "a01:db8:1:5:211:22ff:fe33:4456", 64, 128},
		{"new /64 in known /48", "a01:db8:1:6::2", 48, 128},
		{"new /48 in known /32", "a01:db8:2:6::2", 32, 128},
		{"new /32 in known /16", "a01:db9:2:6::2", 16, 128},
		{"new IPv6", "2001:db8::1", 0, 128},
		{"IPv4-mapped, new", "::ffff:10.1.2.3", 0, 128},
		{"IPv6 again", "a01:db8:1:6::2", 0, 0},
	}
	var bits, blocks int64
	for _, tc := range cases {
		a := netip.MustParseAddr(tc.addr)
		b := a.As16()
		if a.Is4() {
			copy(b[:], b[12:])
		}
		pad := [16]byte{}
		binary.BigEndian.PutUint64(pad[:8], c.padHi)
		binary.BigEndian.PutUint64(pad[8:], c.padLo)
		var want int64
		for i := tc.from; i < tc.to; i++ {
			if i == 0 || (b[(i-1)/8]^pad[(i-1)/8])>>(7-(i-1)%8)&1 != 0 {
				want++
			}
		}
		before := cb.n.Load()
		c.AnonymizeAddr(a)
		if got := cb.n.Load() - before; got != want {
			t.Errorf("%s: %s cost %d AES blocks, want %d (bits %d to %d)", tc.pos, tc.addr, got, want, tc.from, tc.to)
		}
		bits += int64(tc.to - tc.from)
		blocks += want
	}
	if blocks > bits*3/4 {
		t.Errorf("%d AES blocks for %d bits: the blocks equal to the one before are not skipped", blocks, bits)
	}
}

// TestCacheTrace checks that on a realistic trace (a few thousand hosts in a
// few hundred networks) nearly every address is served from the caches once
// they are warm.
func TestCacheTrace(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 15))
	cases := []struct {
		pos     string
		run     func(c *Cipher, i int)
		n       int
		maxCold float64 // AES blocks per address, first pass
	}{
		{"IPv4", func() func(*Cipher, int) {
			addrs := trace(rng, realisticAddrs4(rng, benchHosts, benchNets), benchWorkingSet)
			return func(c *Cipher, i int) { c.Anonymize4(addrs[i]) }
		}(), benchWorkingSet, 1},
		{"IPv6", func() func(*Cipher, int) {
			addrs := trace(rng, realisticAddrs6(rng, benchHosts, benchNets), benchWorkingSet)
			return func(c *Cipher, i int) { c.Anonymize16(addrs[i]) }
		}(), benchWorkingSet, 5},
	}
	for _, tc := range cases {
		t.Run(tc.pos, func(t *testing.T) {
			c := newTestCipher(t, DefaultConfiguration())
			cb := countBlocks(c)
			for i := range tc.n {
				tc.run(c, i)
			}
			if got := float64(cb.n.Load()) / float64(tc.n); got > tc.maxCold {
				t.Errorf("first pass: %.3f AES blocks per address, want at most %v", got, tc.maxCold)
			}
			cb.n.Store(0)
			for i := range tc.n {
				tc.run(c, i)
			}
			// An overflowing bucket would cost 8 or 64 blocks per
			// access of its keys: allow very few.
			if got := float64(cb.n.Load()) / float64(tc.n); got > 0.01 {
				t.Errorf("warm pass: %.3f AES blocks per address, want at most 0.01", got)
			}
			t.Logf("warm pass: %d AES blocks for %d addresses", cb.n.Load(), tc.n)
		})
	}
}
