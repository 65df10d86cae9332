//go:build !unix

package format

import "os"

// lockFile does nothing where advisory locks are not available.
func lockFile(f *os.File) {}

// tryLockFile reports false where advisory locks are not available: without
// them a live writer cannot be told from a dead one, so temporary files are
// never removed automatically.
func tryLockFile(f *os.File) bool { return false }

// syncDir does nothing where directories cannot be synced.
func syncDir(dir string) error { return nil }
