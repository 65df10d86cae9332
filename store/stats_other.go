//go:build !linux

package store

// residency is unknown outside Linux.
func residency(b []byte) (resident, huge int64) { return -1, -1 }
