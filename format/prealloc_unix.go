//go:build unix && !linux

package format

import (
	"os"

	"golang.org/x/sys/unix"
)

// preallocate does nothing outside Linux: writes find a full disk out.
func preallocate(f *os.File, size int64) error { return nil }

// errNoSpace is the error of a write to a full file system.
var errNoSpace error = unix.ENOSPC
