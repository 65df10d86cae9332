package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/embstore/embstore/internal/testing/fuzzcorpus"
)

// FuzzParseHeader feeds arbitrary bytes to the reader. Whatever parses must
// satisfy the layout invariants, read in full, and survive a rewrite; what
// does not parse must fail with a *FormatError, never a panic. Seeds are the
// crafted fixtures, the real files and the corpus in
// testdata/fuzz/FuzzParseHeader (see fuzzcorpus).
func FuzzParseHeader(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(craftedDir, "*.safetensors"))
	if len(paths) == 0 {
		f.Fatal("no crafted fixtures")
	}
	real, _ := filepath.Glob(filepath.Join(smallDir, "*", "*.safetensors"))
	paths = append(paths, real...)
	paths = append(paths, filepath.Join(smallDir, "mixed-small.safetensors"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	corpus, err := fuzzcorpus.Load(fuzzcorpus.Dir(2, "FuzzParseHeader"))
	if err != nil {
		f.Fatal(err)
	}
	for _, args := range corpus {
		b, err := fuzzcorpus.Arg[[]byte](args, 0)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := NewFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a *FormatError", err, err)
			}
			if fe.Err == nil || fe.Offset < -1 || fe.Offset > int64(len(data)) {
				t.Fatalf("FormatError %#v: bad Err or Offset", fe)
			}
			_ = err.Error()
			return
		}
		exercise(t, file)

		// A file whose dtypes are all known can be rewritten; the rewrite
		// parses to the same tensors and is a fixed point.
		for _, ti := range file.Tensors {
			if !ti.DType.Known() {
				return
			}
		}
		var out bytes.Buffer
		if _, err := Write(&out, file.Metadata, rewrite(file)); err != nil {
			t.Fatalf("rewriting a valid file: %v", err)
		}
		again, err := NewFile(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatalf("rewritten file does not parse: %v", err)
		}
		if len(again.Tensors) != len(file.Tensors) || len(again.Metadata) != len(file.Metadata) {
			t.Fatalf("rewrite has %d tensors, %d metadata keys; want %d, %d", len(again.Tensors), len(again.Metadata), len(file.Tensors), len(file.Metadata))
		}
		for k, v := range file.Metadata {
			if again.Metadata[k] != v {
				t.Fatalf("rewrite changed metadata %q", k)
			}
		}
		for _, ti := range file.Tensors {
			tj, err := again.Tensor(ti.Name)
			if err != nil || tj.DType != ti.DType || !slices.Equal(tj.Shape, ti.Shape) {
				t.Fatalf("rewrite changed tensor %q: %v", ti.Name, err)
			}
			a, _ := file.RawReader(ti.Name)
			b, _ := again.RawReader(ti.Name)
			da, _ := io.ReadAll(a)
			db, _ := io.ReadAll(b)
			if !bytes.Equal(da, db) {
				t.Fatalf("rewrite changed the data of %q", ti.Name)
			}
		}
		var out2 bytes.Buffer
		if _, err := Write(&out2, again.Metadata, rewrite(again)); err != nil || !bytes.Equal(out2.Bytes(), out.Bytes()) {
			t.Fatalf("rewriting a rewrite changed it (%v)", err)
		}
	})
}

// FuzzCheckJSON feeds arbitrary bytes to the index and config.json checker:
// it must never panic, and what it accepts must be one JSON object that
// encoding/json also accepts. Seeds: a few documents, a real index, and the
// corpus in testdata/fuzz/FuzzCheckJSON.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"weight_map":{"a":"b.safetensors"}}`, `{"a":[1,{"b":null}],"c":"\ud83d\ude00"}`, `{"a":1,"a":2}`, `[{}]`, `{"a":{"b":{"c":[[[]]]}}}`} {
		f.Add([]byte(s))
	}
	if b, err := os.ReadFile(filepath.Join(smallDir, "llama-small-sharded", IndexFileName)); err == nil {
		f.Add(b)
	}
	corpus, err := fuzzcorpus.Load(fuzzcorpus.Dir(2, "FuzzCheckJSON"))
	if err != nil {
		f.Fatal(err)
	}
	for _, args := range corpus {
		b, err := fuzzcorpus.Arg[[]byte](args, 0)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := checkJSON(data); err != nil {
			_ = err.Error()
			return
		}
		var m map[string]json.RawMessage
		if !json.Valid(data) || json.Unmarshal(data, &m) != nil {
			t.Fatalf("checkJSON accepted %q, which encoding/json rejects", data)
		}
	})
}
