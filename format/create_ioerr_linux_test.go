package format

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/embstore/embstore/internal/atomicfile"
)

// fileFault passes a FileWriter's writes to its temporary file, except call
// number failAt, which fails with err as *os.File reports it (naming the
// temporary file), after writing half its bytes if short.
type fileFault struct {
	f      *os.File
	calls  int
	failAt int
	err    error
	short  bool
}

func (w *fileFault) fail(p []byte) (int, bool) {
	call := w.calls
	w.calls++
	if call != w.failAt {
		return 0, false
	}
	if w.short {
		return len(p) / 2, true
	}
	return 0, true
}

func (w *fileFault) Write(p []byte) (int, error) {
	if n, failed := w.fail(p); failed {
		w.f.Write(p[:n])
		return n, &fs.PathError{Op: "write", Path: w.f.Name(), Err: w.err}
	}
	return w.f.Write(p)
}

func (w *fileFault) WriteAt(p []byte, off int64) (int, error) {
	if n, failed := w.fail(p); failed {
		w.f.WriteAt(p[:n], off)
		return n, &fs.PathError{Op: "write", Path: w.f.Name(), Err: w.err}
	}
	return w.f.WriteAt(p, off)
}

// divert makes fw's Writer write through w from now on. What it buffered so
// far (the header placeholder) goes to the file first.
func divert(t *testing.T, fw *FileWriter, w WriteTarget) {
	t.Helper()
	if err := fw.w.buf.Flush(); err != nil {
		t.Fatal(err)
	}
	fw.w.w = w
	fw.w.buf.Reset(w)
}

// writeRows writes ioLayout's rows and metadata through fw and commits,
// returning the first error.
func writeRows(fw *FileWriter) error {
	tokens := testValues(int(ioLayout.Rows)*ioLayout.Dim, 1)
	for lo := 0; lo < len(tokens); lo += 250 * ioLayout.Dim {
		if err := fw.WriteTokens(tokens[lo:min(len(tokens), lo+250*ioLayout.Dim)]); err != nil {
			return err
		}
	}
	if err := fw.WritePositions(testValues(int(ioLayout.Positions)*ioLayout.Dim, -3)); err != nil {
		return err
	}
	if err := fw.SetMetadata([]byte(testMetadata)); err != nil {
		return err
	}
	return fw.Commit()
}

// onlyOldTable checks that dir holds nothing but the table at dest, with
// the bytes old: no temporary file, the destination untouched.
func onlyOldTable(t *testing.T, what, dest string, old []byte) {
	t.Helper()
	if names := dirNames(t, filepath.Dir(dest)); len(names) != 1 || names[0] != filepath.Base(dest) {
		t.Fatalf("%s: the directory holds %v; want only %s", what, names, filepath.Base(dest))
	}
	if b, err := os.ReadFile(dest); err != nil || !bytes.Equal(b, old) {
		t.Fatalf("%s: the table at the destination changed (%v)", what, err)
	}
}

// TestFileWriterIOErrors fails each write a FileWriter makes to its
// temporary file, with EIO and ENOSPC, whole and short: the error wraps the
// cause and names the destination (not the temporary file), the temporary
// file is gone after the failure, and the table already at the destination
// is untouched.
func TestFileWriterIOErrors(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "t.emb")
	old := validFile(t)
	if err := os.WriteFile(dest, old, 0o644); err != nil {
		t.Fatal(err)
	}
	// A clean run through the same diversion counts the calls.
	fw, err := Create(dest, ioLayout)
	if err != nil {
		t.Fatal(err)
	}
	clean := &fileFault{f: fw.f.File, failAt: -1}
	divert(t, fw, clean)
	if err := writeRows(fw); err != nil {
		t.Fatalf("clean run: %v", err)
	}
	if _, err := Open(dest); err != nil {
		t.Fatalf("clean run wrote an invalid table: %v", err)
	}
	if err := os.WriteFile(dest, old, 0o644); err != nil {
		t.Fatal(err)
	}
	for k := range clean.calls {
		for _, e := range ioErrnos {
			for _, short := range []bool{false, true} {
				name := fmt.Sprintf("call %d of %d, %v, short %v", k, clean.calls, e, short)
				fw, err := Create(dest, ioLayout)
				if err != nil {
					t.Fatal(err)
				}
				divert(t, fw, &fileFault{f: fw.f.File, failAt: k, err: e, short: short})
				err = writeRows(fw)
				fw.Abort() // what callers defer; removes the temporary file if Commit was not reached
				if !errors.Is(err, e) {
					t.Fatalf("%s: %v does not wrap %v", name, err, e)
				}
				if msg := err.Error(); !strings.Contains(msg, dest) || strings.Contains(msg, atomicfile.TempMarker) {
					t.Fatalf("%s: error %q should name %s, not the temporary file", name, msg, dest)
				}
				onlyOldTable(t, name, dest, old)
			}
		}
	}
	t.Logf("%d writes per table, each failed 4 ways", clean.calls)
}

// reopenAs points fd at the file name, as dup3 does: every later operation
// on fd goes to that file.
func reopenAs(t *testing.T, f *os.File, name string) {
	t.Helper()
	g, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Skipf("cannot open %s: %v", name, err)
	}
	defer g.Close()
	if err := unix.Dup3(int(g.Fd()), int(f.Fd()), unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
}

// TestFileWriterKernelErrors makes the kernel fail a FileWriter: its
// temporary file's descriptor is pointed at /dev/full (every write fails
// with ENOSPC) or at /dev/null (writes succeed, fsync fails with EINVAL),
// and the destination is made a directory before Commit renames over it.
// Each failure must come back from Commit, leave no temporary file, and
// leave the destination as it was.
func TestFileWriterKernelErrors(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "t.emb")
	old := validFile(t)
	for _, c := range []struct {
		name, dev string
		want      error
	}{
		{"disk full", "/dev/full", syscall.ENOSPC},
		{"sync fails", "/dev/null", syscall.EINVAL},
	} {
		if err := os.WriteFile(dest, old, 0o644); err != nil {
			t.Fatal(err)
		}
		fw, err := Create(dest, ioLayout)
		if err != nil {
			t.Fatal(err)
		}
		reopenAs(t, fw.f.File, c.dev)
		err = writeRows(fw)
		fw.Abort()
		if !errors.Is(err, c.want) {
			t.Fatalf("%s: %v; want it to wrap %v", c.name, err, c.want)
		}
		if msg := err.Error(); !strings.Contains(msg, dest) || strings.Contains(msg, atomicfile.TempMarker) {
			t.Fatalf("%s: error %q should name %s, not the temporary file", c.name, msg, dest)
		}
		onlyOldTable(t, c.name, dest, old)
		t.Logf("%s: %v", c.name, err)
	}

	// The destination became a directory while the table was written.
	if err := os.Remove(dest); err != nil {
		t.Fatal(err)
	}
	fw, err := Create(dest, ioLayout)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dest, "keep"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err = writeRows(fw)
	fw.Abort()
	if err == nil {
		t.Fatal("Commit renamed the table over a directory")
	}
	if names := dirNames(t, dir); len(names) != 1 || names[0] != "t.emb" {
		t.Fatalf("a failed rename left %v", names)
	}
	if names := dirNames(t, dest); len(names) != 1 {
		t.Fatalf("the directory at the destination changed: %v", names)
	}
	t.Logf("rename over a directory: %v", err)
}
