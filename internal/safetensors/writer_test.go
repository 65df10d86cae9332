package safetensors

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// rewrite builds WriteTensors that copy every tensor of f.
func rewrite(f *File) []WriteTensor {
	var ts []WriteTensor
	for _, ti := range f.Tensors {
		ti := ti
		ts = append(ts, WriteTensor{
			Name: ti.Name, DType: ti.DType, Shape: ti.Shape,
			Data: func(w io.Writer) error {
				r, err := f.RawReader(ti.Name)
				if err != nil {
					return err
				}
				_, err = io.Copy(w, r)
				return err
			},
		})
	}
	return ts
}

// TestWriteReproducesReference rewrites every real file, made by the
// reference implementation, from its own tensors and metadata: the writer
// must produce the same bytes.
func TestWriteReproducesReference(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(smallDir, "*", "*.safetensors"))
	paths = append(paths, filepath.Join(smallDir, "mixed-small.safetensors"))
	for _, p := range paths {
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := NewFile(bytes.NewReader(want), int64(len(want)))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		n, err := Write(&buf, f.Metadata, rewrite(f))
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(buf.Len()) {
			t.Errorf("%s: Write returned %d; wrote %d bytes", p, n, buf.Len())
		}
		if !bytes.Equal(buf.Bytes(), want) {
			got := buf.Bytes()
			i := 0
			for i < len(got) && i < len(want) && got[i] == want[i] {
				i++
			}
			t.Errorf("%s: rewritten file differs from the reference's at byte %d of %d\n got: %.120q\nwant: %.120q", p, i, len(want), got[max(0, i-40):], want[max(0, i-40):])
		}
	}
}

func bytesData(b []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}
}

func TestWriteRoundTrip(t *testing.T) {
	rng := splitmix(1)
	var ts []WriteTensor
	var datas [][]byte
	add := func(name string, dt DType, shape ...int64) {
		n := int64(1)
		for _, d := range shape {
			n *= d
		}
		b := make([]byte, n*int64(dt.Bits())/8)
		for i := range b {
			b[i] = byte(rng.next())
		}
		ts = append(ts, WriteTensor{Name: name, DType: dt, Shape: shape, Data: bytesData(b)})
		datas = append(datas, b)
	}
	for i, dt := range slices.Sorted(maps.Keys(dtypes)) {
		add(string(dt)+"-matrix", dt, 3, int64(2+i%3)*4)
		add(string(dt)+"-empty", dt, 0, 5)
	}
	add("scalar", F64)
	add("vector", BF16, 7)
	add("rank5", U8, 1, 2, 1, 3, 1)
	add(`quote" back\ slash`, F32, 1)
	add("control\x00\x01\x1f\x7f\b\f\n\r\t", F32, 1)
	add("unicode é 😀 \u2028 </script>", F32, 1)
	ts[len(ts)-2].Data = nil // a 4-byte tensor without data must fail; restored below
	meta := map[string]string{"format": "pt", `"quoted"`: "line\nbreak", "": "empty key", "ünï": "\u0000"}

	if _, err := Write(io.Discard, meta, ts); !errors.Is(err, ErrSizeMismatch) {
		t.Fatalf("Write with a nil Data for 4 bytes: %v; want ErrSizeMismatch", err)
	}
	ts[len(ts)-2].Data = bytesData(datas[len(ts)-2])

	var buf bytes.Buffer
	if _, err := Write(&buf, meta, ts); err != nil {
		t.Fatal(err)
	}
	f, err := NewFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if (f.HeaderSize % 8) != 0 {
		t.Errorf("header length %d is not a multiple of 8", f.HeaderSize)
	}
	if !maps.Equal(f.Metadata, meta) {
		t.Errorf("metadata %q; want %q", f.Metadata, meta)
	}
	if len(f.Tensors) != len(ts) {
		t.Fatalf("%d tensors; want %d", len(f.Tensors), len(ts))
	}
	for i, w := range ts {
		ti, err := f.Tensor(w.Name)
		if err != nil {
			t.Fatal(err)
		}
		if ti.DType != w.DType || !slices.Equal(ti.Shape, w.Shape) {
			t.Errorf("%q: %s %v; want %s %v", w.Name, ti.DType, ti.Shape, w.DType, w.Shape)
		}
		if ti.Size() > 0 && ti.Offset%int64(max(1, w.DType.Bits()/8)) != 0 {
			t.Errorf("%q: %s data at offset %d is not aligned", w.Name, w.DType, ti.Offset)
		}
		r, _ := f.RawReader(w.Name)
		got, _ := io.ReadAll(r)
		if !bytes.Equal(got, datas[i]) {
			t.Errorf("%q: data differs", w.Name)
		}
	}
	// Writing what was read gives the same bytes again.
	var again bytes.Buffer
	if _, err := Write(&again, f.Metadata, rewrite(f)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Error("rewriting a written file changed it")
	}
	// nil metadata is omitted, empty metadata is written as {}.
	for _, m := range []map[string]string{nil, {}} {
		var b bytes.Buffer
		if _, err := Write(&b, m, nil); err != nil {
			t.Fatal(err)
		}
		want := `{}      `
		if m != nil {
			want = `{"__metadata__":{}}     `
		}
		if got := b.String()[8:]; got != want {
			t.Errorf("Write(metadata %#v) header %q; want %q", m, got, want)
		}
	}
}

