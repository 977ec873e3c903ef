package macanon

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
)

func testKey() []byte {
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(i)
	}
	return key
}

func newTestMapper(tb testing.TB) *Mapper {
	tb.Helper()
	m, err := New(testKey())
	if err != nil {
		tb.Fatalf("New() error:\n%+v", err)
	}
	return m
}

func parseMAC(tb testing.TB, s string) [6]byte {
	tb.Helper()
	var m [6]byte
	if _, err := fmt.Sscanf(s, "%02x:%02x:%02x:%02x:%02x:%02x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]); err != nil {
		tb.Fatalf("bad MAC %q: %v", s, err)
	}
	return m
}

func macString(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

func TestNewKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New(%d bytes) = nil error, want one", n)
		}
	}
}

// TestKept checks the addresses mapped to themselves, and that multicast
// addresses are not: they embed bits of IP addresses (the solicited-node
// 33:33:ff:xx:xx:xx the low 24 bits of a host's address).
func TestKept(t *testing.T) {
	m := newTestMapper(t)
	for _, s := range []string{"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"} {
		if got := m.AnonymizeMAC(parseMAC(t, s)); macString(got) != s {
			t.Errorf("AnonymizeMAC(%s) = %s, want it kept", s, macString(got))
		}
	}
	for _, s := range []string{
		"01:00:5e:00:00:fb", "33:33:00:00:00:01", "33:33:ff:00:00:01", "01:80:c2:00:00:0e", "01:00:0c:cc:cc:cc",
		"03:00:00:00:00:01",
	} {
		x := parseMAC(t, s)
		got := m.AnonymizeMAC(x)
		if got == x || got[0]&3 != x[0]&3 {
			t.Errorf("AnonymizeMAC(%s) = %s, want another group address with the same flag bits", s, macString(got))
		}
	}
}

// TestBijection maps a million random MACs (unicast and multicast): no
// two collide, the I/G and U/L bits are kept, none maps to zero or to the
// broadcast, and the inverse restores each.
func TestBijection(t *testing.T) {
	m := newTestMapper(t)
	rng := rand.New(rand.NewPCG(1, 2))
	n := 1_000_000
	if testing.Short() {
		n = 50_000
	}
	seen := make(map[uint64]uint64, n)
	for range n {
		x := rng.Uint64() & (1<<48 - 1)
		if x == 0 || x == broadcast {
			continue
		}
		if _, dup := seen[x]; dup {
			continue
		}
		y := m.AnonymizeMAC(toMAC(x))
		yv := uint64(y[0])<<40 | uint64(y[1])<<32 | uint64(y[2])<<24 | uint64(y[3])<<16 | uint64(y[4])<<8 | uint64(y[5])
		if y[0]&3 != byte(x>>40)&3 {
			t.Fatalf("%s → %s: I/G or U/L bit changed", macString(toMAC(x)), macString(y))
		}
		if yv == 0 || yv == broadcast {
			t.Fatalf("%s → %s, a kept address", macString(toMAC(x)), macString(y))
		}
		if back := m.mapBits(yv, true); back != x {
			t.Fatalf("inverse of %s is %s, want %s", macString(y), macString(toMAC(back)), macString(toMAC(x)))
		}
		seen[x] = yv
	}
	images := make(map[uint64]uint64, len(seen))
	for x, y := range seen {
		if other, dup := images[y]; dup {
			t.Fatalf("%s and %s both map to %s", macString(toMAC(x)), macString(toMAC(other)), macString(toMAC(y)))
		}
		images[y] = x
	}
}

// TestCycleWalking checks the address whose plain permutation is zero.
func TestCycleWalking(t *testing.T) {
	m := newTestMapper(t)
	b := m.scratch.Get().(*[2][16]byte)
	pre := m.permute(b, 0, 0, true) // the 46-bit value the network maps to 0
	m.scratch.Put(b)
	x := (pre>>40)<<42 | pre&low40
	y := m.AnonymizeMAC(toMAC(x))
	if y == [6]byte{} {
		t.Fatalf("%s maps to zero", macString(toMAC(x)))
	}
	if back := m.mapBits(x, false); m.mapBits(back, true) != x {
		t.Errorf("cycle walking is not inverted")
	}
	// The group address the network maps to the broadcast.
	b = m.scratch.Get().(*[2][16]byte)
	pre = m.permute(b, 1<<46-1, 3, true)
	m.scratch.Put(b)
	x = (pre>>40)<<42 | 3<<40 | pre&low40
	if y := m.AnonymizeMAC(toMAC(x)); y == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} {
		t.Fatalf("%s maps to the broadcast", macString(toMAC(x)))
	}
	if back := m.mapBits(x, false); m.mapBits(back, true) != x {
		t.Errorf("cycle walking around the broadcast is not inverted")
	}
}

