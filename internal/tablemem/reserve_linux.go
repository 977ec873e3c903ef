package tablemem

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on the platforms Go
// runs Linux on (x86-64, arm64 with 4 KiB pages).
const hugePage = 2 << 20

// reserve maps size bytes (rounded up to whole huge pages) of anonymous
// memory without reserving swap for it (MAP_NORESERVE: a table sized for
// its bound touches a fraction of it), aligned on a huge page, and asks
// for huge pages. The kernel backs only the aligned 2 MiB ranges of a
// mapping with huge pages and does not align every mapping itself: a
// 2 MiB index mapped off the boundary took 512 page faults instead of one.
func reserve(size int) ([]byte, func(), bool) {
	n := uintptr(size+hugePage-1) &^ (hugePage - 1)
	p, err := unix.MmapPtr(-1, 0, nil, n+hugePage, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_ANON|unix.MAP_PRIVATE|unix.MAP_NORESERVE)
	if err != nil {
		return nil, nil, false
	}
	// Keep the aligned n bytes; give back the slack before and after.
	head := -uintptr(p) & (hugePage - 1)
	if head > 0 {
		_ = unix.MunmapPtr(p, head)
	}
	if tail := hugePage - head; tail > 0 {
		_ = unix.MunmapPtr(unsafe.Add(p, head+n), tail)
	}
	start := unsafe.Add(p, head)
	mem := unsafe.Slice((*byte)(start), n)
	// Advice only: without transparent huge pages the mapping still works.
	_ = unix.Madvise(mem, unix.MADV_HUGEPAGE)
	return mem, func() { _ = unix.MunmapPtr(start, n) }, true
}
