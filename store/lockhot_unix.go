//go:build unix

package store

import "golang.org/x/sys/unix"

// mlockRange and munlockRange are variables so that tests can make the
// kernel refuse.
var (
	mlockRange   = unix.Mlock
	munlockRange = unix.Munlock
)
