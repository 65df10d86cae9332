//go:build !unix

package store

import (
	"io"
	"os"

	"golang.org/x/exp/mmap"
)

// mapping copies out of a golang.org/x/exp/mmap reader where the platform's
// mapping cannot be handed out as a byte slice.
type mapping struct {
	r    *mmap.ReaderAt
	data []byte
}

// zeroCopy reports that rows are copied out of the file, not read in place.
const zeroCopy = false

func mapFile(f *os.File, size int64) (*mapping, error) {
	r, err := mmap.Open(f.Name())
	if err != nil {
		return nil, err
	}
	return &mapping{r: r}, nil
}

func (m *mapping) bytes() []byte { return nil }

func (m *mapping) close() error { return m.r.Close() }

// readerAt returns an io.ReaderAt over the mapping.
func (m *mapping) readerAt() io.ReaderAt { return m.r }
