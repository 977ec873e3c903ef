//go:build linux || darwin || freebsd

package tablemem

import "syscall"

// alloc maps size bytes of anonymous memory (zeroed, pages given by the
// system on first touch), or falls back to the heap.
func alloc(size int) ([]byte, func()) {
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, size), func() {}
	}
	return mem, func() { _ = syscall.Munmap(mem) }
}
