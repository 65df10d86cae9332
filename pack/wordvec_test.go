package pack

import (
	"bytes"
	"context"
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
	"time"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/regfile"
	"github.com/embstore/embstore/store"
)

// The gensim fixtures (internal/wordvec's, written by gensim 4.2, with what
// gensim loads from them in expected.json).
var wvDir = filepath.Join("..", "testdata", "wordvec")

type wvExpected struct {
	Files map[string]struct {
		Format        string              `json:"format"`
		Rows          int                 `json:"rows"`
		Dim           int                 `json:"dim"`
		WordsSHA256   string              `json:"words_sha256"`
		VectorsSHA256 string              `json:"vectors_sha256"`
		Samples       map[string][]uint32 `json:"samples"`
		Duplicates    int                 `json:"duplicates"`
		WordsHex      []string            `json:"words_hex"`
		Vectors       [][]uint32          `json:"vectors"`
	} `json:"files"`
	FastText struct {
		File   string              `json:"file"`
		MinN   int                 `json:"minn"`
		MaxN   int                 `json:"maxn"`
		Bucket int64               `json:"bucket"`
		Ngrams string              `json:"vectors_ngrams_sha256"`
		OOV    map[string][]uint32 `json:"oov"`
	} `json:"fasttext"`
}

func loadWV(t testing.TB) *wvExpected {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(wvDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e wvExpected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return &e
}

// tableContent reads a table's words (vocabulary strings) and token rows as
// lookups return them.
type tableContent struct {
	words [][]byte
	vecs  []float32
	dim   int
	meta  *Provenance
}

func readTable(t testing.TB, path string) *tableContent {
	t.Helper()
	r, err := format.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Verify(); err != nil {
		t.Fatalf("verify %s: %v", path, err)
	}
	v, err := r.Vocabulary()
	if err != nil {
		t.Fatal(err)
	}
	tc := &tableContent{dim: r.Dim, vecs: make([]float32, r.Rows*int64(r.Dim))}
	for i := range r.Rows {
		s, err := v.String(i)
		if err != nil {
			t.Fatal(err)
		}
		tc.words = append(tc.words, bytes.Clone(s))
	}
	if err := r.ReadRows(r.Tokens(), 0, r.Rows, tc.vecs); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Section(format.SectionNorms); !ok {
		t.Error("no norms section")
	}
	if tc.meta, err = ReadProvenance(r.Metadata()); err != nil {
		t.Fatal(err)
	}
	return tc
}

func shaHex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func vecBytes(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func importWV(t testing.TB, src string, spec WordVectorSpec) (string, *WordVectorInfo) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "wv.emb")
	spec.Src = src
	info, err := ImportWordVectors(context.Background(), dst, spec, nil)
	if err != nil {
		t.Fatalf("import %s: %v", src, err)
	}
	return dst, info
}

// TestImportWordVectorsGensim imports every gensim fixture (word2vec binary
// and text, GloVe, fastText .vec and .bin; plain, gzip, bzip2, zstd, zip)
// and compares the table's words and rows, bit for bit, with gensim's.
func TestImportWordVectorsGensim(t *testing.T) {
	e := loadWV(t)
	n := 0
	for name, want := range e.Files {
		if want.WordsSHA256 == "" {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			dst, info := importWV(t, filepath.Join(wvDir, name), WordVectorSpec{})
			tc := readTable(t, dst)
			if len(tc.words) != want.Rows || tc.dim != want.Dim || info.Rows != int64(want.Rows) {
				t.Fatalf("%d x %d (info %d rows), gensim %d x %d", len(tc.words), tc.dim, info.Rows, want.Rows, want.Dim)
			}
			if got := shaHex(bytes.Join(tc.words, []byte("\n"))); got != want.WordsSHA256 {
				t.Error("words differ from gensim's")
			}
			if got := shaHex(vecBytes(tc.vecs)); got != want.VectorsSHA256 {
				t.Error("vectors differ from gensim's")
			}
			if info.Format != want.Format || tc.meta.Source != want.Format || tc.meta.Vocabulary == nil || tc.meta.Vocabulary.Source != want.Format {
				t.Errorf("format %s, metadata %+v, want %s", info.Format, tc.meta, want.Format)
			}
			if tc.meta.WordVectors == nil || tc.meta.WordVectors.Rows != int64(want.Rows) {
				t.Errorf("word_vectors metadata %+v", tc.meta.WordVectors)
			}
			wantSub := strings.HasPrefix(name, "ft.bin")
			if (info.Subwords != nil) != wantSub {
				t.Errorf("subwords %+v", info.Subwords)
			}
		})
	}
	if n < 15 {
		t.Fatalf("only %d gensim fixtures", n)
	}
}

