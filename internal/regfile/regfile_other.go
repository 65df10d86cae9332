//go:build !unix

package regfile

import "os"

// openNonblocking opens name read-only; where there are no named pipes of the
// Unix kind an open does not block.
func openNonblocking(name string) (*os.File, error) { return os.Open(name) }

func setBlocking(f *os.File) error { return nil }
