package format

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFileWriterFinish checks that Finish returns the header Commit then
// puts in place unchanged, and that after a failed Finish, Commit fails and
// leaves no file.
func TestFileWriterFinish(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.emb")
	fw, err := Create(path, Layout{Rows: 3, Dim: 2, Norms: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.WriteTokens([]float32{1, 2, 3, 4, 5, 6}); err != nil {
		t.Fatal(err)
	}
	if err := fw.SetMetadata([]byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	h, err := fw.Finish()
	if err != nil {
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
	if f.CRC != h.CRC || f.FileSize != h.FileSize {
		t.Errorf("Finish said header crc %#x, %d bytes; the file has %#x, %d", h.CRC, h.FileSize, f.CRC, f.FileSize)
	}

	short := filepath.Join(dir, "short.emb")
	fw, err = Create(short, Layout{Rows: 3, Dim: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.WriteTokens([]float32{1, 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Finish(); err == nil {
		t.Fatal("Finish of a table missing rows succeeded")
	}
	if err := fw.Commit(); err == nil {
		t.Error("Commit after a failed Finish succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files left; want only t.emb", len(entries))
	}
}
