//go:build race

package main

// raceEnabled makes TestMain build the daemons with the race detector when
// the tests run with it, so the processes are checked too.
const raceEnabled = true
