// Package tablemem allocates the large, fixed-size tables of the capture
// path (Crypto-PAn's caches, the sanitizer's memos: megabytes of plain
// integers, allocated once per capture) outside the Go heap where the
// system allows it, so that they do not move the garbage collector's heap
// goal: a keyed offline run of a few hundred thousand packets otherwise
// crossed the goal that the same run without a key stayed under, and paid
// a whole collection (the scan of the program's globals) for it.
package tablemem

import (
	"fmt"
	"reflect"
	"unsafe"
)

// Make returns a zeroed slice of n values of T and the function that
// returns its memory. T must hold no Go pointers (the collector does not
// scan the memory). The slice must not be used after release; owners
// call release from a cleanup (runtime.AddCleanup) of the object that
// holds the only references to the slice.
func Make[T any](n int) (s []T, release func()) {
	if t := reflect.TypeFor[T](); hasPointers(t) {
		panic(fmt.Sprintf("tablemem: %v holds pointers, which the collector would not see outside its heap", t))
	}
	var zero T
	size := int(unsafe.Sizeof(zero)) * n
	if n <= 0 || size <= 0 {
		return make([]T, n), func() {}
	}
	mem, release := alloc(size)
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(mem))), n), release
}

// hasPointers tells whether a value of t holds anything the garbage
// collector follows.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.String, reflect.Chan, reflect.Func,
		reflect.Interface, reflect.UnsafePointer:
		return true
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}
