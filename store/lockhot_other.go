//go:build !unix

package store

import "errors"

var errNoLock = errors.New("locking rows in memory needs a mapped table (Unix)")

// Open refuses Options.LockHot here; these are never called.
var (
	mlockRange   = func([]byte) error { return errNoLock }
	munlockRange = func([]byte) error { return nil }
)
