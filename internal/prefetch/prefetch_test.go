package prefetch

import (
	"testing"
	"unsafe"
)

// TestAnyAddress: callers prefetch the slot of an empty index (address 0),
// arrays about to be replaced and computed addresses; a prefetch must not
// fault whatever the address, nor change memory.
func TestAnyAddress(t *testing.T) {
	x := make([]uint64, 8)
	for _, p := range []uintptr{0, 8, 1 << 47, ^uintptr(0), uintptr(unsafe.Pointer(&x[3]))} {
		Line(p)
		Lines(p, ^p)
	}
	if x[3] != 0 {
		t.Errorf("a prefetch changed memory: %d", x[3])
	}
}
