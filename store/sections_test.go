package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/wordvec"
	"github.com/embstore/embstore/tokenizer"
	"github.com/klauspost/compress/zstd"
)

// sectionsTable is what writeSections writes besides deterministic rows.
type sectionsTable struct {
	layout    format.Layout
	strs      []string
	tokenizer []byte
	tokens    []float32 // nil: deterministic values
	subwords  []float32 // nil: deterministic values
}

// writeSections writes a table with the 1.1 sections of c and returns its
// path and token values.
func writeSections(t testing.TB, c sectionsTable) (string, []float32) {
	t.Helper()
	l := c.layout
	path := filepath.Join(t.TempDir(), "t.emb")
	fw, err := format.Create(path, l)
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Abort()
	tokens := c.tokens
	if tokens == nil {
		tokens = make([]float32, int(l.Rows)*l.Dim)
		for i := range tokens {
			tokens[i] = float32(i%97)*0.25 - 11
		}
	}
	if err := fw.WriteTokens(tokens); err != nil {
		t.Fatal(err)
	}
	for _, s := range c.strs {
		if err := fw.WriteStrings([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if l.Positions > 0 {
		if err := fw.WritePositions(make([]float32, int(l.Positions)*l.Dim)); err != nil {
			t.Fatal(err)
		}
	}
	if l.Subwords > 0 {
		sub := c.subwords
		if sub == nil {
			sub = make([]float32, int(l.Subwords)*l.Dim)
			for i := range sub {
				sub[i] = float32(i%13) - 6
			}
		}
		if err := fw.WriteSubwords(sub); err != nil {
			t.Fatal(err)
		}
	}
	if c.tokenizer != nil {
		if err := fw.SetTokenizer(c.tokenizer); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	return path, tokens
}

func words(n int) []string {
	s := make([]string, n)
	for i := range s {
		if i%9 != 4 {
			s[i] = fmt.Sprintf("word%d", i)
		}
	}
	return s
}

// forEachReadPath runs fn on the table at path opened in place and through
// the copy-out path that platforms without a usable mapping take.
func forEachReadPath(t *testing.T, path string, fn func(t *testing.T, tab *Table)) {
	for _, copyOut := range []bool{false, true} {
		t.Run(fmt.Sprintf("copyout=%v", copyOut), func(t *testing.T) {
			copyOutForTest = copyOut
			defer func() { copyOutForTest = false }()
			tab, err := Open(path, &Options{Verify: true})
			if err != nil {
				t.Fatal(err)
			}
			defer tab.Close()
			fn(t, tab)
		})
	}
}

func TestVocabulary(t *testing.T) {
	strs := words(300)
	path, tokens := writeSections(t, sectionsTable{layout: format.Layout{Rows: 300, Dim: 6, Vocabulary: true}, strs: strs})
	forEachReadPath(t, path, func(t *testing.T, tab *Table) {
		v, err := tab.Vocabulary()
		if err != nil {
			t.Fatal(err)
		}
		if v.Len() != 300 || v.Count() != 267 {
			t.Fatalf("Len %d, Count %d", v.Len(), v.Count())
		}
		dst := make([]float32, 6)
		for id, s := range strs {
			got, err := v.AppendString(nil, int64(id))
			if err != nil || string(got) != s {
				t.Fatalf("AppendString(%d) = %q, %v; want %q", id, got, err, s)
			}
			err = tab.View(func(view View) error {
				b, err := view.String(int64(id))
				if err != nil || string(b) != s {
					t.Fatalf("View.String(%d) = %q, %v", id, b, err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if s == "" {
				continue
			}
			if got, err := v.ID(s); err != nil || got != int64(id) {
				t.Fatalf("ID(%q) = %d, %v", s, got, err)
			}
			if got, err := v.IDBytes([]byte(s)); err != nil || got != int64(id) {
				t.Fatalf("IDBytes(%q) = %d, %v", s, got, err)
			}
			if err := v.WordVector(dst, s); err != nil || !slicesEqual(dst, tokens[id*6:(id+1)*6]) {
				t.Fatalf("WordVector(%q) = %v, %v", s, dst, err)
			}
		}
		for _, s := range []string{"", "word4", "word300", "nope"} {
			if _, err := v.ID(s); err != ErrNotInVocabulary {
				t.Fatalf("ID(%q) = %v", s, err)
			}
			var we *WordError
			if err := v.WordVector(dst, s); !errors.As(err, &we) || !errors.Is(err, ErrNotInVocabulary) || we.Word != s {
				t.Fatalf("WordVector(%q) = %v", s, err)
			}
		}
		var ie *IndexError
		if _, err := v.AppendString(nil, 300); !errors.As(err, &ie) {
			t.Fatalf("AppendString(300) = %v", err)
		}
		if _, err := tab.Subwords(); err != ErrNoSubwords {
			t.Fatalf("Subwords = %v", err)
		}
		if _, err := tab.Tokenizer(); err != ErrNoTokenizer {
			t.Fatalf("Tokenizer = %v", err)
		}
		if err := tab.ReadNorms(dst, 0); err != ErrNoNorms {
			t.Fatalf("ReadNorms = %v", err)
		}
	})

	plain, _, _ := writeTable(t, format.Layout{Rows: 3, Dim: 2})
	tab := openTable(t, plain)
	if _, err := tab.Vocabulary(); err != ErrNoVocabulary {
		t.Fatalf("Vocabulary of a table without one = %v", err)
	}
	if err := tab.View(func(v View) error { _, err := v.String(0); return err }); err != ErrNoVocabulary {
		t.Fatalf("View.String = %v", err)
	}
}

// TestVocabularyDoesNotAllocate checks the lookups that serve requests:
// both ways, and word vectors in and out of the vocabulary.
func TestVocabularyDoesNotAllocate(t *testing.T) {
	strs := words(1000)
	strs[7] = "a much longer word than the compiler's 32-byte stack buffer holds"
	path, _ := writeSections(t, sectionsTable{
		layout: format.Layout{Rows: 1000, Dim: 16, Vocabulary: true, Subwords: 50, SubwordMinN: 3, SubwordMaxN: 6}, strs: strs})
	tab := openTable(t, path)
	v, err := tab.Vocabulary()
	if err != nil {
		t.Fatal(err)
	}
	long := []byte(strs[7])
	buf := make([]byte, 0, 128)
	sw, err := tab.Subwords()
	if err != nil {
		t.Fatal(err)
	}
	bk := sw.AppendBuckets(nil, "unheard-of")
	rows := make([]float32, len(bk)*16)
	dst := make([]float32, 16)
	for name, fn := range map[string]func(){
		"ID":              func() { v.ID(strs[7]) },
		"IDBytes":         func() { v.IDBytes(long) },
		"ID missing":      func() { v.ID("not a word") },
		"AppendString":    func() { v.AppendString(buf[:0], 7) },
		"WordVector":      func() { v.WordVector(dst, strs[7]) },
		"WordVector OOV":  func() { v.WordVector(dst, "unheard-of") },
		"View.String":     func() { tab.View(func(view View) error { view.String(7); return nil }) },
		"Subwords.Lookup": func() { sw.Lookup(rows, bk) },
	} {
		fn() // warm the pools
		if raceEnabled && (name == "WordVector OOV" || name == "Subwords.Lookup") {
			continue // pooled scratch: see raceEnabled
		}
		if n := testing.AllocsPerRun(200, fn); n != 0 {
			t.Errorf("%s allocates %v times per call", name, n)
		}
	}
}

// TestNormsMatchLookups checks, for every dtype, scale and compute dtype,
// that the norms the writer stored are the norms of what Lookup returns,
// computed here in float64 from its output.
func TestNormsMatchLookups(t *testing.T) {
	for _, l := range []format.Layout{
		{Rows: 50, Dim: 33, Norms: true},
		{Rows: 50, Dim: 33, DType: format.F16, TokenScale: 3.5, Norms: true},
		{Rows: 50, Dim: 33, DType: format.BF16, TokenScale: 2, ComputeDType: format.BF16, Norms: true},
		{Rows: 50, Dim: 33, DType: format.Int8, ComputeDType: format.F16, Norms: true},
		{Rows: 50, Dim: 7, DType: format.Int8, TokenScale: 0.125, Norms: true},
	} {
		path, _ := writeSections(t, sectionsTable{layout: l})
		forEachReadPath(t, path, func(t *testing.T, tab *Table) {
			ids := make([]int64, l.Rows)
			for i := range ids {
				ids[i] = int64(i)
			}
			out := make([]float32, int(l.Rows)*l.Dim)
			if err := tab.Lookup(out, ids); err != nil {
				t.Fatal(err)
			}
			norms := make([]float32, l.Rows)
			if err := tab.ReadNorms(norms, 0); err != nil {
				t.Fatal(err)
			}
			for i := range norms {
				sum := 0.0
				for _, x := range out[i*l.Dim : (i+1)*l.Dim] {
					sq := float64(x) * float64(x)
					sum += sq
				}
				if want := float32(math.Sqrt(sum)); math.Float32bits(norms[i]) != math.Float32bits(want) {
					t.Fatalf("%+v: norm of row %d = %v; its looked-up values give %v", l, i, norms[i], want)
				}
			}
			err := tab.View(func(v View) error {
				all, err := v.Norms()
				if err != nil || !slicesEqual(all, norms) {
					t.Fatalf("View.Norms = %v", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := tab.ReadNorms(norms[:2], l.Rows-1); err == nil {
				t.Fatal("ReadNorms past the last row succeeded")
			}
		})
	}
}

// TestTokenizer attaches GPT-2's tokenizer to a table and checks that the
// table's Tokenizer encodes as the tokenizer package does, is parsed once
// and shared by concurrent callers, and that a document the tokenizer
// package cannot run is its error, every time.
func TestTokenizer(t *testing.T) {
	doc := readZstd(t, filepath.Join("..", "testdata", "tokenizers", "gpt2", "tokenizer.json.zst"))
	path, _ := writeSections(t, sectionsTable{layout: format.Layout{Rows: 50257, Dim: 1}, tokenizer: doc})
	forEachReadPath(t, path, func(t *testing.T, tab *Table) {
		var wg sync.WaitGroup
		got := make([]*tokenizer.Tokenizer, 8)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tk, err := tab.Tokenizer()
				if err != nil {
					t.Error(err)
				}
				got[i] = tk
			}()
		}
		wg.Wait()
		for _, tk := range got[1:] {
			if tk != got[0] {
				t.Fatal("Tokenizer parsed more than once")
			}
		}
		if ids := got[0].Encode(nil, "Hello world", true); fmt.Sprint(ids) != "[15496 995]" {
			t.Fatalf("Encode = %v", ids)
		}
	})

	path, _ = writeSections(t, sectionsTable{layout: format.Layout{Rows: 2, Dim: 1}, tokenizer: []byte(`{"model":{"type":"Unigram"}}`)})
	tab := openTable(t, path)
	for range 2 {
		var le *tokenizer.LoadError
		if _, err := tab.Tokenizer(); !errors.As(err, &le) {
			t.Fatalf("Tokenizer of an unsupported document = %v", err)
		}
	}
}

// fastTextExpect is what testdata/wordvec/expected.json says of ft.bin:
// gensim's vectors for out-of-vocabulary words.
type fastTextExpect struct {
	FastText struct {
		File string              `json:"file"`
		OOV  map[string][]uint32 `json:"oov"`
	} `json:"fasttext"`
}

// TestWordVectorFastText imports the gensim-trained fastText model of
// testdata/wordvec into a table (word rows, vocabulary, bucket rows) and
// checks WordVector against gensim: its vectors for in-vocabulary words,
// and, for out-of-vocabulary words, the vectors gensim computed.
func TestWordVectorFastText(t *testing.T) {
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
	l := format.Layout{Rows: int64(len(strs)), Dim: dim, Vocabulary: true, Norms: true,
		Subwords: m.Subwords.Bucket, SubwordMinN: m.Subwords.MinN, SubwordMaxN: m.Subwords.MaxN}
	path, _ := writeSections(t, sectionsTable{layout: l, strs: strs, tokens: vecs, subwords: buckets})
	forEachReadPath(t, path, func(t *testing.T, tab *Table) {
		v, err := tab.Vocabulary()
		if err != nil {
			t.Fatal(err)
		}
		sw, err := tab.Subwords()
		if err != nil || sw.MinN != m.Subwords.MinN || sw.MaxN != m.Subwords.MaxN || sw.Buckets != m.Subwords.Bucket {
			t.Fatalf("Subwords = %+v, %v", sw, err)
		}
		dst := make([]float32, dim)
		for id, w := range strs {
			if err := v.WordVector(dst, w); err != nil || !slicesEqual(dst, vecs[id*dim:(id+1)*dim]) {
				t.Fatalf("WordVector(%q) = %v, %v", w, dst, err)
			}
		}
		if len(want.FastText.OOV) == 0 {
			t.Fatal("expected.json has no out-of-vocabulary vectors")
		}
		for w, bits := range want.FastText.OOV {
			if _, err := v.ID(w); err != ErrNotInVocabulary {
				t.Fatalf("%q is in the vocabulary", w)
			}
			if err := v.WordVector(dst, w); err != nil {
				t.Fatal(err)
			}
			for j := range dst {
				if math.Float32bits(dst[j]) != bits[j] {
					t.Fatalf("WordVector(%q)[%d] = %v; gensim %v", w, j, dst[j], math.Float32frombits(bits[j]))
				}
			}
			// The same through the buckets and Lookup.
			bk := sw.AppendBuckets(nil, w)
			rows := make([]float32, len(bk)*dim)
			if err := sw.Lookup(rows, bk); err != nil {
				t.Fatal(err)
			}
			mean := make([]float32, dim)
			for i := range bk {
				for j := range mean {
					mean[j] += rows[i*dim+j]
				}
			}
			for j := range mean {
				if mean[j] /= float32(len(bk)); mean[j] != dst[j] {
					t.Fatalf("%q: the mean of Lookup's bucket rows differs from WordVector", w)
				}
			}
		}
		var ie *IndexError
		if err := sw.Lookup(dst, []int64{sw.Buckets}); !errors.As(err, &ie) {
			t.Fatalf("Lookup of bucket %d = %v", sw.Buckets, err)
		}
	})

	// A word with no n-gram: minn 5, and "<a>" has 3 characters.
	l = format.Layout{Rows: 2, Dim: 3, Vocabulary: true, Subwords: 4, SubwordMinN: 5, SubwordMaxN: 6}
	path, _ = writeSections(t, sectionsTable{layout: l, strs: []string{"x", "y"}})
	v, err := openTable(t, path).Vocabulary()
	if err != nil {
		t.Fatal(err)
	}
	if err := v.WordVector(make([]float32, 3), "a"); !errors.Is(err, ErrNoNgrams) {
		t.Fatalf("WordVector of a word without n-grams = %v", err)
	}
	if err := v.WordVector(make([]float32, 3), "abcdef"); err != nil {
		t.Fatalf("WordVector of an out-of-vocabulary word = %v", err)
	}
}

// TestSectionsAfterClose checks that every accessor returns ErrClosed once
// the table is closed, never touching the unmapped file.
func TestSectionsAfterClose(t *testing.T) {
	l := format.Layout{Rows: 20, Dim: 4, Vocabulary: true, Norms: true, Subwords: 5, SubwordMinN: 2, SubwordMaxN: 4}
	path, _ := writeSections(t, sectionsTable{layout: l, strs: words(20), tokenizer: []byte(`{"a":1}`)})
	tab, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := tab.Vocabulary()
	if err != nil {
		t.Fatal(err)
	}
	sw, err := tab.Subwords()
	if err != nil {
		t.Fatal(err)
	}
	tab.Close()
	dst := make([]float32, 4)
	for name, err := range map[string]error{
		"ID":              func() error { _, err := v.ID("word1"); return err }(),
		"IDBytes":         func() error { _, err := v.IDBytes([]byte("word1")); return err }(),
		"AppendString":    func() error { _, err := v.AppendString(nil, 1); return err }(),
		"WordVector":      v.WordVector(dst, "word1"),
		"WordVector OOV":  v.WordVector(dst, "zzz"),
		"Vocabulary":      func() error { _, err := tab.Vocabulary(); return err }(),
		"ReadNorms":       tab.ReadNorms(dst, 0),
		"Tokenizer":       func() error { _, err := tab.Tokenizer(); return err }(),
		"Subwords.Lookup": sw.Lookup(dst, []int64{1}),
	} {
		if err != ErrClosed {
			t.Errorf("%s after Close = %v", name, err)
		}
	}
	if v.Len() != 20 || v.Count() != 18 {
		t.Errorf("Len, Count after Close = %d, %d", v.Len(), v.Count())
	}
}

// TestSectionsConcurrent runs every accessor from many goroutines while
// the table is closed underneath them (run it with -race).
func TestSectionsConcurrent(t *testing.T) {
	l := format.Layout{Rows: 200, Dim: 8, Vocabulary: true, Norms: true, Subwords: 16, SubwordMinN: 2, SubwordMaxN: 4}
	strs := words(200)
	path, tokens := writeSections(t, sectionsTable{layout: l, strs: strs, tokenizer: []byte(`{"a":1}`)})
	tab, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := tab.Vocabulary()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := make([]float32, 8)
			norms := make([]float32, 200)
			for i := 0; ; i++ {
				id := int64((g*31 + i) % 200)
				s := strs[id]
				if s == "" {
					s = "missing"
				}
				got, err := v.ID(s)
				if err == ErrClosed {
					return
				}
				if err == nil && got != id {
					t.Errorf("ID(%q) = %d", s, got)
					return
				}
				if err := v.WordVector(dst, s); err == nil && got == id && !slicesEqual(dst, tokens[id*8:(id+1)*8]) {
					t.Errorf("WordVector(%q) differs", s)
					return
				}
				tab.ReadNorms(norms, 0)
				tab.Tokenizer()
			}
		}()
	}
	for range 1000 {
		if _, err := v.ID("word1"); err != nil {
			t.Fatal(err)
		}
	}
	tab.Close()
	wg.Wait()
}

// readZstd returns the decompressed content of a zstd-compressed file.
func readZstd(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	out, err := d.DecodeAll(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSectionsTruncatedWhileMapped truncates a table under its mapping:
// every reader of the 1.1 sections returns a *FaultError instead of
// crashing the process.
func TestSectionsTruncatedWhileMapped(t *testing.T) {
	l := format.Layout{Rows: 50000, Dim: 8, Vocabulary: true, Norms: true, Subwords: 64, SubwordMinN: 2, SubwordMaxN: 4}
	doc := readZstd(t, filepath.Join("..", "testdata", "tokenizers", "gpt2", "tokenizer.json.zst"))
	path, _ := writeSections(t, sectionsTable{layout: l, strs: words(50000), tokenizer: doc})
	tab := openTable(t, path)
	v, err := tab.Vocabulary()
	if err != nil {
		t.Fatal(err)
	}
	sw, err := tab.Subwords()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, format.HeaderSize); err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, 8)
	var fe *FaultError
	for name, err := range map[string]error{
		"ID":              func() error { _, err := v.ID("word49999"); return err }(),
		"AppendString":    func() error { _, err := v.AppendString(nil, 49999); return err }(),
		"WordVector OOV":  v.WordVector(dst, "zzzz"),
		"ReadNorms":       tab.ReadNorms(dst, 49990),
		"Subwords.Lookup": sw.Lookup(dst, []int64{63}),
		"Tokenizer":       func() error { _, err := tab.Tokenizer(); return err }(),
	} {
		if !errors.As(err, &fe) {
			t.Errorf("%s on a truncated file = %v; want a *FaultError", name, err)
		}
	}
}

// TestOpenReadsOnlyTheHeaderWithSections opens a table with a 300,000-string
// vocabulary, a tokenizer, norms and a subword table and checks, through
// the kernel's count of bytes this process read, that Open read a few
// kilobytes: the header and the sections' fixed fields.
func TestOpenReadsOnlyTheHeaderWithSections(t *testing.T) {
	if _, err := os.Stat("/proc/self/io"); err != nil {
		t.Skip("needs /proc/self/io (Linux) to count bytes read")
	}
	const rows = 300_000
	doc := readZstd(t, filepath.Join("..", "testdata", "tokenizers", "gpt2", "tokenizer.json.zst"))
	l := format.Layout{Rows: rows, Dim: 4, Vocabulary: true, Norms: true, Subwords: 1000, SubwordMinN: 3, SubwordMaxN: 6}
	path, _ := writeSections(t, sectionsTable{layout: l, strs: words(rows), tokenizer: doc})
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	before := readChars(t)
	tab, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	if read := readChars(t) - before; read > 64<<10 {
		t.Fatalf("Open of a %d-byte table with a vocabulary read %d bytes", st.Size(), read)
	}
	v, err := tab.Vocabulary()
	if err != nil {
		t.Fatal(err)
	}
	if id, err := v.ID("word299999"); err != nil || id != 299999 {
		t.Fatalf("ID = %d, %v", id, err)
	}
}
