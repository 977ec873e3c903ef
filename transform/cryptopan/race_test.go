//go:build race

package cryptopan

// raceEnabled tells whether the race detector is on: under it sync.Pool drops
// items at random, so allocation counts are not meaningful.
const raceEnabled = true
