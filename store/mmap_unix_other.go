//go:build unix && !linux

package store

import (
	"errors"
	"os"
)

// mapPopulate is 0 where mmap has no populate flag: MapPopulate then reads
// every page instead.
const mapPopulate = 0

var errNoHugePages = errors.New("transparent huge pages are only available on Linux")

func adviseHugePages(b []byte) error { return errNoHugePages }

func copyToAnonHuge(f *os.File, size int) (*mapping, error) {
	return nil, &os.PathError{Op: "map", Path: f.Name(), Err: errNoHugePages}
}
