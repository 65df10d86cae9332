// Package regfile opens files that must be regular files (tables,
// checkpoints and the JSON files beside them) without ever blocking on what
// is not one. A plain open of a named pipe (FIFO) waits until another
// process opens it for writing, so a table path that names a FIFO would hang
// the caller forever; Open opens with O_NONBLOCK where the system has it,
// checks the file's type on the open descriptor and refuses everything but a
// regular file.
package regfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ErrNotRegular is wrapped by the *fs.PathError Open returns for a file that
// is not a regular file: a directory, named pipe, device or socket.
var ErrNotRegular = errors.New("not a regular file")

// Open opens the named file for reading if it is a regular file (following
// symbolic links), and returns it with its FileInfo. It never blocks on a
// named pipe.
func Open(name string) (*os.File, fs.FileInfo, error) {
	f, err := openNonblocking(name)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = &fs.PathError{Op: "open", Path: name, Err: NotRegular(fi.Mode())}
	}
	if err == nil {
		err = setBlocking(f)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// NotRegular returns an error wrapping ErrNotRegular that says what a file
// of mode m is instead.
func NotRegular(m fs.FileMode) error {
	return fmt.Errorf("%w: it is %s", ErrNotRegular, Describe(m))
}

// Describe names the type of a file of mode m: "a regular file", "a
// directory", "a named pipe (FIFO)", ...
func Describe(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "not a regular file"
}
