package atomicfile

import (
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// reserve checks that the file system holding f has size bytes free and
// reserves them (fallocate, keeping the file's length), so that a table too
// large for the disk fails before its first row, not after minutes of
// writing. File systems that cannot preallocate are trusted to report a
// full disk on write.
func reserve(f *os.File, dir string, size int64) error {
	var st unix.Statfs_t
	if unix.Fstatfs(int(f.Fd()), &st) == nil && st.Blocks > 0 && st.Bsize > 0 {
		avail := st.Bavail
		if os.Geteuid() == 0 {
			avail = st.Bfree // root may use the reserved blocks
		}
		free := avail * uint64(st.Bsize)
		if uint64(size) > free {
			return fmt.Errorf("needs %s, the file system of %s has %s free: %w", humanBytes(uint64(size)), dir, humanBytes(free), errNoSpace)
		}
	}
	switch err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, size); err {
	case unix.ENOSPC:
		return fmt.Errorf("needs %s: %w", humanBytes(uint64(size)), errNoSpace)
	case unix.EFBIG:
		return fmt.Errorf("needs %s, more than the largest file the file system of %s holds: %w", humanBytes(uint64(size)), dir, err)
	}
	return nil
}

// renameNoReplace renames old to new unless new exists, atomically
// (renameat2 with RENAME_NOREPLACE, or a hard link where the file system
// lacks it).
func renameNoReplace(old, new string) error {
	err := unix.Renameat2(unix.AT_FDCWD, old, unix.AT_FDCWD, new, unix.RENAME_NOREPLACE)
	switch err {
	case nil:
		return nil
	case unix.EEXIST:
		return &fs.PathError{Op: "rename", Path: new, Err: fs.ErrExist}
	case unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP:
		return linkNoReplace(old, new)
	}
	return &fs.PathError{Op: "rename", Path: new, Err: err}
}
