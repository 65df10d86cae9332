//go:build unix

package store

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"

	"golang.org/x/sys/unix"
)

// mapping is a read-only, shared memory mapping of a whole file.
type mapping struct {
	data []byte
}

// zeroCopy reports that rows are read straight out of the mapping.
const zeroCopy = true

func mapFile(f *os.File, size int64) (*mapping, error) {
	if size > math.MaxInt {
		return nil, fmt.Errorf("embstore: %d-byte file is too large to map on this platform", size)
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, &os.PathError{Op: "mmap", Path: f.Name(), Err: err}
	}
	return &mapping{data: b}, nil
}

// bytes returns the mapped file.
func (m *mapping) bytes() []byte { return m.data }

func (m *mapping) close() error {
	if m.data == nil {
		return nil
	}
	err := unix.Munmap(m.data)
	m.data = nil
	return err
}

// readerAt returns an io.ReaderAt over the mapping.
func (m *mapping) readerAt() io.ReaderAt { return bytes.NewReader(m.data) }
