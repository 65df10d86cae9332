//go:build !unix

package store

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/exp/mmap"
)

// mapping copies out of a golang.org/x/exp/mmap reader where the platform's
// mapping cannot be handed out as a byte slice.
type mapping struct {
	r *mmap.ReaderAt
}

func mapFile(f *os.File, size int64, mode MapMode) (*mapping, error) {
	switch mode {
	case MapHugePages, MapAnonHugePages, MapRandom:
		return nil, &os.PathError{Op: "map", Path: f.Name(), Err: fmt.Errorf("map mode %s is not supported on this platform", mode)}
	}
	r, err := mmap.Open(f.Name())
	if err != nil {
		return nil, err
	}
	m := &mapping{r: r}
	if mode == MapPopulate {
		buf := make([]byte, 1<<20)
		for off := int64(0); off < size; off += int64(len(buf)) {
			if _, err := r.ReadAt(buf[:min(int64(len(buf)), size-off)], off); err != nil && err != io.EOF {
				r.Close()
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *mapping) bytes() []byte { return nil }

// readerAt returns an io.ReaderAt over the mapping.
func (m *mapping) readerAt() io.ReaderAt { return m.r }

func (m *mapping) close() error { return m.r.Close() }