// TestImportWordVectorsCrafted: odd words and numbers, duplicates (the
// first row kept, counted and listed), invalid UTF-8 (kept and counted, or
// refused with StrictUTF8).
func TestImportWordVectorsCrafted(t *testing.T) {
	e := loadWV(t)
	for _, name := range []string{"crafted.txt", "crafted.txt.gz", "crafted.bin"} {
		t.Run(name, func(t *testing.T) {
			want := e.Files[name]
			dst, info := importWV(t, filepath.Join(wvDir, name), WordVectorSpec{})
			tc := readTable(t, dst)
			if len(tc.words) != want.Rows {
				t.Fatalf("%d rows, gensim %d", len(tc.words), want.Rows)
			}
			for i, wh := range want.WordsHex {
				if got := hex.EncodeToString(tc.words[i]); got != wh {
					t.Errorf("word %d: %q, gensim %s", i, tc.words[i], wh)
				}
				for j, bits := range want.Vectors[i] {
					if got := math.Float32bits(tc.vecs[i*tc.dim+j]); got != bits {
						t.Fatalf("row %d value %d: %#x, gensim %#x", i, j, got, bits)
					}
				}
			}
			voc := tc.meta.Vocabulary
			if voc == nil || voc.Duplicates != int64(want.Duplicates) || len(voc.DuplicateWords) != want.Duplicates || info.Vocabulary.Duplicates != int64(want.Duplicates) {
				t.Errorf("vocabulary metadata %+v, gensim dropped %d duplicates", voc, want.Duplicates)
			}
			if voc == nil || voc.InvalidUTF8 == 0 {
				t.Errorf("no invalid UTF-8 counted: %+v", voc)
			}
			_, err := ImportWordVectors(context.Background(), filepath.Join(t.TempDir(), "x.emb"),
				WordVectorSpec{Src: filepath.Join(wvDir, name), StrictUTF8: true}, nil)
			if !errors.Is(err, ErrInvalidUTF8) {
				t.Errorf("StrictUTF8: %v", err)
			}
		})
	}
}

