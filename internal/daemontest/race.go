//go:build race

package daemontest

// Race tells whether this program runs with the race detector, so tests
// can build the daemons they start with it too.
const Race = true
