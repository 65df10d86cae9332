//go:build unix

package regfile

import (
	"os"
	"syscall"
)

// openNonblocking opens name read-only with O_NONBLOCK, which makes opening a
// named pipe return at once instead of waiting for a writer.
func openNonblocking(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// setBlocking clears O_NONBLOCK on a regular file's descriptor (reads of
// regular files do not heed it, but the descriptor is handed on).
func setBlocking(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.SetNonblock(int(fd), false) }); err != nil {
		return err
	}
	return serr
}
