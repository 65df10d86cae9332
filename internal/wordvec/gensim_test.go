package wordvec

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fixtures in testdata/wordvec are written by gensim 4.2 and the
// expectations in expected.json are what gensim loads from them
// (gen_fixtures.py).
var fixtureDir = filepath.Join("..", "..", "testdata", "wordvec")

type expectedFile struct {
	Format        string              `json:"format"`
	Rows          int                 `json:"rows"`
	Dim           int                 `json:"dim"`
	WordsSHA256   string              `json:"words_sha256"`
	VectorsSHA256 string              `json:"vectors_sha256"`
	Samples       map[string][]uint32 `json:"samples"`
	// crafted files
	Duplicates int        `json:"duplicates"`
	WordsHex   []string   `json:"words_hex"`
	Vectors    [][]uint32 `json:"vectors"`
}

type expectations struct {
	Gensim string                  `json:"gensim"`
	Files  map[string]expectedFile `json:"files"`
	Spaces struct {
		File  string   `json:"file"`
		Twin  string   `json:"twin"`
		Words []string `json:"words"`
	} `json:"spaces"`
	FastText struct {
		File               string              `json:"file"`
		MinN               int                 `json:"minn"`
		MaxN               int                 `json:"maxn"`
		Bucket             int64               `json:"bucket"`
		Dim                int                 `json:"dim"`
		NWords             int                 `json:"nwords"`
		WordsSHA256        string              `json:"words_sha256"`
		VectorsSHA256      string              `json:"vectors_sha256"`
		VectorsVocabSHA256 string              `json:"vectors_vocab_sha256"`
		NgramsSHA256       string              `json:"vectors_ngrams_sha256"`
		OOV                map[string][]uint32 `json:"oov"`
		Hashes             map[string][]int64  `json:"hashes"`
	} `json:"fasttext"`
	FastTextLabels struct {
		File   string `json:"file"`
		Labels int64  `json:"labels"`
		Like   string `json:"like"`
	} `json:"fasttext_labels"`
}

func loadExpected(t testing.TB) *expectations {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e expectations
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	if e.Gensim != "4.2.0" {
		t.Fatalf("expected.json is from gensim %s, want 4.2.0", e.Gensim)
	}
	return &e
}

// table is everything a Reader delivered.
type table struct {
	h     Header
	st    Stats
	words [][]byte
	vecs  []float32
}

// readAll reads r to the end; the caller closes it.
func readAll(t testing.TB, r *Reader, err error) *table {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	tb := &table{h: r.Header()}
	for {
		b, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b.FirstRow() != int64(len(tb.words)) {
			t.Fatalf("block starts at row %d, want %d", b.FirstRow(), len(tb.words))
		}
		for i := range b.Len() {
			tb.words = append(tb.words, bytes.Clone(b.Word(i)))
			if got := b.Vector(i); len(got) != tb.h.Dim {
				t.Fatalf("row of %d values, dim %d", len(got), tb.h.Dim)
			}
		}
		tb.vecs = append(tb.vecs, b.Vectors...)
	}
	tb.st = r.Stats()
	if v := r.Vocab(); v.Len() != len(tb.words) {
		t.Fatalf("vocab of %d words, %d rows", v.Len(), len(tb.words))
	} else {
		for i, w := range tb.words {
			if !bytes.Equal(v.Word(i), w) {
				t.Fatalf("vocab word %d is %q, row word %q", i, v.Word(i), w)
			}
			if id, ok := v.ID(w); !ok || id != i {
				t.Fatalf("vocab.ID(%q) = %d, %v; want %d", w, id, ok, i)
			}
		}
	}
	if tb.st.Rows != int64(len(tb.words)) {
		t.Fatalf("Stats.Rows %d, %d rows read", tb.st.Rows, len(tb.words))
	}
	return tb
}

