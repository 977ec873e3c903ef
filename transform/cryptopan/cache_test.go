package cryptopan

import (
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
// was seen before it: the caches must serve every level they claim to.
func TestCacheLevels(t *testing.T) {
	c := newTestCipher(t, DefaultConfiguration())
	cb := countBlocks(c)
	cases := []struct {
		pos  string
		addr string
		want int64
	}{
		{"new IPv4", "10.1.2.3", 32},
		{"same IPv4", "10.1.2.3", 0},
		{"new host in known /24", "10.1.2.4", 8},
		{"new /24 in known /16", "10.1.3.4", 16},
		{"new /16", "10.2.3.4", 32},
		{"all again", "10.1.3.4", 0},
		// Groups are non-zero so that a level keyed by too many or too
		// few bits would miss.
		{"new IPv6 in a /16 known from IPv4", "a01:db8:1:5::1", 112},
		{"same IPv6", "a01:db8:1:5::1", 0},
		{"new host in known /64", "a01:db8:1:5::2", 64},
		{"new /64 in known /48", "a01:db8:1:6::2", 80},
		{"new /48 in known /32", "a01:db8:2:6::2", 96},
		{"new /32 in known /16", "a01:db9:2:6::2", 112},
		{"new IPv6", "2001:db8::1", 128},
		{"IPv4-mapped, new", "::ffff:10.1.2.3", 128},
		{"IPv6 again", "a01:db8:1:6::2", 0},
	}
	for _, tc := range cases {
		before := cb.n.Load()
		c.AnonymizeAddr(netip.MustParseAddr(tc.addr))
		if got := cb.n.Load() - before; got != tc.want {
			t.Errorf("%s: %s cost %d AES blocks, want %d", tc.pos, tc.addr, got, tc.want)
		}
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
