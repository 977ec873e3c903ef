package tablemem

import (
	"sync/atomic"
	"testing"
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