func openFixture(t testing.TB, name string, opts *Options) *table {
	t.Helper()
	r, err := Open(filepath.Join(fixtureDir, name), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return readAll(t, r, err)
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func wordsSHA(words [][]byte) string { return sha(bytes.Join(words, []byte("\n"))) }

func vecsSHA(v []float32) string {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return sha(b)
}

func (tb *table) row(i int) []float32 { return tb.vecs[i*tb.h.Dim : (i+1)*tb.h.Dim] }

func (tb *table) find(w string) int {
	for i, x := range tb.words {
		if string(x) == w {
			return i
		}
	}
	return -1
}

func checkBits(t *testing.T, what string, got []float32, want []uint32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for j := range got {
		if math.Float32bits(got[j]) != want[j] {
			t.Fatalf("%s: value %d is %#08x (%g), gensim %#08x (%g)", what, j, math.Float32bits(got[j]), got[j], want[j], math.Float32frombits(want[j]))
		}
	}
}

func checkAgainst(t *testing.T, name string, tb *table, e expectedFile) {
	t.Helper()
	if tb.h.Format.String() != e.Format {
		t.Errorf("%s: format %s, want %s", name, tb.h.Format, e.Format)
	}
	if len(tb.words) != e.Rows || tb.h.Dim != e.Dim {
		t.Fatalf("%s: %d x %d, gensim %d x %d", name, len(tb.words), tb.h.Dim, e.Rows, e.Dim)
	}
	if got := wordsSHA(tb.words); got != e.WordsSHA256 {
		t.Errorf("%s: words differ from gensim's", name)
	}
	for w, want := range e.Samples {
		i := tb.find(w)
		if i < 0 {
			t.Fatalf("%s: no word %q", name, w)
		}
		checkBits(t, name+" "+w, tb.row(i), want)
	}
	if got := vecsSHA(tb.vecs); got != e.VectorsSHA256 {
		t.Errorf("%s: vectors differ from gensim's", name)
	}
}

// TestGensimFiles reads every file gensim wrote and compares words and
// vectors, bit for bit, with what gensim loads from it.
func TestGensimFiles(t *testing.T) {
	e := loadExpected(t)
	compressions := map[string][]string{
		".gz": {"gzip"}, ".bz2": {"bzip2"}, ".zst": {"zstd"}, ".zip": {"zip"},
	}
	for name, want := range e.Files {
		if want.WordsSHA256 == "" {
			continue // crafted files: TestCraftedFiles
		}
		t.Run(name, func(t *testing.T) {
			tb := openFixture(t, name, nil)
			checkAgainst(t, name, tb, want)
			wantC := compressions[filepath.Ext(name)]
			if strings.Join(tb.h.Compression, ",") != strings.Join(wantC, ",") {
				t.Errorf("compression %v, want %v", tb.h.Compression, wantC)
			}
			if tb.st.Duplicates != 0 || tb.st.InvalidUTF8 != 0 || tb.st.SkippedLines != 0 {
				t.Errorf("stats %+v", tb.st)
			}
			// Small blocks on several workers cross every block boundary.
			if tb.h.Format.text() {
				small := openFixture(t, name, &Options{BlockBytes: 1000, Workers: 3})
				checkAgainst(t, name+" (small blocks)", small, want)
			}
		})
	}
}

// TestFormatOverride reads files with the format named instead of
// detected.
func TestFormatOverride(t *testing.T) {
	e := loadExpected(t)
	for _, c := range []struct {
		file, like string
		f          Format
	}{
		{"w2v.bin", "w2v.bin", Word2Vec},
		{"w2v.txt", "w2v.txt", Word2VecText},
		{"ft.vec", "ft.vec", FastTextVec},
		{"glove.txt.gz", "glove.txt", GloVe},
		{"ft.bin.zst", "ft.bin", FastTextBin},
	} {
		tb := openFixture(t, c.file, &Options{Format: c.f})
		want := e.Files[c.like]
		want.Format = c.f.String()
		checkAgainst(t, c.file, tb, want)
	}
	for _, c := range []struct {
		file string
		f    Format
		kind error
	}{
		{"w2v.txt", Word2Vec, ErrWord},
		{"glove.txt", Word2VecText, ErrHeader},
		{"ft.bin", Word2Vec, ErrUnknownFormat},
		{"w2v.txt", FastTextBin, ErrUnknownFormat},
	} {
		r, err := Open(filepath.Join(fixtureDir, c.file), &Options{Format: c.f})
		if err == nil {
			_, err = drain(r)
		}
		if !errors.Is(err, c.kind) {
			t.Errorf("%s as %s: %v, want %v", c.file, c.f, err, c.kind)
		}
	}
}

func drain(r *Reader) (int, error) {
	defer r.Close()
	n := 0
	for {
		b, err := r.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n += b.Len()
	}
}

// TestCraftedFiles reads the hand-made files: odd words (NBSP, tab,
// invalid UTF-8, duplicates, numbers as words), odd numbers (on and around
// float32 midpoints, where gensim's double rounding shows, overflow,
// underflow, infinities, signed NaNs), CRLF and trailing spaces.
func TestCraftedFiles(t *testing.T) {
	e := loadExpected(t)
	for _, name := range []string{"crafted.txt", "crafted.txt.gz", "crafted.bin"} {
		t.Run(name, func(t *testing.T) {
			want := e.Files[name]
			tb := openFixture(t, name, nil)
			if len(tb.words) != want.Rows || tb.h.Dim != want.Dim {
				t.Fatalf("%d x %d, gensim %d x %d", len(tb.words), tb.h.Dim, want.Rows, want.Dim)
			}
			for i, wh := range want.WordsHex {
				if got := hex.EncodeToString(tb.words[i]); got != wh {
					t.Errorf("word %d: %q, gensim %s", i, tb.words[i], wh)
				}
				checkBits(t, "row "+string(tb.words[i]), tb.row(i), want.Vectors[i])
			}
			if tb.st.Duplicates != int64(want.Duplicates) || len(tb.st.DuplicateWords) != want.Duplicates {
				t.Errorf("%d duplicates listed %q, gensim dropped %d", tb.st.Duplicates, tb.st.DuplicateWords, want.Duplicates)
			}
			if tb.st.InvalidUTF8 == 0 {
				t.Error("no invalid UTF-8 counted")
			}
			r, err := Open(filepath.Join(fixtureDir, name), &Options{StrictUTF8: true})
			if err == nil {
				_, err = drain(r)
			}
			if !errors.Is(err, ErrUTF8) {
				t.Errorf("strict UTF-8: %v", err)
			}
		})
	}
}

// TestWordsWithSpaces reads words holding spaces (gensim cannot); their
// vectors are gensim's reading of the twin file where the spaces are '_'.
func TestWordsWithSpaces(t *testing.T) {
	e := loadExpected(t)
	tb := openFixture(t, e.Spaces.File, nil)
	if tb.h.Format != GloVe {
		t.Errorf("format %s", tb.h.Format)
	}
	if len(tb.words) != len(e.Spaces.Words) {
		t.Fatalf("%d words, want %d", len(tb.words), len(e.Spaces.Words))
	}
	for i, w := range e.Spaces.Words {
		if string(tb.words[i]) != w {
			t.Errorf("word %d: %q, want %q", i, tb.words[i], w)
		}
	}
	if got, want := vecsSHA(tb.vecs), e.Files[e.Spaces.Twin].VectorsSHA256; got != want {
		t.Error("vectors differ from gensim's reading of the twin file")
	}
}

// TestZipMembers checks the choice of member in an archive of several.
func TestZipMembers(t *testing.T) {
	e := loadExpected(t)
	_, err := Open(filepath.Join(fixtureDir, "two-members.zip"), nil)
	if !errors.Is(err, ErrArchive) || !strings.Contains(err.Error(), `"ft.vec", "w2v.txt"`) {
		t.Fatalf("two members, none named: %v", err)
	}
	tb := openFixture(t, "two-members.zip", &Options{Member: "w2v.txt"})
	checkAgainst(t, "two-members.zip:w2v.txt", tb, e.Files["w2v.txt"])
	if tb.h.Member != "w2v.txt" {
		t.Errorf("member %q", tb.h.Member)
	}
	if _, err := Open(filepath.Join(fixtureDir, "two-members.zip"), &Options{Member: "nope"}); !errors.Is(err, ErrArchive) {
		t.Errorf("missing member: %v", err)
	}
	if _, err := Open(filepath.Join(fixtureDir, "w2v.txt"), &Options{Member: "w2v.txt"}); !errors.Is(err, ErrArchive) {
		t.Errorf("member of a non-archive: %v", err)
	}
	// A zip needs random access; a pure stream of one is refused.
	b, _ := os.ReadFile(filepath.Join(fixtureDir, "glove.zip"))
	if _, err := NewReader(io.MultiReader(bytes.NewReader(b)), nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("zip as a stream: %v", err)
	}
	r, err := NewReader(bytes.NewReader(b), nil)
	tb = readAll(t, r, err)
	r.Close()
	checkAgainst(t, "glove.zip from memory", tb, e.Files["glove.zip"])
}

// TestFastText checks the fastText .bin reader against gensim: in-vocabulary
// vectors (gensim composes them from the word's row and its n-gram rows),
// the bucket rows, n-gram hashes and out-of-vocabulary vectors, from the
// plain file (mapped), the compressed files (read twice), and streams
// (held in memory).
func TestFastText(t *testing.T) {
	e := loadExpected(t)
	ft := e.FastText
	plain, _ := os.ReadFile(filepath.Join(fixtureDir, ft.File))
	gz, _ := os.ReadFile(filepath.Join(fixtureDir, ft.File+".gz"))
	sources := map[string]func() (*Reader, error){
		"file":          func() (*Reader, error) { return Open(filepath.Join(fixtureDir, ft.File), nil) },
		"file.gz":       func() (*Reader, error) { return Open(filepath.Join(fixtureDir, ft.File+".gz"), nil) },
		"file.bz2":      func() (*Reader, error) { return Open(filepath.Join(fixtureDir, ft.File+".bz2"), nil) },
		"ReaderAt":      func() (*Reader, error) { return NewReader(bytes.NewReader(plain), nil) },
		"stream":        func() (*Reader, error) { return NewReader(io.MultiReader(bytes.NewReader(plain)), nil) },
		"gzip stream":   func() (*Reader, error) { return NewReader(io.MultiReader(bytes.NewReader(gz)), nil) },
		"one worker":    func() (*Reader, error) { return Open(filepath.Join(fixtureDir, ft.File), &Options{Workers: 1}) },
		"labels (file)": func() (*Reader, error) { return Open(filepath.Join(fixtureDir, e.FastTextLabels.File), nil) },
		"format named": func() (*Reader, error) {
			return Open(filepath.Join(fixtureDir, ft.File), &Options{Format: FastTextBin})
		},
		"labels (stream)":   func() (*Reader, error) { return NewReader(openStream(t, e.FastTextLabels.File), nil) },
		"file.zst (stream)": func() (*Reader, error) { return NewReader(openStream(t, ft.File+".zst"), nil) },
	}
	for name, open := range sources {
		t.Run(name, func(t *testing.T) {
			r, err := open()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			m := r.FastText()
			if m == nil {
				t.Fatal("no fastText model")
			}
			tb := readAll(t, r, nil)
			if len(tb.words) != ft.NWords || tb.h.Dim != ft.Dim || tb.h.Format != FastTextBin {
				t.Fatalf("%s %d x %d", tb.h.Format, len(tb.words), tb.h.Dim)
			}
			if wordsSHA(tb.words) != ft.WordsSHA256 {
				t.Error("words differ from gensim's")
			}
			if vecsSHA(tb.vecs) != ft.VectorsSHA256 {
				t.Error("word vectors differ from gensim's FastTextKeyedVectors.vectors")
			}
			wantLabels := int64(0)
			if strings.HasPrefix(name, "labels") {
				wantLabels = e.FastTextLabels.Labels
			}
			if tb.st.Labels != wantLabels || m.Labels != wantLabels {
				t.Errorf("labels %d, %d; want %d", tb.st.Labels, m.Labels, wantLabels)
			}
			if m.Subwords != (Subwords{ft.MinN, ft.MaxN, ft.Bucket}) || m.Version != 12 || len(m.Counts) != ft.NWords {
				t.Errorf("model %+v", m.Subwords)
			}
			var ngrams []float32
			err = m.BucketRows(func(first int64, rows []float32) error {
				if first != int64(len(ngrams)/ft.Dim) {
					t.Fatalf("bucket rows from %d, want %d", first, len(ngrams)/ft.Dim)
				}
				ngrams = append(ngrams, rows...)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if vecsSHA(ngrams) != ft.NgramsSHA256 {
				t.Error("bucket rows differ from gensim's vectors_ngrams")
			}
			row := make([]float32, ft.Dim)
			if err := m.BucketRow(row, 17); err != nil || !equalBits(row, ngrams[17*ft.Dim:18*ft.Dim]) {
				t.Errorf("BucketRow(17): %v", err)
			}
			if err := m.BucketRow(row, ft.Bucket); !errors.Is(err, ErrLimit) {
				t.Errorf("BucketRow(bucket): %v", err)
			}
			dst := make([]float32, ft.Dim)
			for w, want := range ft.OOV {
				n, err := m.OOVVector(dst, []byte(w))
				if err != nil {
					t.Fatal(err)
				}
				if n != len(ft.Hashes[w]) {
					t.Errorf("%q: %d n-grams, gensim %d", w, n, len(ft.Hashes[w]))
				}
				for j := range dst {
					if d := math.Abs(float64(dst[j]) - float64(math.Float32frombits(want[j]))); d > 1e-6 {
						t.Fatalf("OOV %q value %d: %g, gensim %g", w, j, dst[j], math.Float32frombits(want[j]))
					}
				}
				checkBits(t, "OOV "+w, dst, want) // exact, in fact
			}
		})
	}
}

func openStream(t *testing.T, name string) io.Reader {
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return io.MultiReader(bytes.NewReader(b))
}

func equalBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestNgramHashes compares AppendBuckets with gensim's ft_ngram_hashes,
// for the model's parameters and others, on ASCII, accented, CJK and emoji
// words (non-ASCII bytes are where the sign extension shows).
func TestNgramHashes(t *testing.T) {
	e := loadExpected(t)
	ft := e.FastText
	for key, want := range e.FastText.Hashes {
		s := Subwords{ft.MinN, ft.MaxN, ft.Bucket}
		w := key
		if i := strings.IndexByte(key, ':'); i >= 0 && strings.Count(key[:i], ",") == 2 {
			var mn, mx int
			var bk int64
			if _, err := fmt.Sscanf(key[:i], "%d,%d,%d", &mn, &mx, &bk); err != nil {
				t.Fatal(err)
			}
			s, w = Subwords{mn, mx, bk}, key[i+1:]
		}
		got := s.AppendBuckets(nil, []byte(w))
		if len(got) != len(want) {
			t.Errorf("%v %q: %d buckets %v, gensim %d %v", s, w, len(got), got, len(want), want)
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%v %q: buckets %v, gensim %v", s, w, got, want)
				break
			}
		}
	}
}

// TestSourceBytes checks the progress count: all of the source by the end.
func TestSourceBytes(t *testing.T) {
	for _, name := range []string{"w2v.txt.zst", "glove.zip", "w2v.bin", "glove.txt"} {
		path := filepath.Join(fixtureDir, name)
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := drain2(r); err != nil {
			t.Fatal(err)
		}
		read, size := r.SourceBytes()
		r.Close()
		if size != info.Size() || read < size*9/10 {
			t.Errorf("%s: read %d of %d, file of %d", name, read, size, info.Size())
		}
	}
}

// drain2 reads r to the end without closing it.
func drain2(r *Reader) (int, error) {
	n := 0
	for {
		b, err := r.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n += b.Len()
	}
}