// TestImportFastTextOOV: a fastText .bin import answers out-of-vocabulary
// words through store's Vocabulary.WordVector with gensim's vector (within
// 1e-6), and in-vocabulary words with their rows.
func TestImportFastTextOOV(t *testing.T) {
	e := loadWV(t)
	for _, name := range []string{"ft.bin", "ft.bin.gz"} {
		t.Run(name, func(t *testing.T) {
			dst, info := importWV(t, filepath.Join(wvDir, name), WordVectorSpec{})
			if info.Subwords == nil || info.Subwords.MinN != e.FastText.MinN || info.Subwords.MaxN != e.FastText.MaxN || info.Subwords.Bucket != e.FastText.Bucket {
				t.Fatalf("subwords %+v, want minn %d maxn %d bucket %d", info.Subwords, e.FastText.MinN, e.FastText.MaxN, e.FastText.Bucket)
			}
			tab, err := store.Open(dst, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tab.Close()
			voc, err := tab.Vocabulary()
			if err != nil {
				t.Fatal(err)
			}
			dim := tab.Header().Dim
			got := make([]float32, dim)
			if len(e.FastText.OOV) == 0 {
				t.Fatal("no OOV expectations")
			}
			for w, want := range e.FastText.OOV {
				if _, err := voc.ID(w); err == nil {
					t.Fatalf("%q is in the vocabulary", w)
				}
				if err := voc.WordVector(got, w); err != nil {
					t.Fatalf("%q: %v", w, err)
				}
				for j, bits := range want {
					if d := math.Abs(float64(got[j]) - float64(math.Float32frombits(bits))); d > 1e-6 {
						t.Errorf("%q value %d: %g, gensim %g", w, j, got[j], math.Float32frombits(bits))
					}
				}
			}
			// The bucket rows are gensim's vectors_ngrams, bit for bit.
			r, err := format.Open(dst)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			s, _ := r.Section(format.SectionSubwords)
			rows := make([]float32, s.Rows*int64(dim))
			if err := r.ReadRows(s, 0, s.Rows, rows); err != nil {
				t.Fatal(err)
			}
			if shaHex(vecBytes(rows)) != e.FastText.Ngrams {
				t.Error("subword rows differ from gensim's vectors_ngrams")
			}
		})
	}
}

// TestImportWordVectorsFormatOverride: the format named is read, and
// fasttext-vec is recorded as such.
func TestImportWordVectorsFormatOverride(t *testing.T) {
	_, info := importWV(t, filepath.Join(wvDir, "ft.vec"), WordVectorSpec{Format: FastTextVec})
	if info.Format != "fasttext-vec" || info.Vocabulary.Source != "fasttext-vec" {
		t.Errorf("format %q, vocabulary source %q", info.Format, info.Vocabulary.Source)
	}
	_, err := ImportWordVectors(context.Background(), filepath.Join(t.TempDir(), "x.emb"),
		WordVectorSpec{Src: filepath.Join(wvDir, "glove.txt"), Format: Word2VecText}, nil)
	var we *WordVectorError
	if !errors.As(err, &we) {
		t.Errorf("glove as word2vec-text: %v", err)
	}
	_, err = ImportWordVectors(context.Background(), filepath.Join(t.TempDir(), "x.emb"),
		WordVectorSpec{Src: filepath.Join(wvDir, "glove.txt"), Format: "word3vec"}, nil)
	var se *SpecError
	if !errors.As(err, &se) {
		t.Errorf("unknown format: %v", err)
	}
}

// TestImportWordVectorsMalformed: bad sources are refused with an error
// naming the problem and its place, and leave nothing behind.
func TestImportWordVectorsMalformed(t *testing.T) {
	dir := t.TempDir()
	bin := func(rows, dim int, words ...string) []byte {
		b := []byte(fmt.Sprintf("%d %d\n", rows, dim))
		for _, w := range words {
			b = append(b, w+" "...)
			b = append(b, make([]byte, 4*dim)...)
		}
		return b
	}
	cases := []struct {
		name, content string
		spec          WordVectorSpec
		want          error
		msg           []string
	}{
		{"more.txt", "3 2\na 1.5 2.5\nb 3.5 4.5\n", WordVectorSpec{}, ErrRowCount, []string{"claims 3 rows", "has 2"}},
		{"fewer.txt", "1 2\na 1 2\nb 3 4\n", WordVectorSpec{}, ErrRowCount, []string{"claims 1 rows", "has 2"}},
		{"number.txt", "2 2\na 1 2\nb 3 x4\n", WordVectorSpec{}, nil, []string{"line 3", "not a number"}},
		{"fields.txt", "2 3\na 1 2 3\nb 3 4\n", WordVectorSpec{}, nil, []string{"line 3"}},
		{"nul.txt", "1 2\na\x00b 1 2\n", WordVectorSpec{}, nil, []string{"NUL"}},
		{"nul-text.txt", "1 2\na\x00b 1 2\n", WordVectorSpec{Format: Word2VecText}, nil, []string{"line 2", "NUL"}},
		{"huge.txt", "4294967295 300\na " + strings.Repeat("1 ", 299) + "1\n", WordVectorSpec{}, ErrRowCount, []string{"claims 4294967295 rows"}},
		{"huge40.txt", "1099511627776 2\na 1 2\n", WordVectorSpec{}, nil, []string{"1099511627776"}},
		{"truncated.bin", string(bin(2, 3, "a", "b")[:30]), WordVectorSpec{}, nil, []string{"row 1"}},
		{"empty.txt", "", WordVectorSpec{}, ErrNotWordVectors, []string{"empty"}},
		{"allbad.txt", "2 2\na 1\nb 2\n", WordVectorSpec{SkipBadLines: true}, nil, []string{"no rows"}},
	}
	for _, c := range cases {
		src := filepath.Join(dir, c.name)
		os.WriteFile(src, []byte(c.content), 0o644)
		out := filepath.Join(dir, "out", c.name+".emb")
		os.MkdirAll(filepath.Dir(out), 0o755)
		c.spec.Src = src
		_, err := ImportWordVectors(context.Background(), out, c.spec, nil)
		if err == nil {
			t.Errorf("%s: imported", c.name)
			continue
		}
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		for _, m := range c.msg {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("%s: %q does not say %q", c.name, err, m)
			}
		}
		onlyFiles(t, c.name, filepath.Dir(out))
	}

	// Bad lines skipped and counted.
	src := filepath.Join(dir, "skip.txt")
	os.WriteFile(src, []byte("3 2\na 1 2\nb 3 x4\nc 5 6\n"), 0o644)
	dst := filepath.Join(dir, "skip.emb")
	info, err := ImportWordVectors(context.Background(), dst, WordVectorSpec{Src: src, SkipBadLines: true}, nil)
	if err != nil || info.Rows != 2 || info.SkippedLines != 1 {
		t.Fatalf("skip bad lines: %+v, %v", info, err)
	}
	if tc := readTable(t, dst); string(tc.words[1]) != "c" || tc.meta.WordVectors.SkippedLines != 1 {
		t.Errorf("skip bad lines: words %q, metadata %+v", tc.words, tc.meta.WordVectors)
	}
}

