//go:build unix

package format

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestOpenRefusesFIFO: Open of a named pipe fails at once with
// ErrNotRegular (it waited forever for a writer), and Create refuses one as
// a destination (it renamed the table over it).
func TestOpenRefusesFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "t.emb")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := Open(fifo); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) {
			t.Fatalf("Open of a FIFO: %v; want ErrNotRegular", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Open of a FIFO blocked")
	}
	if _, err := Create(fifo, Layout{Rows: 1, Dim: 1}); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("Create over a FIFO: %v; want ErrNotRegular", err)
	}
	var st unix.Stat_t
	if unix.Stat(fifo, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Fatal("the FIFO was replaced")
	}
}
