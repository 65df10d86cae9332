package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// FuzzHeaderJSON checks the one-pass header parser against encoding/json:
// a header it accepts is valid JSON, and encoding/json reads the same
// tensors and metadata from it; a header encoding/json rejects, it rejects;
// and it reports ErrHeaderSyntax only for text that is not JSON (or that
// holds an unpaired surrogate escape, which it refuses on purpose).
func FuzzHeaderJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"__metadata__":{"a":"b"}}`,
		`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}`,
		`{"w\u00e9\"\\\/\b\f\n\r\t":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}`,
		`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]} , "b" : {"shape":[0],"dtype":"F32","data_offsets":[4,4]}}`,
		`{"a":{"dtype":"F32","shape":[1e3],"data_offsets":[0,4]}}`, `{"a":{"dtype":"F32","shape":[01],"data_offsets":[0,4]}}`,
		`{"a":[1,2`, `{"\ud83d\ude00":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, `{"a":tru}`, `{"a":-}`,
	} {
		f.Add([]byte(s))
	}
	paths, _ := filepath.Glob(filepath.Join(craftedDir, "*.safetensors"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && len(b) >= 8 {
			if n := binary.LittleEndian.Uint64(b); n <= uint64(len(b)-8) {
				f.Add(b[8 : 8+n])
			}
		}
	}
	f.Fuzz(func(t *testing.T, header []byte) {
		p := &headerParser{buf: header}
		h, err := p.parse()
		valid := json.Valid(header) && len(header) > 0 && header[0] == '{'
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FormatError", err)
			}
			if errors.Is(err, ErrHeaderSyntax) && valid && !strings.Contains(fe.Detail, "surrogate") {
				t.Fatalf("ErrHeaderSyntax (%v) for valid JSON %q", err, header)
			}
			return
		}
		if !valid {
			t.Fatalf("accepted %q, which encoding/json rejects", header)
		}
		var ref map[string]json.RawMessage
		if err := json.Unmarshal(header, &ref); err != nil {
			t.Fatal(err)
		}
		n := len(ref)
		if h.Metadata != nil {
			n--
			var md map[string]string
			if err := json.Unmarshal(ref["__metadata__"], &md); err != nil || len(md) != len(h.Metadata) {
				t.Fatalf("metadata %v; encoding/json: %v (%v)", h.Metadata, md, err)
			}
			for k, v := range md {
				if h.Metadata[k] != v {
					t.Fatalf("metadata %q = %q; encoding/json: %q", k, h.Metadata[k], v)
				}
			}
		}
		if len(h.Tensors) != n {
			t.Fatalf("%d tensors; encoding/json sees %d keys", len(h.Tensors), n)
		}
		for _, ti := range h.Tensors {
			var e struct {
				DType   string  `json:"dtype"`
				Shape   []int64 `json:"shape"`
				Offsets []int64 `json:"data_offsets"`
			}
			if err := json.Unmarshal(ref[ti.Name], &e); err != nil {
				t.Fatalf("tensor %q: %v", ti.Name, err)
			}
			if string(ti.DType) != e.DType || !slices.Equal(ti.Shape, e.Shape) || len(e.Offsets) != 2 || ti.Begin != e.Offsets[0] || ti.End != e.Offsets[1] {
				t.Fatalf("tensor %q: %s %v [%d %d]; encoding/json: %+v", ti.Name, ti.DType, ti.Shape, ti.Begin, ti.End, e)
			}
		}
	})
}

// TestLargeHeaderCost parses a header of 300,000 tensors (about 23 MB,
// a quarter of the 1.3-million-tensor header of issue 8) and bounds the
// memory the Header keeps: under 150 bytes per tensor beyond the names.
func TestLargeHeaderCost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 23 MB header")
	}
	const n = 300_000
	header := bigHeader(n)
	p := &headerParser{buf: header}
	h, err := p.parse()
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Tensors) != n || h.Tensors[n-1].Shape[0] != 1 {
		t.Fatalf("%d tensors", len(h.Tensors))
	}
	if c := cap(p.shapes); c > 2*n+8 {
		t.Errorf("shape storage holds %d dimensions for %d", c, n)
	}
}

// bigHeader returns the JSON header of n one-byte tensors named like
// "layer.0000000.w", as the 1.3-million-tensor file.
func bigHeader(n int) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"layer.`)
		b.WriteString(strings.Repeat("0", 7-len(strconv.Itoa(i))) + strconv.Itoa(i))
		b.WriteString(`.w":{"dtype":"U8","shape":[1],"data_offsets":[`)
		b.WriteString(strconv.Itoa(i) + "," + strconv.Itoa(i+1) + "]}")
	}
	b.WriteByte('}')
	return b.Bytes()
}

// BenchmarkParseLargeHeader measures the parser on 1.3 million tensors
// (a 99 MB header, issue 8's case).
func BenchmarkParseLargeHeader(b *testing.B) {
	header := bigHeader(1_300_000)
	b.SetBytes(int64(len(header)))
	b.ReportAllocs()
	for b.Loop() {
		p := &headerParser{buf: header}
		if _, err := p.parse(); err != nil {
			b.Fatal(err)
		}
	}
}
