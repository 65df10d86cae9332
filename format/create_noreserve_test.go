package format

import (
	"errors"
	"path/filepath"
	"testing"
)

// TestCreateNoReserve: a RowsAtMost layout whose bound is far above the
// rows to come (a GloVe stream of unknown length) is refused for space when
// Create reserves it, and written, at the size of the rows written, with
// NoReserve.
func TestCreateNoReserve(t *testing.T) {
	dir := t.TempDir()
	l := Layout{Rows: MaxRows, Dim: 4096, RowsAtMost: true, Norms: true}
	if fw, err := Create(filepath.Join(dir, "reserved.emb"), l); err == nil {
		fw.Abort()
		t.Skip("this file system has room for 64 TiB")
	} else if !errors.Is(err, ErrNoSpace) {
		t.Logf("reserving: %v", err) // EFBIG on some file systems
	}
	path := filepath.Join(dir, "t.emb")
	fw, err := CreateWith(path, l, &CreateOptions{NoReserve: true})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Abort()
	if err := fw.WriteTokens(make([]float32, 3*4096)); err != nil {
		t.Fatal(err)
	}
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Rows != 3 || f.FileSize > 1<<20 {
		t.Errorf("%d rows, %d bytes", f.Rows, f.FileSize)
	}
}