// TestDeterministic checks that two Mappers of the same key agree and that
// another key gives another mapping.
func TestDeterministic(t *testing.T) {
	a, b := newTestMapper(t), newTestMapper(t)
	otherKey := testKey()
	otherKey[0] ^= 1
	c, err := New(otherKey)
	if err != nil {
		t.Fatalf("New() error:\n%+v", err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	differ := 0
	for range 1000 {
		x := toMAC(rng.Uint64() &^ (1 << 40))
		first := a.AnonymizeMAC(x) // cold
		if again := a.AnonymizeMAC(x); again != first || b.AnonymizeMAC(x) != first {
			t.Fatalf("two mappers of one key, or two calls, disagree on %s", macString(x))
		}
		if a.AnonymizeMAC(x) != c.AnonymizeMAC(x) {
			differ++
		}
	}
	if differ < 990 {
		t.Errorf("another key changes only %d of 1000 mappings", differ)
	}
}

// TestConcurrent maps from several goroutines at once (run with -race).
func TestConcurrent(t *testing.T) {
	m := newTestMapper(t)
	want := make(map[[6]byte][6]byte)
	ref := newTestMapper(t)
	var macs [][6]byte
	for i := range 64 {
		x := toMAC(uint64(i) * 0x010203040506 & (1<<48 - 1) &^ (1 << 40))
		macs = append(macs, x)
		want[x] = ref.AnonymizeMAC(x)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				x := macs[(i*7+g)%len(macs)]
				if got := m.AnonymizeMAC(x); got != want[x] {
					t.Errorf("AnonymizeMAC(%s) = %s, want %s", macString(x), macString(got), macString(want[x]))
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestGolden checks the mapping against testdata/golden.txt, made with the
// key 00 01 … 1f. GIMS_UPDATE_GOLDEN=1 rewrites it; a change of the file
// is a change of every experiment's MAC mapping.
func TestGolden(t *testing.T) {
	m := newTestMapper(t)
	const path = "testdata/golden.txt"
	if os.Getenv("GIMS_UPDATE_GOLDEN") == "1" {
		var b strings.Builder
		b.WriteString("# key 000102…1f; input output\n")
		rng := rand.New(rand.NewPCG(5, 6))
		inputs := []string{"00:11:22:33:44:55", "de:ad:be:ef:00:01", "02:00:00:00:00:00", "00:00:00:00:00:01",
			"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:fb", "fe:ff:ff:ff:ff:ff", "fc:ff:ff:ff:ff:ff"}
		for range 16 {
			inputs = append(inputs, macString(toMAC(rng.Uint64())))
		}
		for _, in := range inputs {
			fmt.Fprintf(&b, "%s %s\n", in, macString(m.AnonymizeMAC(parseMAC(t, in))))
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatalf("WriteFile() error:\n%+v", err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("Open() error:\n%+v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for line := 1; sc.Scan(); line++ {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		v := strings.Fields(sc.Text())
		if len(v) != 2 {
			t.Fatalf("%s:%d: want two fields", path, line)
		}
		if got := macString(m.AnonymizeMAC(parseMAC(t, v[0]))); got != v[1] {
			t.Errorf("%s:%d: AnonymizeMAC(%s) = %s, want %s", path, line, v[0], got, v[1])
		}
		n++
	}
	if n < 20 {
		t.Errorf("only %d golden vectors", n)
	}
}

// FuzzAnonymizeMAC checks the properties of the mapping on arbitrary
// addresses: broadcast and zero addresses kept, flag bits kept, the inverse
// restores the input, and the cache gives what the network computes.
func FuzzAnonymizeMAC(f *testing.F) {
	m := newTestMapper(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var x [6]byte
		copy(x[:], b)
		y := m.AnonymizeMAC(x)
		if x == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} || x == [6]byte{} {
			if y != x {
				t.Fatalf("%s → %s, want it kept", macString(x), macString(y))
			}
			return
		}
		if y[0]&3 != x[0]&3 || y == [6]byte{} || y == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} {
			t.Fatalf("%s → %s: flag bits changed, or a kept address", macString(x), macString(y))
		}
		xv := uint64(x[0])<<40 | uint64(x[1])<<32 | uint64(x[2])<<24 | uint64(x[3])<<16 | uint64(x[4])<<8 | uint64(x[5])
		yv := uint64(y[0])<<40 | uint64(y[1])<<32 | uint64(y[2])<<24 | uint64(y[3])<<16 | uint64(y[4])<<8 | uint64(y[5])
		if m.mapBits(xv, false) != yv || m.mapBits(yv, true) != xv {
			t.Fatalf("%s → %s: cache and network or inverse disagree", macString(x), macString(y))
		}
		if m.AnonymizeMAC(x) != y {
			t.Fatalf("%s: second call differs", macString(x))
		}
	})
}

func BenchmarkAnonymizeMAC(b *testing.B) {
	m := newTestMapper(b)
	b.Run("warm", func(b *testing.B) {
		x := [6]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}
		b.ReportAllocs()
		for b.Loop() {
			x = m.AnonymizeMAC(x)
			x[0] &^= 1
			x = [6]byte{0x00, 0x11, 0x22, 0x33, 0x44, x[5] & 7}
		}
	})
	b.Run("cold", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(7, 8))
		b.ReportAllocs()
		for b.Loop() {
			m.AnonymizeMAC(toMAC(rng.Uint64() &^ (1 << 40)))
		}
	})
}
