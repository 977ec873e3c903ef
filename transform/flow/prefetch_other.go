//go:build !amd64

package flow

// prefetch does nothing where the table has no prefetch instruction of its
// own (see prefetch_amd64.go).
func prefetch(p uintptr) {}
