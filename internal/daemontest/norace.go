//go:build !race

package daemontest

// Race: see race.go.
const Race = false
