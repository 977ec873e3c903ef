//go:build !linux

package tablemem

// reserve has no mapping to offer outside Linux: the caller grows a heap
// slice.
func reserve(int) ([]byte, func(), bool) { return nil, nil, false }
