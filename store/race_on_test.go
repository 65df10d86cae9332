//go:build race

package store

// raceEnabled: the race detector makes sync.Pool drop a share of what is
// put back, on purpose, so calls that recycle through pools allocate.
const raceEnabled = true
