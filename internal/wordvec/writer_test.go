package wordvec

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func writeAll(t *testing.T, f Format, tb *table, opts *WriterOptions) []byte {
	t.Helper()
	var out bytes.Buffer
	rows := int64(len(tb.words))
	if f == GloVe {
		rows = -1
	}
	w, err := NewWriter(&out, f, rows, tb.h.Dim, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, word := range tb.words {
		if err := w.WriteRow(word, tb.row(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestWriteGensimBinary writes back what gensim wrote: the same bytes.
func TestWriteGensimBinary(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join(fixtureDir, "w2v.bin"))
	if err != nil {
		t.Fatal(err)
	}
	tb := openFixture(t, "w2v.bin", nil)
	if got := writeAll(t, Word2Vec, tb, &WriterOptions{NoNewline: true}); !bytes.Equal(got, orig) {
		t.Fatal("word2vec binary written back differs from gensim's file")
	}
	// The C tool's layout, a newline after each row, reads back the same.
	withNL := writeAll(t, Word2Vec, tb, nil)
	if len(withNL) != len(orig)+len(tb.words) {
		t.Fatalf("%d bytes with newlines, want %d", len(withNL), len(orig)+len(tb.words))
	}
	back, err := readBytes(withNL, nil)
	if err != nil || !equalBits(back.vecs, tb.vecs) || wordsSHA(back.words) != wordsSHA(tb.words) {
		t.Fatalf("C layout read back: %v", err)
	}
}

// TestWriteRoundTrip writes every format and reads it back: the same words
// and the same float32 bits, special values included.
func TestWriteRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	tb := &table{h: Header{Dim: 7}}
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.MaxFloat32, -math.SmallestNonzeroFloat32, math.Float32frombits(0x007fffff), 1e-40, 16777217, 0.1}
	words := []string{"plain", "with space", "tab\tin", "\u00a0nbsp", "\xff\xfe", "東京", "x", "trailing ", "e-mail@example.com"}
	for i, w := range words {
		tb.words = append(tb.words, []byte(w))
		for j := range 7 {
			v := math.Float32frombits(rng.Uint32())
			if v != v {
				v = specials[(i+j)%len(specials)]
			}
			if (i+j)%3 == 0 {
				v = specials[(i*7+j)%len(specials)]
			}
			tb.vecs = append(tb.vecs, v)
		}
	}
	for _, f := range []Format{Word2Vec, Word2VecText, FastTextVec, GloVe} {
		if f == Word2Vec {
			// binary words cannot hold spaces
			bin := &table{h: tb.h}
			for i, w := range tb.words {
				if !bytes.ContainsRune(w, ' ') {
					bin.words = append(bin.words, w)
					bin.vecs = append(bin.vecs, tb.row(i)...)
				}
			}
			back, err := readBytes(writeAll(t, f, bin, nil), nil)
			if err != nil || !equalBits(back.vecs, bin.vecs) || wordsSHA(back.words) != wordsSHA(bin.words) {
				t.Fatalf("%s: %v", f, err)
			}
			continue
		}
		out := writeAll(t, f, tb, nil)
		opts := &Options{Format: f}
		back, err := readBytes(out, opts)
		if err != nil {
			t.Fatalf("%s: %v\n%s", f, err, out)
		}
		if !equalBits(back.vecs, tb.vecs) || wordsSHA(back.words) != wordsSHA(tb.words) {
			t.Fatalf("%s: read back differs\n%s", f, out)
		}
	}
	// NaN keeps its sign in text.
	nan := &table{h: Header{Dim: 2}, words: [][]byte{[]byte("n")}, vecs: []float32{math.Float32frombits(0xffc00000), math.Float32frombits(0x7fc00001)}}
	out := writeAll(t, Word2VecText, nan, nil)
	if string(out) != "1 2\nn -nan nan\n" {
		t.Fatalf("NaN written %q", out)
	}
	back, _ := readBytes(out, nil)
	if math.Float32bits(back.vecs[0]) != 0xffc00000 || math.Float32bits(back.vecs[1]) != 0x7fc00000 {
		t.Fatalf("NaN read back %#x %#x", math.Float32bits(back.vecs[0]), math.Float32bits(back.vecs[1]))
	}
}

func TestWriterErrors(t *testing.T) {
	var out bytes.Buffer
	if _, err := NewWriter(&out, FastTextBin, 1, 1, nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("fasttext-bin: %v", err)
	}
	if _, err := NewWriter(&out, Word2Vec, 1, 0, nil); !errors.Is(err, ErrLimit) {
		t.Errorf("dim 0: %v", err)
	}
	if _, err := NewWriter(&out, Word2VecText, -1, 3, nil); !errors.Is(err, ErrLimit) {
		t.Errorf("rows -1 with a header: %v", err)
	}
	for _, c := range []struct {
		f    Format
		word string
	}{
		{Word2Vec, "a b"}, {Word2Vec, "\na"}, {Word2Vec, ""}, {Word2VecText, "a\nb"}, {GloVe, "a\x00"},
		{Word2VecText, "route 66"}, {GloVe, ""},
	} {
		w, _ := NewWriter(&out, c.f, 5, 1, nil)
		if err := w.WriteRow([]byte(c.word), []float32{1}); !errors.Is(err, ErrWord) {
			t.Errorf("%s %q: %v", c.f, c.word, err)
		}
	}
	w, _ := NewWriter(&out, Word2VecText, 1, 2, nil)
	if err := w.WriteRow([]byte("a"), []float32{1}); !errors.Is(err, ErrLimit) {
		t.Errorf("short row: %v", err)
	}
	if err := w.Close(); !errors.Is(err, ErrRowCount) {
		t.Errorf("rows missing: %v", err)
	}
	w, _ = NewWriter(&out, Word2VecText, 1, 1, nil)
	w.WriteRow([]byte("a"), []float32{1})
	if err := w.WriteRow([]byte("b"), []float32{1}); !errors.Is(err, ErrRowCount) {
		t.Errorf("extra row: %v", err)
	}
}
