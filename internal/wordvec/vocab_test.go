package wordvec

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func TestVocab(t *testing.T) {
	v := NewVocab()
	if _, ok := v.ID([]byte("x")); ok {
		t.Fatal("empty vocab finds a word")
	}
	const n = 100000
	for i := range n {
		w := []byte(fmt.Sprintf("w%d", i))
		id, added, ok := v.Add(w)
		if !ok || !added || id != i {
			t.Fatalf("Add(%s) = %d, %v, %v", w, id, added, ok)
		}
	}
	for i := 0; i < n; i += 7 {
		w := []byte(fmt.Sprintf("w%d", i))
		if id, added, ok := v.Add(w); !ok || added || id != i {
			t.Fatalf("re-Add(%s) = %d, %v, %v", w, id, added, ok)
		}
		if id, ok := v.ID(w); !ok || id != i || !bytes.Equal(v.Word(i), w) {
			t.Fatalf("ID(%s) = %d, %v", w, id, ok)
		}
	}
	if _, ok := v.ID([]byte("w100000")); ok {
		t.Fatal("found a word never added")
	}
	if v.Len() != n || v.Bytes() == 0 {
		t.Fatalf("Len %d", v.Len())
	}
	// The empty word is a word like any other to the Vocab.
	if id, added, _ := v.Add(nil); !added || id != n || len(v.Word(n)) != 0 {
		t.Fatal("empty word")
	}
}

// TestCloseEarly closes a Reader in the middle of a file: its goroutines
// end.
func TestCloseEarly(t *testing.T) {
	data := synthText(t, 5000, 50, Word2VecText)
	before := runtime.NumGoroutine()
	for range 5 {
		r, err := readerOver(data, &Options{Workers: 4, BlockBytes: 4096})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if _, err := r.Next(); err == nil {
			t.Fatal("Next after Close succeeded")
		}
	}
	// Compressed files: Close must not close a decompressor under a read.
	dir := t.TempDir()
	for _, c := range []struct{ name, cmd string }{{"v.txt.gz", "gzip"}, {"v.txt.zst", "zstd"}} {
		var buf bytes.Buffer
		switch c.cmd {
		case "gzip":
			zw := gzip.NewWriter(&buf)
			zw.Write(data)
			zw.Close()
		case "zstd":
			zw, _ := zstd.NewWriter(&buf)
			zw.Write(data)
			zw.Close()
		}
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			r, err := Open(path, &Options{Workers: 3, BlockBytes: 4096})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Next(); err != nil {
				t.Fatal(err)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Fatalf("%d goroutines after Close, %d before", g, before)
	}
}

func readerOver(data []byte, opts *Options) (*Reader, error) {
	return NewReader(bytes.NewReader(data), opts)
}
