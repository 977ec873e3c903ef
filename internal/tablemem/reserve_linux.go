package tablemem

import "syscall"

// hugePage is the size of a transparent huge page on the platforms Go
// runs Linux on (x86-64, arm64 with 4 KiB pages).
const hugePage = 2 << 20

// reserve maps size bytes (rounded up to whole huge pages) of anonymous
// memory without reserving swap for it (MAP_NORESERVE: a table sized for
// its bound touches a fraction of it), and asks for huge pages.
func reserve(size int) ([]byte, func(), bool) {
	size = (size + hugePage - 1) &^ (hugePage - 1)
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_ANON|syscall.MAP_PRIVATE|syscall.MAP_NORESERVE)
	if err != nil {
		return nil, nil, false
	}
	// Advice only: without transparent huge pages the mapping still works.
	_ = syscall.Madvise(mem, syscall.MADV_HUGEPAGE)
	return mem, func() { _ = syscall.Munmap(mem) }, true
}
