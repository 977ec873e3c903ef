package tablemem

import (
	"runtime"
	"sync/atomic"
	"testing"
	"unsafe"
)

// TestMake checks that the slice is zeroed, of the right length, usable
// with atomics, and released without fault; and that a zero size works.
func TestMake(t *testing.T) {
	s, release := Make[atomic.Uint64](1 << 16)
	if len(s) != 1<<16 {
		t.Fatalf("len %d, want %d", len(s), 1<<16)
	}
	for i := range s {
		if s[i].Load() != 0 {
			t.Fatalf("entry %d not zero", i)
		}
		s[i].Store(uint64(i))
	}
	if s[12345].Load() != 12345 {
		t.Fatalf("entry 12345 = %d", s[12345].Load())
	}
	release()
	e, release := Make[[2]uint64](0)
	if len(e) != 0 {
		t.Fatalf("len %d, want 0", len(e))
	}
	release()
}

// TestMakeRefusesPointers: a type the collector must scan is refused, the
// plain integer tables of the capture path are not.
func TestMakeRefusesPointers(t *testing.T) {
	type plain struct {
		A [4]uint64
		B atomic.Uint32
	}
	type withString struct {
		N    int
		Name string
	}
	cases := []struct {
		name   string
		make   func()
		panics bool
	}{
		{"plain struct", func() { _, r := Make[plain](8); r() }, false},
		{"array of words", func() { _, r := Make[[2]uint64](8); r() }, false},
		{"pointer", func() { Make[*int](8) }, true},
		{"string in a struct", func() { Make[withString](8) }, true},
		{"slice in an array", func() { Make[[2][]byte](8) }, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if got := recover() != nil; got != c.panics {
					t.Errorf("panicked %v, want %v", got, c.panics)
				}
			}()
			c.make()
		})
	}
}

// TestReserve checks the reserved slice: empty with room for n values,
// zeroed and writable to its capacity; on Linux, aligned on a huge page
// (the kernel backs only aligned ranges with huge pages). A type with
// pointers is refused as by Make.
func TestReserve(t *testing.T) {
	for _, n := range []int{1, 1000, 3 << 20} {
		s, release, ok := Reserve[[2]uint64](n)
		if !ok {
			if runtime.GOOS == "linux" {
				t.Fatalf("Reserve(%d) refused on Linux", n)
			}
			continue
		}
		if len(s) != 0 || cap(s) != n {
			t.Fatalf("Reserve(%d): len %d cap %d", n, len(s), cap(s))
		}
		if a := uintptr(unsafe.Pointer(unsafe.SliceData(s))); runtime.GOOS == "linux" && a%hugePage != 0 {
			t.Errorf("Reserve(%d) at %#x, not on a huge page boundary", n, a)
		}
		s = s[:n]
		for _, i := range []int{0, n / 2, n - 1} {
			if s[i] != [2]uint64{} {
				t.Fatalf("Reserve(%d): value %d not zero", n, i)
			}
		}
		for _, i := range []int{0, n / 2, n - 1} {
			s[i] = [2]uint64{uint64(i), 1}
		}
		if s[n-1][0] != uint64(n-1) {
			t.Fatalf("Reserve(%d): value %d = %v", n, n-1, s[n-1])
		}
		release()
	}
	defer func() {
		if recover() == nil {
			t.Error("Reserve of a type with pointers did not panic")
		}
	}()
	Reserve[*int](8)
}
