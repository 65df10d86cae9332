//go:build unix

package wordvec

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/embstore/embstore/internal/regfile"
	"golang.org/x/sys/unix"
)

// TestOpenRefusesFIFO: a named pipe that nobody writes to is refused at
// once (a plain open would wait for a writer forever), as is a directory.
func TestOpenRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "vectors.vec")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, dir} {
		done := make(chan error, 1)
		go func() {
			r, err := Open(p, nil)
			if r != nil {
				r.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, regfile.ErrNotRegular) {
				t.Errorf("Open(%s): %v; want ErrNotRegular", p, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Open(%s) blocked", p)
		}
	}
}
