//go:build linux

package kernel

import (
	"syscall"
	"testing"
)

// guarded returns n bytes that end where an inaccessible page begins, so
// that a kernel reading past them faults.
func guarded(t testing.TB, n int) []byte {
	t.Helper()
	page := syscall.Getpagesize()
	size := (n+page-1)/page*page + page
	m, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mprotect(m[size-page:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(m) })
	return m[size-page-n : size-page : size-page]
}

// bigBuffer returns n bytes of anonymous memory for a benchmark table,
// backed by transparent huge pages when huge is set (as the store's
// anon-hugepages mapping mode does), and a function that releases it.
func bigBuffer(t testing.TB, n int, huge bool) ([]byte, func()) {
	t.Helper()
	m, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	advice := syscall.MADV_NOHUGEPAGE
	if huge {
		advice = syscall.MADV_HUGEPAGE
	}
	if err := syscall.Madvise(m, advice); err != nil {
		t.Fatal(err)
	}
	return m, func() { syscall.Munmap(m) }
}
