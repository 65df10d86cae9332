//go:build unix && !linux && !darwin

package atomicfile

import "os"

// reserve does nothing on systems where free space is not checked: writes
// report a full disk.
func reserve(f *os.File, dir string, size int64) error { return nil }

// renameNoReplace renames old to new unless new exists, atomically.
func renameNoReplace(old, new string) error { return linkNoReplace(old, new) }
