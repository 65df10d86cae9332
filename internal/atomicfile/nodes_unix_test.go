//go:build unix

package atomicfile

import (
	"io/fs"

	"golang.org/x/sys/unix"
)

func mkfifo(p string) error { return unix.Mkfifo(p, 0o644) }

// mkCharDevice makes a node for the null device (1, 3), which needs
// privileges.
func mkCharDevice(p string) error {
	return unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3)))
}

func umask() fs.FileMode {
	m := unix.Umask(0)
	unix.Umask(m)
	return fs.FileMode(m)
}
