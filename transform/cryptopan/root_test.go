package cryptopan

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
)

// sampleKey returns the key of the original Crypto-PAn sample trace.
func sampleKey(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/key.tsv")
	if err != nil {
		t.Fatalf("ReadFile() error:\n%+v", err)
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 || fields[0] != "key_hex" {
		t.Fatalf("testdata/key.tsv: unexpected content %q", data)
	}
	key, err := hex.DecodeString(fields[1])
	if err != nil {
		t.Fatalf("testdata/key.tsv: %v", err)
	}
	return key
}

// samplePair is one line of testdata/sample-pairs.tsv.
type samplePair struct {
	line      int
	raw, want netip.Addr
}

// samplePairs returns the raw → sanitized pairs of the original sample trace.
func samplePairs(t testing.TB) []samplePair {
	t.Helper()
	f, err := os.Open("testdata/sample-pairs.tsv")
	if err != nil {
		t.Fatalf("Open() error:\n%+v", err)
	}
	defer f.Close()
	var pairs []samplePair
	s := bufio.NewScanner(f)
	for line := 1; s.Scan(); line++ {
		fields := strings.Split(s.Text(), "\t")
		if len(fields) != 2 {
			t.Fatalf("sample-pairs.tsv:%d: %d fields", line, len(fields))
		}
		raw, err1 := netip.ParseAddr(fields[0])
		want, err2 := netip.ParseAddr(fields[1])
		if err1 != nil || err2 != nil || !raw.Is4() || !want.Is4() {
			t.Fatalf("sample-pairs.tsv:%d: bad addresses %q", line, s.Text())
		}
		pairs = append(pairs, samplePair{line, raw, want})
	}
	if err := s.Err(); err != nil {
		t.Fatalf("Scan() error:\n%+v", err)
	}
	if len(pairs) < 30 {
		t.Fatalf("sample-pairs.tsv: only %d pairs", len(pairs))
	}
	return pairs
}

// testConfigs are the cache configurations every correctness test runs
// with: results must not depend on them.
var testConfigs = []struct {
	name string
	cfg  Configuration
}{
	{"default", DefaultConfiguration()},
	{"tiny", Configuration{AddrCache4: 4, PrefixCache4: 4, AddrCache6: 4, PrefixCache6: 4}},
	{"disabled", Configuration{}},
}

func newTestCipher(t testing.TB, cfg Configuration) *Cipher {
	t.Helper()
	c, err := NewWithConfig(sampleKey(t), cfg)
	if err != nil {
		t.Fatalf("NewWithConfig() error:\n%+v", err)
	}
	return c
}

func TestNew(t *testing.T) {
	cases := []struct {
		pos     string
		keyLen  int
		cfg     Configuration
		wantErr string
	}{
		{"ok", 32, DefaultConfiguration(), ""},
		{"no cache", 32, Configuration{}, ""},
		{"empty key", 0, DefaultConfiguration(), "cryptopan: key is 0 bytes, want 32"},
		{"AES-128 key only", 16, DefaultConfiguration(), "cryptopan: key is 16 bytes, want 32"},
		{"short key", 31, DefaultConfiguration(), "cryptopan: key is 31 bytes, want 32"},
		{"long key", 33, DefaultConfiguration(), "cryptopan: key is 33 bytes, want 32"},
		{"negative size", 32, Configuration{AddrCache6: -1}, "cryptopan: invalid configuration: AddrCache6 must be between 0 and 16777216, got -1"},
		{"huge size", 32, Configuration{PrefixCache4: 1 << 30}, "cryptopan: invalid configuration: PrefixCache4 must be between 0 and 16777216, got 1073741824"},
	}
	for _, tc := range cases {
		t.Run(tc.pos, func(t *testing.T) {
			c, err := NewWithConfig(make([]byte, tc.keyLen), tc.cfg)
			if tc.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("NewWithConfig() error:\n%+v", err)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("NewWithConfig() error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestSampleTrace checks the pairs of the original distribution's sample
// trace, each twice (the second time from the caches).
func TestSampleTrace(t *testing.T) {
	pairs := samplePairs(t)
	ref := newReference(t, sampleKey(t))
	for _, tc := range testConfigs {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCipher(t, tc.cfg)
			for pass := 1; pass <= 2; pass++ {
				for _, p := range pairs {
					name := fmt.Sprintf("pass %d line %d %s", pass, p.line, p.raw)
					if got := netip.AddrFrom4(c.Anonymize4(p.raw.As4())); got != p.want {
						t.Errorf("%s: Anonymize4() = %s, want %s", name, got, p.want)
					}
					if got := c.AnonymizeAddr(p.raw); got != p.want {
						t.Errorf("%s: AnonymizeAddr() = %s, want %s", name, got, p.want)
					}
					if pass == 1 {
						if got := netip.AddrFrom4(ref.anonymize4(p.raw.As4())); got != p.want {
							t.Errorf("%s: reference = %s, want %s", name, got, p.want)
						}
					}
				}
			}
		})
	}
}

func TestIPv6Vector(t *testing.T) {
	raw := netip.MustParseAddr("::1")
	want := netip.MustParseAddr("78ff:f001:9fc0:20df:8380:b1f1:704:ed")
	if got := netip.AddrFrom16(newReference(t, sampleKey(t)).anonymize16(raw.As16())); got != want {
		t.Errorf("reference(%s) = %s, want %s", raw, got, want)
	}
	for _, tc := range testConfigs {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCipher(t, tc.cfg)
			for pass := 1; pass <= 2; pass++ {
				if got := netip.AddrFrom16(c.Anonymize16(raw.As16())); got != want {
					t.Errorf("pass %d: Anonymize16(%s) = %s, want %s", pass, raw, got, want)
				}
				if got := c.AnonymizeAddr(raw); got != want {
					t.Errorf("pass %d: AnonymizeAddr(%s) = %s, want %s", pass, raw, got, want)
				}
			}
		})
	}
}

func TestAnonymizeAddr(t *testing.T) {
	c := newTestCipher(t, DefaultConfiguration())
	v6 := func(s string) netip.Addr {
		a := netip.MustParseAddr(s)
		return netip.AddrFrom16(c.Anonymize16(a.As16()))
	}
	cases := []struct {
		pos  string
		in   netip.Addr
		want netip.Addr
	}{
		{"IPv4 sample", netip.MustParseAddr("24.5.0.80"), netip.MustParseAddr("100.9.15.210")},
		{"IPv6 vector", netip.MustParseAddr("::1"), netip.MustParseAddr("78ff:f001:9fc0:20df:8380:b1f1:704:ed")},
		{"IPv4-mapped as IPv6", netip.MustParseAddr("::ffff:24.5.0.80"), v6("::ffff:24.5.0.80")},
		{"zone kept", netip.MustParseAddr("fe80::1%eth0"), v6("fe80::1").WithZone("eth0")},
		{"invalid unchanged", netip.Addr{}, netip.Addr{}},
	}
	for _, tc := range cases {
		t.Run(tc.pos, func(t *testing.T) {
			if got := c.AnonymizeAddr(tc.in); got != tc.want {
				t.Errorf("AnonymizeAddr(%s) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
	// An IPv4-mapped address must not be anonymized as its IPv4 form: the
	// brief is to treat it as IPv6.
	mapped := c.AnonymizeAddr(netip.MustParseAddr("::ffff:24.5.0.80"))
	if mapped.Unmap() == netip.MustParseAddr("100.9.15.210") {
		t.Errorf("AnonymizeAddr(::ffff:24.5.0.80) = %s, anonymized as IPv4", mapped)
	}
}

// testAddrs4 returns n IPv4 addresses: half uniformly random, half in a few
// /16 and /24 networks, so that every cache level hits and misses.
func testAddrs4(rng *rand.Rand, n int) [][4]byte {
	addrs := make([][4]byte, n)
	for i := range addrs {
		x := rng.Uint32()
		if i%2 == 1 {
			x = 0x0a000000 | rng.Uint32N(4)<<16 | rng.Uint32N(8)<<8 | rng.Uint32N(32)
		}
		addrs[i] = [4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)}
	}
	return addrs
}

// testAddrs6 returns n IPv6 addresses: a third random, the rest in a few
// /32, /48 and /64 networks.
func testAddrs6(rng *rand.Rand, n int) [][16]byte {
	addrs := make([][16]byte, n)
	for i := range addrs {
		var a [16]byte
		for j := range a {
			a[j] = byte(rng.Uint32())
		}
		if i%3 != 0 {
			copy(a[:4], []byte{0x20, 0x01, 0x0d, 0xb8})
			a[4], a[5] = 0, byte(rng.IntN(3))
			a[6], a[7] = 0, byte(rng.IntN(4))
			if i%3 == 1 {
				copy(a[8:14], make([]byte, 6))
				a[14] = 0
				a[15] = byte(rng.IntN(16))
			}
		}
		addrs[i] = a
	}
	return addrs
}

func TestCachedMatchesReference(t *testing.T) {
	ref := newReference(t, sampleKey(t))
	rng := rand.New(rand.NewPCG(1, 2))
	addrs4 := testAddrs4(rng, 3000)
	addrs6 := testAddrs6(rng, 600)
	want4, want6 := ref.answers(addrs4, addrs6)
	for _, tc := range testConfigs {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCipher(t, tc.cfg)
			// Interleave the families and go over everything twice, so
			// the second pass reads what the first filled in or evicted.
			for pass := 1; pass <= 2; pass++ {
				for i, a := range addrs4 {
					if got := c.Anonymize4(a); got != want4[i] {
						t.Fatalf("pass %d: Anonymize4(%v) = %v, want %v", pass, a, got, want4[i])
					}
					if i < len(addrs6) {
						if got := c.Anonymize16(addrs6[i]); got != want6[i] {
							t.Fatalf("pass %d: Anonymize16(%v) = %v, want %v", pass, addrs6[i], got, want6[i])
						}
					}
				}
			}
		})
	}
}

// commonPrefix returns the number of leading bits a and b share.
func commonPrefix(a, b []byte) int {
	for i := range a {
		if x := a[i] ^ b[i]; x != 0 {
			return 8*i + bits.LeadingZeros8(x)
		}
	}
	return 8 * len(a)
}

// randomBytes returns n random bytes.
func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// withPrefix returns an address sharing exactly k leading bits with a (all
// of them if k is the address length), random after.
func withPrefix(rng *rand.Rand, a []byte, k int) []byte {
	b := randomBytes(rng, len(a))
	for i := 0; i < len(a)*8; i++ {
		bit := byte(0x80) >> (i % 8)
		switch {
		case i < k:
			b[i/8] = b[i/8]&^bit | a[i/8]&bit
		case i == k:
			b[i/8] = b[i/8]&^bit | ^a[i/8]&bit
		}
	}
	return b
}

func TestPrefixPreserving(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	c := newTestCipher(t, Configuration{AddrCache4: 64, PrefixCache4: 16, AddrCache6: 64, PrefixCache6: 16})
	for k := 0; k <= 32; k++ {
		for range 20 {
			var a, b [4]byte
			copy(a[:], randomBytes(rng, 4))
			copy(b[:], withPrefix(rng, a[:], k))
			if got := commonPrefix(a[:], b[:]); got != k {
				t.Fatalf("withPrefix(%v, %d) shares %d bits", a, k, got)
			}
			ea, eb := c.Anonymize4(a), c.Anonymize4(b)
			if got := commonPrefix(ea[:], eb[:]); got != k {
				t.Errorf("IPv4 /%d: %v, %v share %d bits once anonymized (%v, %v)", k, a, b, got, ea, eb)
			}
		}
	}
	for k := 0; k <= 128; k++ {
		for range 5 {
			var a, b [16]byte
			copy(a[:], randomBytes(rng, 16))
			copy(b[:], withPrefix(rng, a[:], k))
			ea, eb := c.Anonymize16(a), c.Anonymize16(b)
			if got := commonPrefix(ea[:], eb[:]); got != k {
				t.Errorf("IPv6 /%d: %v, %v share %d bits once anonymized (%v, %v)", k, a, b, got, ea, eb)
			}
		}
	}
}

// TestConcurrent has goroutines share a Cipher and checks every result
// against the reference; run it with -race. The tiny configuration makes
// the goroutines evict each other's entries all the time.
func TestConcurrent(t *testing.T) {
	ref := newReference(t, sampleKey(t))
	rng := rand.New(rand.NewPCG(5, 6))
	addrs4 := testAddrs4(rng, 1000)
	addrs6 := testAddrs6(rng, 200)
	want4 := make(map[[4]byte][4]byte, len(addrs4))
	for _, a := range addrs4 {
		want4[a] = ref.anonymize4(a)
	}
	want6 := make(map[[16]byte][16]byte, len(addrs6))
	for _, a := range addrs6 {
		want6[a] = ref.anonymize16(a)
	}
	for _, tc := range testConfigs {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCipher(t, tc.cfg)
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(g), 7))
					for range 2000 {
						a := addrs4[rng.IntN(len(addrs4))]
						if got := c.Anonymize4(a); got != want4[a] {
							t.Errorf("goroutine %d: Anonymize4(%v) = %v, want %v", g, a, got, want4[a])
							return
						}
						if rng.IntN(8) == 0 {
							a := addrs6[rng.IntN(len(addrs6))]
							if got := c.Anonymize16(a); got != want6[a] {
								t.Errorf("goroutine %d: Anonymize16(%v) = %v, want %v", g, a, got, want6[a])
								return
							}
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

// clusteredAddrs6 returns n IPv6 addresses numbered from the bottom of a
// few /64s (hosts ::1000 to ::10ff, ::1:200 to ::1:3ff, a few with random
// interface identifiers), in random order: the shape the /112 and /120
// levels serve.
func clusteredAddrs6(rng *rand.Rand, n int) [][16]byte {
	addrs := make([][16]byte, n)
	for i := range addrs {
		a := [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0xc1, 0, byte(rng.IntN(16))}
		switch rng.IntN(8) {
		case 0:
			copy(a[8:], randomBytes(rng, 8))
		case 1, 2:
			a[13], a[14], a[15] = 1, byte(2+rng.IntN(2)), byte(rng.Uint32())
		default:
			a[14], a[15] = 0x10, byte(rng.Uint32())
		}
		addrs[i] = a
	}
	return addrs
}

// TestClusteredMatchesReference: addresses that share long prefixes
// (within a /16 for IPv4, under a few /64s numbered from the bottom for
// IPv6), and random ones, map as the uncached bit loop maps them, in
// every cache configuration and on a second pass that reads what the
// first filled in or evicted.
func TestClusteredMatchesReference(t *testing.T) {
	ref := newReference(t, sampleKey(t))
	rng := rand.New(rand.NewPCG(10, 11))
	var addrs4 [][4]byte
	for i := range 3000 {
		x := 0x0a010000 | rng.Uint32N(1<<16)
		if i%4 == 0 {
			x = rng.Uint32()
		}
		addrs4 = append(addrs4, [4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
	}
	addrs6 := append(clusteredAddrs6(rng, 1500), coldAddrs6(rng, 300)...)
	rng.Shuffle(len(addrs6), func(i, j int) { addrs6[i], addrs6[j] = addrs6[j], addrs6[i] })
	want4, want6 := ref.answers(addrs4, addrs6)
	for _, tc := range testConfigs {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCipher(t, tc.cfg)
			for pass := 1; pass <= 2; pass++ {
				for i, a := range addrs6 {
					if got := c.Anonymize16(a); got != want6[i] {
						t.Fatalf("pass %d: Anonymize16(%x) = %x, want %x", pass, a, got, want6[i])
					}
				}
				for i, a := range addrs4 {
					if got := c.Anonymize4(a); got != want4[i] {
						t.Fatalf("pass %d: Anonymize4(%v) = %v, want %v", pass, a, got, want4[i])
					}
				}
			}
		})
	}
}
