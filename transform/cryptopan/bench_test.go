package cryptopan

import (
	"math/rand/v2"
	"testing"
)

// realisticAddrs4 returns a trace-like working set: hosts IPv4 hosts spread
// over nets /24 networks in a handful of /16s.
func realisticAddrs4(rng *rand.Rand, hosts, nets int) [][4]byte {
	prefixes := make([]uint32, nets)
	for i := range prefixes {
		prefixes[i] = (0x0a000000 + uint32(rng.IntN(8))<<16 | uint32(rng.IntN(256))<<8) ^ uint32(rng.IntN(16))<<24
	}
	addrs := make([][4]byte, hosts)
	for i := range addrs {
		x := prefixes[rng.IntN(nets)] | uint32(rng.IntN(256))
		addrs[i] = [4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)}
	}
	return addrs
}

// realisticAddrs6 returns hosts IPv6 hosts spread over nets /64 networks in
// a few /48s of one /32.
func realisticAddrs6(rng *rand.Rand, hosts, nets int) [][16]byte {
	prefixes := make([][8]byte, nets)
	for i := range prefixes {
		prefixes[i] = [8]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(rng.IntN(8)), byte(rng.IntN(256)), byte(rng.IntN(256))}
	}
	addrs := make([][16]byte, hosts)
	for i := range addrs {
		copy(addrs[i][:8], prefixes[rng.IntN(nets)][:])
		copy(addrs[i][8:], randomBytes(rng, 8))
	}
	return addrs
}

// coldAddrs4 returns n uniformly random addresses: nearly all of them miss
// the per-address caches.
func coldAddrs4(rng *rand.Rand, n int) [][4]byte {
	addrs := make([][4]byte, n)
	for i := range addrs {
		copy(addrs[i][:], randomBytes(rng, 4))
	}
	return addrs
}

// coldAddrs6 returns n uniformly random IPv6 addresses.
func coldAddrs6(rng *rand.Rand, n int) [][16]byte {
	addrs := make([][16]byte, n)
	for i := range addrs {
		copy(addrs[i][:], randomBytes(rng, 16))
	}
	return addrs
}

// reportBlocks reports the AES blocks encrypted per address, the cost that
// the caches are there to avoid (32 per IPv4 and 128 per IPv6 address
// without them), and a number that the load of the machine does not skew.
func reportBlocks(b *testing.B, cb *countingBlock) {
	b.ReportMetric(float64(cb.n.Load())/float64(b.N), "aes/op")
}

const (
	benchWorkingSet = 1 << 16 // a power of two, so i&mask walks the set
	benchHosts      = 4000    // distinct hosts of the realistic trace
	benchNets       = 300     // their /24 (IPv4) or /64 (IPv6) networks
)

// trace returns n draws from addrs, the order in which a trace would show
// them.
func trace[A any](rng *rand.Rand, addrs []A, n int) []A {
	t := make([]A, n)
	for i := range t {
		t[i] = addrs[rng.IntN(len(addrs))]
	}
	return t
}

func BenchmarkAnonymize4(b *testing.B) {
	rng := rand.New(rand.NewPCG(10, 11))
	b.Run("reference", func(b *testing.B) {
		ref := newReference(b, sampleKey(b))
		addrs := coldAddrs4(rng, benchWorkingSet)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			ref.anonymize4(addrs[i&(benchWorkingSet-1)])
		}
	})
	b.Run("cold", func(b *testing.B) {
		c := newTestCipher(b, DefaultConfiguration())
		addrs := coldAddrs4(rng, 1<<22)
		cb := countBlocks(c)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			c.Anonymize4(addrs[i&(1<<22-1)])
		}
		reportBlocks(b, cb)
	})
	b.Run("warm", func(b *testing.B) {
		c := newTestCipher(b, DefaultConfiguration())
		addrs := trace(rng, realisticAddrs4(rng, benchHosts, benchNets), benchWorkingSet)
		for _, a := range addrs {
			c.Anonymize4(a)
		}
		cb := countBlocks(c)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			c.Anonymize4(addrs[i&(benchWorkingSet-1)])
		}
		reportBlocks(b, cb)
	})
	b.Run("warm-parallel", func(b *testing.B) {
		c := newTestCipher(b, DefaultConfiguration())
		addrs := trace(rng, realisticAddrs4(rng, benchHosts, benchNets), benchWorkingSet)
		for _, a := range addrs {
			c.Anonymize4(a)
		}
		cb := countBlocks(c)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for i := rand.IntN(benchWorkingSet); pb.Next(); i++ {
				c.Anonymize4(addrs[i&(benchWorkingSet-1)])
			}
		})
		reportBlocks(b, cb)
	})
	b.Run("cold-parallel", func(b *testing.B) {
		c := newTestCipher(b, DefaultConfiguration())
		addrs := coldAddrs4(rng, 1<<22)
		cb := countBlocks(c)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for i := rand.IntN(1 << 22); pb.Next(); i++ {
				c.Anonymize4(addrs[i&(1<<22-1)])
			}
		})
		reportBlocks(b, cb)
	})
}

