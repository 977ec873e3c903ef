//go:build !amd64

package packet

import "unsafe"

// prefetch2 does nothing where the package has no assembly for it.
func prefetch2(p, q unsafe.Pointer) {}
