package format

import (
	"os"

	"golang.org/x/sys/unix"
)

// preallocate reserves size bytes for f (fallocate with KEEP_SIZE: the file
// keeps its length, the blocks are reserved). It returns unix.ENOSPC when the
// file system lacks the space; other errors (file systems that cannot
// preallocate) are ignored, the writes then find out.
func preallocate(f *os.File, size int64) error {
	err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, size)
	if err == unix.ENOSPC {
		return err
	}
	return nil
}

// errNoSpace is the error of a write to a full file system.
var errNoSpace error = unix.ENOSPC