func TestWriteRejects(t *testing.T) {
	ok := func(name string) WriteTensor {
		return WriteTensor{Name: name, DType: F32, Shape: []int64{1}, Data: bytesData(make([]byte, 4))}
	}
	for _, c := range []struct {
		name    string
		meta    map[string]string
		tensors []WriteTensor
		err     error
	}{
		{"empty name", nil, []WriteTensor{ok("")}, ErrTensorName},
		{"metadata name", nil, []WriteTensor{ok("__metadata__")}, ErrTensorName},
		{"invalid UTF-8 name", nil, []WriteTensor{ok("a\xff")}, ErrTensorName},
		{"duplicate name", nil, []WriteTensor{ok("a"), ok("a")}, ErrDuplicateKey},
		{"unknown dtype", nil, []WriteTensor{{Name: "a", DType: "Q4_K", Shape: []int64{1}}}, ErrDType},
		{"negative dim", nil, []WriteTensor{{Name: "a", DType: F32, Shape: []int64{-1}}}, ErrShape},
		{"huge dim", nil, []WriteTensor{{Name: "a", DType: F32, Shape: []int64{MaxSize + 1}}}, ErrShape},
		{"element overflow", nil, []WriteTensor{{Name: "a", DType: U8, Shape: []int64{1 << 24, 1 << 24, 1 << 24}}}, ErrSizeOverflow},
		{"total overflow", nil, []WriteTensor{{Name: "a", DType: U8, Shape: []int64{MaxSize}}, {Name: "b", DType: U8, Shape: []int64{1}}}, ErrSizeOverflow},
		{"rank", nil, []WriteTensor{{Name: "a", DType: F32, Shape: make([]int64, MaxRank+1)}}, ErrRank},
		{"partial byte", nil, []WriteTensor{{Name: "a", DType: F4, Shape: []int64{3}}}, ErrSizeMismatch},
		{"invalid UTF-8 metadata", map[string]string{"k": "\xff"}, nil, ErrMetadata},
		{"short data", nil, []WriteTensor{{Name: "a", DType: F32, Shape: []int64{2}, Data: bytesData(make([]byte, 7))}}, ErrSizeMismatch},
		{"long data", nil, []WriteTensor{{Name: "a", DType: F32, Shape: []int64{2}, Data: bytesData(make([]byte, 9))}}, ErrSizeMismatch},
	} {
		if _, err := Write(io.Discard, c.meta, c.tensors); !errors.Is(err, c.err) {
			t.Errorf("%s: Write: %v; want %v", c.name, err, c.err)
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "out.safetensors")
		if err := WriteFile(path, c.meta, c.tensors); !errors.Is(err, c.err) {
			t.Errorf("%s: WriteFile: %v; want %v", c.name, err, c.err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%s: WriteFile left %v behind", c.name, entries)
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "table.safetensors")
	first := []WriteTensor{{Name: "w", DType: F32, Shape: []int64{2, 2}, Data: bytesData(f32Bytes(1, 2, 3, 4))}}
	if err := WriteFile(path, map[string]string{"v": "1"}, first); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v; want 0644", fi.Mode().Perm())
	}
	var want bytes.Buffer
	Write(&want, map[string]string{"v": "1"}, first)
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, want.Bytes()) {
		t.Error("WriteFile wrote other bytes than Write")
	}

	// Map the file, then replace it: the mapping keeps the old data.
	old, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	second := []WriteTensor{{Name: "w", DType: F32, Shape: []int64{2, 2}, Data: bytesData(f32Bytes(5, 6, 7, 8))}}
	if err := WriteFile(path, nil, second); err != nil {
		t.Fatal(err)
	}
	rr, _ := old.Rows("w")
	if vals := readAll(t, rr); vals[0] != 1 || vals[3] != 4 {
		t.Errorf("mapped old file reads %v after replacement; want [1 2 3 4]", vals)
	}

	// A failing Data callback leaves the current file untouched and no
	// temporary file behind.
	before, _ := os.ReadFile(path)
	boom := errors.New("boom")
	failing := []WriteTensor{
		{Name: "a", DType: F32, Shape: []int64{1 << 20}, Data: func(w io.Writer) error {
			w.Write(make([]byte, 3<<20))
			return boom
		}},
	}
	if err := WriteFile(path, nil, failing); !errors.Is(err, boom) {
		t.Fatalf("WriteFile with a failing callback: %v; want boom", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("a failed WriteFile changed the destination")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after a failed write; want 1", len(entries))
	}
	// A missing directory fails without creating anything.
	if err := WriteFile(filepath.Join(dir, "no", "such.safetensors"), nil, first); err == nil || !strings.Contains(err.Error(), "no") {
		t.Errorf("WriteFile into a missing directory: %v", err)
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n < len(p) {
		return 0, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteReportsWriterErrors(t *testing.T) {
	ts := []WriteTensor{{Name: "a", DType: U8, Shape: []int64{4 << 20}, Data: func(w io.Writer) error {
		for range 4 {
			if _, err := w.Write(make([]byte, 1<<20)); err != nil {
				return err
			}
		}
		return nil
	}}}
	if _, err := Write(&failingWriter{n: 2 << 20}, nil, ts); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Write to a failing writer: %v; want disk full", err)
	}
}

// splitmix is a small deterministic generator for test data.
type splitmix uint64

func (s *splitmix) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
