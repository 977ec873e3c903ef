package tablemem

import (
	"fmt"
	"reflect"
	"unsafe"
)

// Reserve returns a slice of length 0 and capacity n of T in address
// space set aside outside the Go heap, and the function that gives it
// back; ok is false where the system has no such mapping or refused it
// (the caller then grows a heap slice as before). The memory is zeroed
// and costs nothing until it is touched: pages are given on first write,
// as huge pages where the system has them (Linux transparent huge pages,
// madvise mode), so that a table that grows by appending within the
// capacity never copies itself, takes a page fault per 2 MiB instead of
// per 4 KiB, and its random accesses miss the TLB far less. That is what
// the flow table's slab needs: up to MaxFlows entries, of which a capture
// usually touches a small part. T must hold no Go pointers (the collector
// does not scan the memory); the slice must not be used after release.
func Reserve[T any](n int) (s []T, release func(), ok bool) {
	if t := reflect.TypeFor[T](); hasPointers(t) {
		panic(fmt.Sprintf("tablemem: %v holds pointers, which the collector would not see outside its heap", t))
	}
	var zero T
	size := unsafe.Sizeof(zero)
	if n <= 0 || size == 0 || uintptr(n) > ^uintptr(0)/size {
		return nil, nil, false
	}
	mem, release, ok := reserve(int(size) * n)
	if !ok {
		return nil, nil, false
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(mem))), n)[:0], release, true
}
