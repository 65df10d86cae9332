//go:build !unix

package atomicfile

import (
	"errors"
	"io/fs"
)

func mkfifo(p string) error       { return errors.New("no named pipes") }
func mkCharDevice(p string) error { return errors.New("no device nodes") }
func umask() fs.FileMode          { return 0 }
