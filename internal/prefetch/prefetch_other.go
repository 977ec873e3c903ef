//go:build !amd64

package prefetch

// Line does nothing where the package has no assembly.
func Line(p uintptr) {}

// Lines does nothing where the package has no assembly.
func Lines(p, q uintptr) {}
