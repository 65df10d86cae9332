//go:build unix

package regfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestOpenRefusesWithoutBlocking: a FIFO nobody writes to, a directory and
// a device are refused at once; a regular file and a link to one open.
func TestOpenRefusesWithoutBlocking(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	reg := filepath.Join(dir, "t.emb")
	os.WriteFile(reg, []byte("x"), 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink("t.emb", link)
	for _, c := range []struct {
		path, what string
	}{{fifo, "named pipe"}, {dir, "directory"}, {os.DevNull, "character device"}} {
		done := make(chan error, 1)
		go func() {
			f, _, err := Open(c.path)
			if f != nil {
				f.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), c.what) || !strings.Contains(err.Error(), c.path) {
				t.Errorf("%s: %v; want ErrNotRegular naming the path and %q", c.path, err, c.what)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Open(%s) blocked", c.path)
		}
	}
	for _, p := range []string{reg, link} {
		f, fi, err := Open(p)
		if err != nil || fi.Size() != 1 {
			t.Fatalf("%s: %v", p, err)
		}
		b := make([]byte, 1)
		if _, err := f.Read(b); err != nil || b[0] != 'x' {
			t.Fatalf("read %s: %v", p, err)
		}
		f.Close()
	}
}
