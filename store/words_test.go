package store

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/wordvec"
)

func TestWordIDAndVector(t *testing.T) {
	strs := words(300)
	path, tokens := writeSections(t, sectionsTable{layout: format.Layout{Rows: 300, Dim: 6, Vocabulary: true}, strs: strs})
	forEachReadPath(t, path, func(t *testing.T, tab *Table) {
		dst := make([]float32, 6)
		for id, s := range strs {
			if s == "" {
				continue
			}
			if got, err := tab.WordID(s); err != nil || got != int64(id) {
				t.Fatalf("WordID(%q) = %d, %v", s, got, err)
			}
			if err := tab.Vector(dst, s); err != nil || !slicesEqual(dst, tokens[id*6:(id+1)*6]) {
				t.Fatalf("Vector(%q) = %v, %v", s, dst, err)
			}
		}
		for _, s := range []string{"", "word4", "word300", "nope"} {
			var we *WordError
			id, err := tab.WordID(s)
			if !errors.As(err, &we) || !errors.Is(err, ErrNotInVocabulary) || we.Word != s || id != -1 {
				t.Fatalf("WordID(%q) = %d, %v", s, id, err)
			}
			if want := "embstore: word " + `"` + s + `"` + " is not in the vocabulary"; err.Error() != want {
				t.Fatalf("WordID(%q): %q, want %q", s, err, want)
			}
			err = tab.Vector(dst, s)
			if !errors.As(err, &we) || !errors.Is(err, ErrNotInVocabulary) || we.Word != s {
				t.Fatalf("Vector(%q) = %v", s, err)
			}
			if !strings.Contains(err.Error(), "no subword table") {
				t.Fatalf("Vector(%q): %q does not say the table has no subword table", s, err)
			}
		}
		if err := tab.Vector(make([]float32, 5), "word1"); err == nil || !strings.Contains(err.Error(), "output holds 5 values") {
			t.Fatalf("Vector into 5 values = %v", err)
		}
	})

	plain, _, _ := writeTable(t, format.Layout{Rows: 3, Dim: 2})
	tab := openTable(t, plain)
	if _, err := tab.WordID("a"); err != ErrNoVocabulary {
		t.Fatalf("WordID of a table without vocabulary = %v", err)
	}
	if err := tab.Vector(make([]float32, 2), "a"); err != ErrNoVocabulary {
		t.Fatalf("Vector of a table without vocabulary = %v", err)
	}
	tab.Close()
	if _, err := tab.WordID("a"); err != ErrNoVocabulary {
		t.Fatalf("WordID after Close of a table without vocabulary = %v", err)
	}
}

func TestWordsAfterClose(t *testing.T) {
	path, _ := writeSections(t, sectionsTable{layout: format.Layout{Rows: 3, Dim: 2, Vocabulary: true}, strs: []string{"a", "b", "c"}})
	tab := openTable(t, path)
	tab.Close()
	if _, err := tab.WordID("a"); err != ErrClosed {
		t.Fatalf("WordID after Close = %v", err)
	}
	if err := tab.Vector(make([]float32, 2), "a"); err != ErrClosed {
		t.Fatalf("Vector after Close = %v", err)
	}
}

func TestWordsDoNotAllocate(t *testing.T) {
	strs := words(1000)
	strs[7] = "a much longer word than the compiler's 32-byte stack buffer holds"
	path, _ := writeSections(t, sectionsTable{
		layout: format.Layout{Rows: 1000, Dim: 16, Vocabulary: true, Subwords: 50, SubwordMinN: 3, SubwordMaxN: 6}, strs: strs})
	tab := openTable(t, path)
	dst := make([]float32, 16)
	for name, fn := range map[string]func(){
		"WordID":     func() { tab.WordID(strs[7]) },
		"Vector":     func() { tab.Vector(dst, strs[7]) },
		"Vector OOV": func() { tab.Vector(dst, "unheard-of") },
	} {
		fn() // warm the pools
		if raceEnabled && name == "Vector OOV" {
			continue // pooled scratch: see raceEnabled
		}
		if n := testing.AllocsPerRun(200, fn); n != 0 {
			t.Errorf("%s allocates %v times per call", name, n)
		}
	}
}

