package store

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// mapPopulate is the mmap flag that faults a mapping in at once.
const mapPopulate = unix.MAP_POPULATE

// adviseHugePages asks for transparent huge pages on a file mapping, and for
// the kernel to collapse it into huge pages now (Linux 6.1 and later). Many
// file systems cannot back file mappings with huge pages (file THP needs
// CONFIG_READ_ONLY_THP_FOR_FS, or tmpfs mounted huge=): then the advice is
// kept but has no effect, and Stats shows it.
func adviseHugePages(b []byte) error {
	if err := unix.Madvise(b, unix.MADV_HUGEPAGE); err != nil {
		return err
	}
	_ = unix.Madvise(b, unix.MADV_COLLAPSE) // EINVAL where file THP is unsupported
	return nil
}

// copyToAnonHuge copies the file into private anonymous memory advised for
// transparent huge pages, then makes it read-only.
func copyToAnonHuge(f *os.File, size int) (*mapping, error) {
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("embstore: allocate %d bytes of anonymous memory: %w", size, err)
	}
	m := &mapping{data: b}
	if err := unix.Madvise(b, unix.MADV_HUGEPAGE); err != nil {
		m.close()
		return nil, fmt.Errorf("embstore: madvise huge pages: %w", err)
	}
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		m.close()
		return nil, fmt.Errorf("embstore: copy %s: %w", f.Name(), err)
	}
	if err := unix.Mprotect(b, unix.PROT_READ); err != nil {
		m.close()
		return nil, fmt.Errorf("embstore: protect copy: %w", err)
	}
	return m, nil
}
