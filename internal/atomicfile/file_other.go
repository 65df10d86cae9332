//go:build !unix

package atomicfile

import (
	"errors"
	"io/fs"
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

// keepOwnerAndMode gives f the permission bits of the file it replaces.
func keepOwnerAndMode(f *os.File, old fs.FileInfo) { _ = f.Chmod(old.Mode().Perm()) }

// errNoSpace is the error of a write to a full file system.
var errNoSpace = errors.New("no space left on device")

// reserve does nothing where the file system cannot report free space.
func reserve(f *os.File, dir string, size int64) error { return nil }

// renameNoReplace renames old to new unless new exists. Without an atomic
// primitive it checks first: a file created in between is replaced.
func renameNoReplace(old, new string) error {
	if _, err := os.Lstat(new); err == nil {
		return &fs.PathError{Op: "rename", Path: new, Err: fs.ErrExist}
	}
	return os.Rename(old, new)
}
