package wordvec

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embstore/embstore/internal/testing/fuzzcorpus"
)

// fuzzSeeds returns the fixtures (whole, and the plain ones cut short) and
// the corpus in testdata/fuzz/<name>.
func fuzzSeeds(f *testing.F, name string) [][]byte {
	paths, _ := filepath.Glob(filepath.Join(fixtureDir, "*"))
	var seeds [][]byte
	for _, p := range paths {
		if strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".py") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
		if len(b) > 600 && sniff(b) == "" {
			seeds = append(seeds, b[:600], b[:len(b)/2])
		}
	}
	ft := ftSpec{version: 12, dim: 2, bucket: 3, minn: 1, maxn: 3, model: 2, words: []string{"a", "bc"}, labels: []string{"__label__x"}, values: -1}
	seeds = append(seeds, ft.bytes(), []byte("2 3\na 1 2 3\nb 4 5 6\n"), []byte("a b 1 2\n\nc\t1e5 -nan\n"),
		binaryFile(2, 2, []string{"x", "y"}, true))
	corpus, err := fuzzcorpus.Load(fuzzcorpus.Dir(2, name))
	if err != nil {
		f.Fatal(err)
	}
	for _, args := range corpus {
		b, err := fuzzcorpus.Arg[[]byte](args, 0)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// FuzzWordvecReader feeds arbitrary bytes to the readers, detected or named.
// Whatever is read must hold together (widths, distinct words, counts), read
// the same in one block as in many, and survive a rewrite and a second
// read; what is not must fail with a *FormatError, never a panic.
func FuzzWordvecReader(f *testing.F) {
	for _, s := range fuzzSeeds(f, "FuzzWordvecReader") {
		f.Add(s, byte(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, mode byte) {
		opts := &Options{
			Format:       Format(mode % 6),
			SkipBadLines: mode&8 != 0,
			StrictUTF8:   mode&16 != 0,
			Workers:      2,
		}
		whole, err := readBytes(data, opts)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Err == nil {
				t.Fatalf("error %v (%T) is not a *FormatError", err, err)
			}
			_ = err.Error()
			return
		}
		h := whole.h
		if h.Dim < 1 || h.Dim > MaxDim || len(whole.vecs) != len(whole.words)*h.Dim {
			t.Fatalf("dim %d, %d words, %d values", h.Dim, len(whole.words), len(whole.vecs))
		}
		if h.Rows >= 0 && int64(len(whole.words)) > h.Rows {
			t.Fatalf("%d rows, header claims %d", len(whole.words), h.Rows)
		}
		seen := map[string]bool{}
		for _, w := range whole.words {
			if len(w) == 0 || bytes.IndexByte(w, 0) >= 0 || seen[string(w)] {
				t.Fatalf("word %q: empty, NUL or repeated", w)
			}
			seen[string(w)] = true
		}
		if whole.st.Rows+whole.st.Duplicates < int64(len(whole.words)) {
			t.Fatalf("stats %+v", whole.st)
		}

		// Small blocks on three workers: the same rows.
		if h.Format.text() {
			o := *opts
			o.BlockBytes, o.Workers = 64, 3
			small, err := readBytes(data, &o)
			if err != nil || !sameTable(small, whole) {
				t.Fatalf("small blocks: %v, or different rows", err)
			}
		}

		// Written back in the format read (fastText as word2vec), read back:
		// the same words and bits.
		wf := h.Format
		if wf == FastTextBin {
			wf = Word2Vec
		}
		var out bytes.Buffer
		rows := int64(len(whole.words))
		w, err := NewWriter(&out, wf, rows, h.Dim, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, word := range whole.words {
			if err := w.WriteRow(word, whole.row(i)); err != nil {
				if wf == Word2Vec && errors.Is(err, ErrWord) {
					return // a fastText word with a space or leading newline
				}
				t.Fatalf("writing back row %d: %v", i, err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if rows == 0 && wf == GloVe {
			return
		}
		back, err := readBytes(out.Bytes(), &Options{Format: wf})
		if err != nil {
			t.Fatalf("reading back: %v\n%q", err, out.Bytes())
		}
		if !sameRows(back, whole) {
			t.Fatalf("read back differs:\n%q", out.Bytes())
		}
	})
}

func sameRows(a, b *table) bool {
	if len(a.words) != len(b.words) || !equalNaNBits(a.vecs, b.vecs) {
		return false
	}
	for i := range a.words {
		if !bytes.Equal(a.words[i], b.words[i]) {
			return false
		}
	}
	return true
}

func sameTable(a, b *table) bool {
	return sameRows(a, b) && a.st.Duplicates == b.st.Duplicates && a.st.SkippedLines == b.st.SkippedLines &&
		a.st.BlankLines == b.st.BlankLines && a.st.Lines == b.st.Lines && a.st.InvalidUTF8 == b.st.InvalidUTF8
}

// equalNaNBits compares bits, NaNs by sign only (text keeps no payload).
func equalNaNBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := math.Float32bits(a[i]), math.Float32bits(b[i])
		if a[i] != a[i] && b[i] != b[i] {
			x, y = x&signBit32, y&signBit32
		}
		if x != y {
			return false
		}
	}
	return true
}

// FuzzWordvecParseValue checks ParseValue against the slow road (syntax, then
// strconv to float64, then float32).
func FuzzWordvecParseValue(f *testing.F) {
	for _, s := range []string{"0", "-0.5", "1e5", ".5", "5.", "nan", "-Infinity", "1e400", "0.1000000000000000055511151231257827021181583404541015625", "1_0", "0x1p3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseValue([]byte(s))
		want, wok := reference(s)
		if ok != wok || ok && math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("ParseValue(%q) = %#08x, %v; reference %#08x, %v", s, math.Float32bits(got), ok, math.Float32bits(want), wok)
		}
	})
}

// naiveBuckets is fastText's computeSubwords written out plainly: build
// "<word>", take every n-gram of whole characters, hash it.
func naiveBuckets(word []byte, minn, maxn int, bucket int64) []int64 {
	w := append(append([]byte{'<'}, word...), '>')
	var out []int64
	for i := 0; i < len(w); i++ {
		if w[i]&0xC0 == 0x80 {
			continue
		}
		var ngram []byte
		for j, n := i, 1; j < len(w) && n <= maxn; n++ {
			ngram = append(ngram, w[j])
			j++
			for j < len(w) && w[j]&0xC0 == 0x80 {
				ngram = append(ngram, w[j])
				j++
			}
			if n >= minn && !(n == 1 && (i == 0 || j == len(w))) {
				out = append(out, int64(Hash(ngram))%bucket)
			}
		}
	}
	return out
}

// FuzzWordvecSubwords checks AppendBuckets against the plain construction.
func FuzzWordvecSubwords(f *testing.F) {
	for _, w := range []string{"king", "naïveté", "東京", "😀x", "", "\xff\x80\x80", "a"} {
		f.Add([]byte(w), byte(2), byte(5), uint32(2000000))
	}
	f.Fuzz(func(t *testing.T, word []byte, minn, maxn byte, bucket uint32) {
		if bucket == 0 || len(word) > 1000 {
			return
		}
		s := Subwords{MinN: int(minn % 16), MaxN: int(maxn % 16), Bucket: int64(bucket)}
		got := s.AppendBuckets(nil, word)
		want := naiveBuckets(word, s.MinN, s.MaxN, s.Bucket)
		if len(got) != len(want) {
			t.Fatalf("%v %q: %v, want %v", s, word, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%v %q: %v, want %v", s, word, got, want)
			}
		}
	})
}
