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

// mapping is the memory holding a whole table file: a read-only shared
// mapping of the file, or (MapAnonHugePages) a private anonymous copy.
type mapping struct {
	data []byte
}

func mapFile(f *os.File, size int64, mode MapMode) (*mapping, error) {
	if size > math.MaxInt {
		return nil, fmt.Errorf("embstore: %d-byte file is too large to map on this platform", size)
	}
	if mode == MapAnonHugePages {
		return copyToAnonHuge(f, int(size))
	}
	flags := unix.MAP_SHARED
	if mode == MapPopulate {
		flags |= mapPopulate
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, flags)
	if err != nil {
		return nil, &os.PathError{Op: "mmap", Path: f.Name(), Err: err}
	}
	m := &mapping{data: b}
	if err := m.advise(mode); err != nil {
		m.close()
		return nil, &os.PathError{Op: "madvise", Path: f.Name(), Err: err}
	}
	return m, nil
}

// advise applies mode to a fresh file mapping.
func (m *mapping) advise(mode MapMode) error {
	switch mode {
	case MapPopulate:
		if mapPopulate == 0 {
			touchPages(m.data)
		}
	case MapRandom:
		return unix.Madvise(m.data, unix.MADV_RANDOM)
	case MapHugePages:
		return adviseHugePages(m.data)
	}
	return nil
}

// touchPages reads one byte of every page, faulting the whole mapping in.
func touchPages(b []byte) {
	var sum byte
	for i := 0; i < len(b); i += os.Getpagesize() {
		sum += b[i]
	}
	touchSink = sum
}

var touchSink byte

// bytes returns the mapped file.
func (m *mapping) bytes() []byte { return m.data }

// readerAt returns an io.ReaderAt over the mapping.
func (m *mapping) readerAt() io.ReaderAt { return bytes.NewReader(m.data) }

func (m *mapping) close() error {
	if m.data == nil {
		return nil
	}
	err := unix.Munmap(m.data)
	m.data = nil
	return err
}
