package faultguard

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestRunCatchesSIGBUS maps a file, truncates it and reads the page that is
// gone: the read must come back as a *Fault, and the process live on.
func TestRunCatchesSIGBUS(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 2*os.Getpagesize()), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := syscall.Mmap(int(f.Fd()), 0, 2*os.Getpagesize(), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(m)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	var b byte
	err = Run(func() error { b = m[os.Getpagesize()]; return nil })
	fault, ok := err.(*Fault)
	if !ok {
		t.Fatalf("Run returned %v (read %d), want a *Fault", err, b)
	}
	if fault.Addr == 0 {
		t.Error("fault without an address")
	}
}
