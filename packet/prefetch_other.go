//go:build !amd64

package packet

import "unsafe"

// prefetch does nothing where the package has no assembly for it.
func prefetch(unsafe.Pointer) {}