// TestImportWordVectorsFTZ: a quantised fastText model is refused clearly.
func TestImportWordVectorsFTZ(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(wvDir, "ft.bin"))
	if err != nil {
		t.Fatal(err)
	}
	// The quantisation flag is the byte before the input matrix's shape:
	// find the matrix header (rows = nwords + bucket, cols = dim).
	var shape [16]byte
	binary.LittleEndian.PutUint64(shape[:], 212+300)
	binary.LittleEndian.PutUint64(shape[8:], 8)
	i := bytes.Index(b, shape[:])
	if i < 1 || b[i-1] != 0 {
		t.Fatal("no input matrix header in ft.bin")
	}
	b = bytes.Clone(b)
	b[i-1] = 1
	src := filepath.Join(t.TempDir(), "model.ftz")
	os.WriteFile(src, b, 0o644)
	_, err = ImportWordVectors(context.Background(), filepath.Join(t.TempDir(), "x.emb"), WordVectorSpec{Src: src}, nil)
	if !errors.Is(err, ErrUnsupportedWordVectors) || !strings.Contains(err.Error(), ".ftz") {
		t.Errorf("ftz: %v", err)
	}
}

// TestImportWordVectorsFIFO: a named pipe is refused at once, not waited
// on.
func TestImportWordVectorsFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "vectors.vec")
	if err := mkfifo(fifo); err != nil {
		t.Skip("no named pipes here:", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := ImportWordVectors(context.Background(), filepath.Join(t.TempDir(), "x.emb"), WordVectorSpec{Src: fifo}, nil)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, regfile.ErrNotRegular) || !strings.Contains(err.Error(), "named pipe") {
			t.Errorf("FIFO: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("import of a FIFO blocked")
	}
}

// TestImportWordVectorsCancel: cancelling the context stops the import and
// leaves no file behind.
func TestImportWordVectorsCancel(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "big.txt")
	var b bytes.Buffer
	fmt.Fprintf(&b, "20000 16\n")
	for i := range 20000 {
		fmt.Fprintf(&b, "w%d", i)
		for j := range 16 {
			fmt.Fprintf(&b, " %g", float32(i*j)/7)
		}
		b.WriteByte('\n')
	}
	os.WriteFile(src, b.Bytes(), 0o644)
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o755)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	o := &Options{Progress: func(done, total int64) {
		calls++
		if total != 20000 {
			t.Errorf("progress total %d", total)
		}
		cancel()
	}}
	_, err := ImportWordVectors(ctx, filepath.Join(out, "t.emb"), WordVectorSpec{Src: src, Workers: 2}, o)
	if !errors.Is(err, context.Canceled) || calls == 0 {
		t.Fatalf("cancelled import: %v after %d progress calls", err, calls)
	}
	onlyFiles(t, "cancelled import", out)
}

// TestExportWordVectorsRoundTrip: import, export to each classic format,
// import again: the same words and the same float32 bits (NaN keeps its
// sign, not its payload, in text).
func TestExportWordVectorsRoundTrip(t *testing.T) {
	for _, c := range []struct {
		src string
		to  []WordVectorFormat
	}{
		{"w2v.bin", []WordVectorFormat{Word2Vec, Word2VecText, GloVe}},
		{"w2v.txt.zst", []WordVectorFormat{Word2Vec, Word2VecText, GloVe}},
		{"ft.bin", []WordVectorFormat{Word2Vec, Word2VecText}},
		{"crafted.txt", []WordVectorFormat{Word2VecText, GloVe}},
		{"crafted.bin", []WordVectorFormat{Word2Vec, Word2VecText}},
	} {
		tab, _ := importWV(t, filepath.Join(wvDir, c.src), WordVectorSpec{})
		want := readTable(t, tab)
		for _, to := range c.to {
			out := filepath.Join(t.TempDir(), "out."+string(to))
			if err := ExportWordVectors(context.Background(), out, tab, to, nil); err != nil {
				t.Fatalf("%s to %s: %v", c.src, to, err)
			}
			back, info := importWV(t, out, WordVectorSpec{Format: to})
			got := readTable(t, back)
			if info.Format != string(to) {
				t.Errorf("%s to %s read back as %s", c.src, to, info.Format)
			}
			if len(got.words) != len(want.words) {
				t.Fatalf("%s to %s: %d rows back, %d out", c.src, to, len(got.words), len(want.words))
			}
			for i := range want.words {
				if !bytes.Equal(got.words[i], want.words[i]) {
					t.Fatalf("%s to %s: word %d %q back as %q", c.src, to, i, want.words[i], got.words[i])
				}
			}
			for i, v := range want.vecs {
				g := got.vecs[i]
				same := math.Float32bits(g) == math.Float32bits(v)
				if v != v && to != Word2Vec {
					same = g != g && math.Signbit(float64(g)) == math.Signbit(float64(v))
				}
				if !same {
					t.Fatalf("%s to %s: value %d %#x back as %#x", c.src, to, i, math.Float32bits(v), math.Float32bits(g))
				}
			}
		}
	}
	// The binary export of an import of word2vec binary holds the same
	// vectors as gensim's file, bit for bit: compare the float32 bytes.
	tab, _ := importWV(t, filepath.Join(wvDir, "w2v.bin"), WordVectorSpec{})
	var buf bytes.Buffer
	if err := ExportWordVectorsTo(context.Background(), &buf, tab, Word2Vec, nil); err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(filepath.Join(wvDir, "w2v.bin"))
	// gensim writes no "\n" after a binary row; the export writes one.
	if stripped := bytes.ReplaceAll(buf.Bytes(), []byte("\n"), nil); !bytes.Equal(stripped, bytes.ReplaceAll(orig, []byte("\n"), nil)) {
		t.Error("binary export differs from gensim's file beyond the row ends")
	}
}