func BenchmarkAnonymize16(b *testing.B) {
	rng := rand.New(rand.NewPCG(12, 13))
	b.Run("reference", func(b *testing.B) {
		ref := newReference(b, sampleKey(b))
		addrs := coldAddrs6(rng, benchWorkingSet)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			ref.anonymize16(addrs[i&(benchWorkingSet-1)])
		}
	})
	b.Run("cold", func(b *testing.B) {
		c := newTestCipher(b, DefaultConfiguration())
		addrs := coldAddrs6(rng, benchWorkingSet)
		cb := countBlocks(c)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			c.Anonymize16(addrs[i&(benchWorkingSet-1)])
		}
		reportBlocks(b, cb)
	})
	b.Run("cold-host-warm-prefix", func(b *testing.B) {
		// New hosts in known /64s: only the interface identifier is
		// computed.
		c := newTestCipher(b, DefaultConfiguration())
		addrs := realisticAddrs6(rng, 1<<20, benchNets)
		for _, a := range addrs[:4096] {
			c.Anonymize16(a)
		}
		cb := countBlocks(c)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			c.Anonymize16(addrs[i&(1<<20-1)])
		}
		reportBlocks(b, cb)
	})
	b.Run("cold-host-low-numbered", func(b *testing.B) {
		// New hosts numbered from the bottom of known /64s (::1000 to
		// ::16ff, more than the address cache holds): the /112 and
		// /120 levels leave the last 8 bits to compute.
		c := newTestCipher(b, DefaultConfiguration())
		nets := realisticAddrs6(rng, benchNets, benchNets)
		addrs := make([][16]byte, 1<<20)
		for i := range addrs {
			a := nets[rng.IntN(len(nets))]
			copy(a[8:], []byte{0, 0, 0, 0, 0, 0, 0x10, byte(rng.Uint32())})
			a[14] += byte(rng.IntN(7)) // 2100 /120s, 540,000 hosts
			addrs[i] = a
		}
		cb := countBlocks(c)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			c.Anonymize16(addrs[i&(1<<20-1)])
		}
		reportBlocks(b, cb)
	})
	b.Run("warm", func(b *testing.B) {
		c := newTestCipher(b, DefaultConfiguration())
		addrs := trace(rng, realisticAddrs6(rng, benchHosts, benchNets), benchWorkingSet)
		for _, a := range addrs {
			c.Anonymize16(a)
		}
		cb := countBlocks(c)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			c.Anonymize16(addrs[i&(benchWorkingSet-1)])
		}
		reportBlocks(b, cb)
	})
	b.Run("warm-parallel", func(b *testing.B) {
		c := newTestCipher(b, DefaultConfiguration())
		addrs := trace(rng, realisticAddrs6(rng, benchHosts, benchNets), benchWorkingSet)
		for _, a := range addrs {
			c.Anonymize16(a)
		}
		cb := countBlocks(c)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for i := rand.IntN(benchWorkingSet); pb.Next(); i++ {
				c.Anonymize16(addrs[i&(benchWorkingSet-1)])
			}
		})
		reportBlocks(b, cb)
	})
}
