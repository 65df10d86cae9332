package format

import (
	"bytes"
	"strings"
	"testing"
)

// TestRawRowsCopyATable writes a table's stored rows again through
// WriteTokenRows and WritePositionRows, in uneven pieces mixed with
// WriteTokens, and gets the same file, for every dtype.
func TestRawRowsCopyATable(t *testing.T) {
	for _, d := range []DType{F32, F16, BF16, Int8} {
		l := Layout{Rows: 11, Dim: 5, DType: d, Positions: 3}
		src, tokens, _ := buildTable(t, l, []byte(testMetadata))
		h, err := ParseHeader(src, int64(len(src)))
		if err != nil {
			t.Fatal(err)
		}
		tok, pos := h.Tokens(), h.Sections[1]
		var m memFile
		w, err := NewWriter(&m, l)
		if err != nil {
			t.Fatal(err)
		}
		// Rows 0-1 as values (exact for f32, f16 and bf16 values that
		// came from f32; int8 re-quantises, so raw throughout there).
		next := int64(0)
		if d != Int8 {
			if err := w.WriteTokens(tokens[:2*l.Dim]); err != nil {
				t.Fatal(err)
			}
			next = 2
		}
		for next < l.Rows {
			n := min(l.Rows-next, 1+next%4)
			if err := w.WriteTokenRows(src[tok.Offset+next*tok.RowStride : tok.Offset+(next+n)*tok.RowStride]); err != nil {
				t.Fatal(err)
			}
			next += n
		}
		if err := w.WritePositionRows(src[pos.Offset:pos.End()]); err != nil {
			t.Fatal(err)
		}
		if err := w.SetMetadata([]byte(testMetadata)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m.b, src) {
			t.Errorf("%s: the raw copy differs from the table", d)
		}
	}
}

func TestRawRowsMisuse(t *testing.T) {
	l := Layout{Rows: 2, Dim: 3, Positions: 1}
	stride := RowStride(F32, 3)
	newW := func() *Writer {
		w, err := NewWriter(&memFile{}, l)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	padded := make([]byte, stride)
	padded[12] = 1 // past the 12 bytes of values
	for _, c := range []struct {
		name string
		do   func(w *Writer) error
		want string
	}{
		{"partial row", func(w *Writer) error { return w.WriteTokenRows(make([]byte, stride-4)) }, "whole number"},
		{"too many rows", func(w *Writer) error { return w.WriteTokenRows(make([]byte, 3*stride)) }, "3 token rows written, the layout has 2"},
		{"padding", func(w *Writer) error { return w.WriteTokenRows(padded) }, "token row 0 has non-zero padding"},
		{"positions first", func(w *Writer) error { return w.WritePositionRows(make([]byte, stride)) }, "before the token table is complete"},
		{"after close", func(w *Writer) error { w.Close(); return w.WriteTokenRows(make([]byte, stride)) }, "closed"},
	} {
		if err := c.do(newW()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
}