// TestExportWordVectorsRefusals: a table without a vocabulary, a word the
// format cannot hold, a format that cannot be written.
func TestExportWordVectorsRefusals(t *testing.T) {
	dir := t.TempDir()
	seeded := filepath.Join(dir, "seed.emb")
	seedTable(t, seeded, 10, 4)
	err := ExportWordVectors(context.Background(), filepath.Join(dir, "x.txt"), seeded, Word2VecText, nil)
	if !errors.Is(err, ErrNoVocabulary) || !strings.Contains(err.Error(), "no vocabulary section") {
		t.Errorf("table without vocabulary: %v", err)
	}
	spaces, _ := importWV(t, filepath.Join(wvDir, "spaces.txt"), WordVectorSpec{})
	err = ExportWordVectors(context.Background(), filepath.Join(dir, "x.bin"), spaces, Word2Vec, nil)
	if err == nil || !strings.Contains(err.Error(), "space") || !strings.Contains(err.Error(), "row") {
		t.Errorf("word with a space to binary: %v", err)
	}
	if err := ExportWordVectors(context.Background(), filepath.Join(dir, "x.vec"), spaces, FastTextBin, nil); err == nil {
		t.Error("export to fasttext-bin succeeded")
	}
	onlyFiles(t, "refused exports", dir, "seed.emb")
}

// TestImportWordVectorsStream: a source read from a stream (a pipe,
// standard input) gives the table a file gives, fastText .bin included;
// a zip archive, which needs random access, is refused.
func TestImportWordVectorsStream(t *testing.T) {
	e := loadWV(t)
	for _, name := range []string{"w2v.txt.bz2", "w2v.bin.gz", "glove.txt.zst", "ft.bin", "ft.bin.gz"} {
		b, err := os.ReadFile(filepath.Join(wvDir, name))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(t.TempDir(), "s.emb")
		// A plain io.Reader (no ReaderAt): what a pipe gives.
		info, err := ImportWordVectors(context.Background(), dst, WordVectorSpec{Src: "stdin", Stream: io.MultiReader(bytes.NewReader(b))}, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tc := readTable(t, dst)
		want := e.Files[name]
		if shaHex(vecBytes(tc.vecs)) != want.VectorsSHA256 || shaHex(bytes.Join(tc.words, []byte("\n"))) != want.WordsSHA256 {
			t.Errorf("%s from a stream: the table differs from gensim's vectors", name)
		}
		if info.Size != int64(len(b)) && !strings.HasPrefix(name, "ft.bin") {
			t.Errorf("%s: size %d, the stream had %d bytes", name, info.Size, len(b))
		}
		if strings.HasPrefix(name, "ft.bin") && info.Subwords == nil {
			t.Errorf("%s: no subwords", name)
		}
	}
	b, _ := os.ReadFile(filepath.Join(wvDir, "glove.zip"))
	_, err := ImportWordVectors(context.Background(), filepath.Join(t.TempDir(), "z.emb"), WordVectorSpec{Src: "stdin", Stream: io.MultiReader(bytes.NewReader(b))}, nil)
	if err == nil || !strings.Contains(err.Error(), "random access") {
		t.Errorf("zip from a stream: %v", err)
	}
}
