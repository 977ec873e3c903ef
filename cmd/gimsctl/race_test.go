//go:build race

package main

// raceEnabled builds the test binary with -race too.
const raceEnabled = true
