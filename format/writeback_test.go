package format

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestWritebackFile checks that the FileWriter's target passes every byte
// through and asks for write-out after each writebackChunk bytes.
func TestWritebackFile(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "wb"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := &writebackFile{File: f}
	chunk := bytes.Repeat([]byte{1, 2, 3}, 1<<20/3+1) // a little over 1 MiB
	var want []byte
	for range 20 {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
		want = append(want, chunk...)
		if w.written != int64(len(want)) || w.written-w.started >= writebackChunk || w.started%int64(len(chunk)) != 0 {
			t.Fatalf("after %d bytes: written %d, write-out started up to %d", len(want), w.written, w.started)
		}
	}
	if w.started == 0 {
		t.Fatal("no write-out started after 20 MiB")
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("file content differs from what was written")
	}
}