// TestVectorFastTextOOV checks Table.Vector against gensim on the fastText
// model of testdata/wordvec: gensim's vectors for words in the vocabulary
// (bit for bit: they are the rows) and its vectors for words outside it
// (within 1e-6).
func TestVectorFastTextOOV(t *testing.T) {
	dir := filepath.Join("..", "testdata", "wordvec")
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want fastTextExpect
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	r, err := wordvec.Open(filepath.Join(dir, want.FastText.File), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var vecs []float32
	var strs []string
	for {
		blk, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		vecs = append(vecs, blk.Vectors...)
		for i := range blk.Len() {
			strs = append(strs, string(blk.Word(i)))
		}
	}
	m := r.FastText()
	var buckets []float32
	if err := m.BucketRows(func(_ int64, rows []float32) error { buckets = append(buckets, rows...); return nil }); err != nil {
		t.Fatal(err)
	}
	dim := m.Dim()
	l := format.Layout{Rows: int64(len(strs)), Dim: dim, Vocabulary: true,
		Subwords: m.Subwords.Bucket, SubwordMinN: m.Subwords.MinN, SubwordMaxN: m.Subwords.MaxN}
	path, _ := writeSections(t, sectionsTable{layout: l, strs: strs, tokens: vecs, subwords: buckets})
	forEachReadPath(t, path, func(t *testing.T, tab *Table) {
		dst := make([]float32, dim)
		for id, w := range strs {
			if got, err := tab.WordID(w); err != nil || got != int64(id) {
				t.Fatalf("WordID(%q) = %d, %v", w, got, err)
			}
			if err := tab.Vector(dst, w); err != nil || !slicesEqual(dst, vecs[id*dim:(id+1)*dim]) {
				t.Fatalf("Vector(%q) = %v, %v", w, dst, err)
			}
		}
		if len(want.FastText.OOV) < 3 {
			t.Fatalf("expected.json has %d out-of-vocabulary vectors", len(want.FastText.OOV))
		}
		for w, bits := range want.FastText.OOV {
			var we *WordError
			if _, err := tab.WordID(w); !errors.As(err, &we) || we.Word != w {
				t.Fatalf("WordID(%q) of an out-of-vocabulary word = %v", w, err)
			}
			if err := tab.Vector(dst, w); err != nil {
				t.Fatal(err)
			}
			for j := range dst {
				if g := math.Float32frombits(bits[j]); math.Abs(float64(dst[j]-g)) > 1e-6 {
					t.Fatalf("Vector(%q)[%d] = %v; gensim %v", w, j, dst[j], g)
				}
			}
		}
	})
}

// BenchmarkWords: Table.WordID and Table.Vector on a 100,000-word table of
// 300 dimensions, for words in the vocabulary; Vector of a word outside
// it on a fastText-style table (the mean of its n-grams' bucket rows).
func BenchmarkWords(b *testing.B) {
	const rows, dim = 100_000, 300
	strs := make([]string, rows)
	for i := range strs {
		strs[i] = "word" + strconv.Itoa(i)
	}
	path, _ := writeSections(b, sectionsTable{layout: format.Layout{Rows: rows, Dim: dim, Vocabulary: true,
		Subwords: 200_000, SubwordMinN: 3, SubwordMaxN: 6}, strs: strs})
	tab := openTable(b, path)
	dst := make([]float32, dim)
	b.Run("WordID", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := tab.WordID(strs[(i*7919)%rows]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Vector", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := tab.Vector(dst, strs[(i*7919)%rows]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Vector/oov", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := tab.Vector(dst, "unheard-of"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
