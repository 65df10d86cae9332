//go:build !unix

package format

import (
	"errors"
	"os"
)

// lockFile does nothing where advisory locks are not available.
func lockFile(f *os.File) {}

// tryLockFile reports false where advisory locks are not available: without
// them a live writer cannot be told from a dead one, so temporary files are
// never removed automatically.
func tryLockFile(f *os.File) bool { return false }

// syncDir does nothing where directories cannot be synced.
func syncDir(dir string) error { return nil }

// errNoSpace is never returned where preallocation is not available.
var errNoSpace = errors.New("no space left on device")

// preallocate does nothing where the file system cannot reserve space.
func preallocate(f *os.File, size int64) error { return nil }
