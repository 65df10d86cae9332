package atomicfile

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// reserve checks that the file system holding f has size bytes free.
// macOS has no fallocate; writes report a full disk.
func reserve(f *os.File, dir string, size int64) error {
	var st unix.Statfs_t
	if unix.Fstatfs(int(f.Fd()), &st) == nil && st.Blocks > 0 && st.Bsize > 0 {
		free := st.Bavail * uint64(st.Bsize)
		if uint64(size) > free {
			return fmt.Errorf("needs %s, the file system of %s has %s free: %w", humanBytes(uint64(size)), dir, humanBytes(free), errNoSpace)
		}
	}
	return nil
}

// renameNoReplace renames old to new unless new exists, atomically.
func renameNoReplace(old, new string) error { return linkNoReplace(old, new) }
