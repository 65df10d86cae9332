package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// testTokenizer is a small tokenizer document for the tests (the format
// only checks that it is JSON; the tokenizer package runs it).
const testTokenizer = `{"version":"1.0","added_tokens":[],"normalizer":null,"pre_tokenizer":{"type":"Whitespace"},` +
	`"model":{"type":"WordLevel","vocab":{"the":0,"cat":1,"sat":3,"on":4,"[UNK]":2},"unk_token":"[UNK]"}}`

// sectionsInput is what buildSections writes besides the token rows.
type sectionsInput struct {
	strs      []string // nil: no WriteStrings call
	tokenizer string   // "" for none
	tokSec    []byte   // written as the tokenizer section as it is, bypassing the writer's checks
	metadata  string
	rows      int64 // token rows to write (RowsAtMost); 0: l.Rows
	tokens    []float32
}

// buildSections writes a table with layout l and the sections of in, with
// deterministic values, and returns the file and the token, positional
// and subword values written.
func buildSections(t testing.TB, l Layout, in sectionsInput) (file []byte, tokens, positions, subwords []float32) {
	t.Helper()
	var m memFile
	w, err := NewWriter(&m, l)
	if err != nil {
		t.Fatal(err)
	}
	rows := l.Rows
	if in.rows > 0 {
		rows = in.rows
	}
	tokens = in.tokens
	if tokens == nil {
		tokens = testValues(int(rows)*l.Dim, 1)
	}
	positions = testValues(int(l.Positions)*l.Dim, -3)
	subwords = testValues(int(l.Subwords)*l.Dim, 0.5)
	for lo := 0; lo < int(rows); {
		hi := min(int(rows), lo+1+lo%3)
		if err := w.WriteTokens(tokens[lo*l.Dim : hi*l.Dim]); err != nil {
			t.Fatal(err)
		}
		if in.strs != nil {
			for _, s := range in.strs[lo:hi] {
				if err := w.WriteStrings([]byte(s)); err != nil {
					t.Fatal(err)
				}
			}
		}
		lo = hi
	}
	if l.Positions > 0 {
		if err := w.WritePositions(positions); err != nil {
			t.Fatal(err)
		}
	}
	for lo := 0; lo < int(l.Subwords); lo += 2 {
		hi := min(int(l.Subwords), lo+2)
		if err := w.WriteSubwords(subwords[lo*l.Dim : hi*l.Dim]); err != nil {
			t.Fatal(err)
		}
	}
	if in.tokenizer != "" {
		if err := w.SetTokenizer([]byte(in.tokenizer)); err != nil {
			t.Fatal(err)
		}
	}
	if in.tokSec != nil {
		w.tokSec = in.tokSec
	}
	if in.metadata != "" {
		if err := w.SetMetadata([]byte(in.metadata)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return m.b, tokens, positions, subwords
}

// testStrings returns n distinct strings, every 5th one empty (a row
// without a string), some not UTF-8, some with a NUL byte.
func testStrings(n int) []string {
	s := make([]string, n)
	for i := range s {
		switch {
		case i%5 == 2:
		case i%7 == 3:
			s[i] = fmt.Sprintf("\xff\x00w%d", i)
		default:
			s[i] = fmt.Sprintf("Ġtok%d", i)
		}
	}
	return s
}

// TestVocabHash checks the vocabulary hash against values computed by an
// independent implementation (Python, from the definition in SPEC.md).
func TestVocabHash(t *testing.T) {
	for _, c := range []struct {
		s    string
		want uint64
	}{
		{"", 0xefd01f60ba992926},
		{"a", 0x82a2a958a9bece5b},
		{"hello", 0xe9c562c0fdb23244},
		{"Ġworld", 0xb0a08762b80e4283},
		{"\xff\x00\x80", 0x07b5cbebc9388e00},
		{"</s>", 0x9117a32f6c0f51f7},
	} {
		if got := VocabHash([]byte(c.s)); got != c.want {
			t.Errorf("VocabHash(%q) = %#x; want %#x", c.s, got, c.want)
		}
		if got := vocabHash(c.s); got != c.want {
			t.Errorf("vocabHash(string %q) = %#x; want %#x", c.s, got, c.want)
		}
	}
	for count, want := range map[int64]int64{0: 1, 1: 2, 2: 4, 3: 8, 4: 8, 5: 16, 1 << 31: 1 << 32, MaxRows: 1 << 33} {
		if got := VocabSlots(count); got != want {
			t.Errorf("VocabSlots(%d) = %d; want %d", count, got, want)
		}
	}
}

// sectionLayouts are layouts with every 1.1 section, over every dtype, with
// and without scale and compute dtype, alignments from 64 to 4096.
var sectionLayouts = []Layout{
	{Rows: 37, Dim: 5, Vocabulary: true, Norms: true, Alignment: 64},
	{Rows: 37, Dim: 5, DType: F16, Positions: 3, Vocabulary: true, Norms: true, Subwords: 11, SubwordMinN: 3, SubwordMaxN: 6},
	{Rows: 20, Dim: 17, DType: BF16, TokenScale: 2.5, ComputeDType: BF16, Vocabulary: true, Norms: true, Alignment: 256},
	{Rows: 20, Dim: 9, DType: Int8, Norms: true, Alignment: 128},
	{Rows: 64, Dim: 3, TokenScale: 3, ComputeDType: F16, Vocabulary: true, Subwords: 5, SubwordMinN: 1, SubwordMaxN: 1, Alignment: 64},
	{Rows: 1, Dim: 1, Vocabulary: true, Norms: true, Subwords: 1, SubwordMinN: 2, SubwordMaxN: 64, Alignment: 64},
}

// TestSectionsRoundTrip writes tables with every 1.1 section and reads them
// back: strings both ways, the tokenizer document, norms equal to norms
// computed here from the rows read back, subword rows; verification passes
// and the header Finish returned is the file's.
func TestSectionsRoundTrip(t *testing.T) {
	for i, l := range sectionLayouts {
		for _, atMost := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d/atmost=%v", i, atMost), func(t *testing.T) {
				l := l
				in := sectionsInput{tokenizer: testTokenizer, metadata: testMetadata}
				if l.Vocabulary {
					in.strs = testStrings(int(l.Rows))
				}
				if atMost {
					in.rows, l.Rows, l.RowsAtMost = l.Rows, l.Rows+100, true
				}
				file, tokens, _, subwords := buildSections(t, l, in)
				r, err := NewReader(bytes.NewReader(file), int64(len(file)))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := r.Verify(); err != nil {
					t.Fatal(err)
				}
				rows := r.Rows
				if r.Minor != 1 {
					t.Errorf("minor version %d; want 1", r.Minor)
				}
				if l.Vocabulary {
					v, err := r.Vocabulary()
					if err != nil {
						t.Fatal(err)
					}
					if err := v.Check(); err != nil {
						t.Fatal(err)
					}
					if v.Len() != rows || v.Subwords != 0 != (l.Subwords > 0) || v.MinN != l.SubwordMinN || v.MaxN != l.SubwordMaxN {
						t.Fatalf("vocabulary %+v for layout %+v", v.VocabInfo, l)
					}
					for id, s := range in.strs {
						got, err := v.String(int64(id))
						if err != nil || string(got) != s {
							t.Fatalf("String(%d) = %q, %v; want %q", id, got, err, s)
						}
						want := int64(id)
						if s == "" {
							want = -1
						}
						if got, err := v.IDString(s); got != want || (s == "") != errors.Is(err, ErrNotInVocabulary) {
							t.Fatalf("IDString(%q) = %d, %v; want %d", s, got, err, want)
						}
					}
					for _, s := range []string{"nope", "Ġtok", "Ġtok1000", "\xff"} {
						if id, err := v.ID([]byte(s)); !errors.Is(err, ErrNotInVocabulary) {
							t.Fatalf("ID(%q) = %d, %v; want ErrNotInVocabulary", s, id, err)
						}
					}
				}
				doc, err := r.TokenizerJSON()
				if err != nil || string(doc) != testTokenizer {
					t.Fatalf("TokenizerJSON = %q, %v", doc, err)
				}
				if l.Norms {
					got := make([]float32, rows)
					if err := r.ReadNorms(got, 0); err != nil {
						t.Fatal(err)
					}
					vals := make([]float32, rows*int64(r.Dim))
					if err := r.ReadRows(r.Tokens(), 0, rows, vals); err != nil {
						t.Fatal(err)
					}
					for row := range rows {
						want := independentNorm(vals[row*int64(r.Dim):(row+1)*int64(r.Dim)], r.TokenScale, r.ComputeDType)
						if math.Float32bits(got[row]) != math.Float32bits(want) {
							t.Fatalf("norm of row %d = %v; want %v", row, got[row], want)
						}
					}
				}
				if l.Subwords > 0 {
					s, _ := r.Section(SectionSubwords)
					got := make([]float32, s.Rows*int64(r.Dim))
					if err := r.ReadRows(s, 0, s.Rows, got); err != nil {
						t.Fatal(err)
					}
					if l.DType == F32 && !equalBits(got, subwords) {
						t.Fatal("subword rows differ")
					}
				}
				if l.DType == F32 {
					got := make([]float32, rows*int64(r.Dim))
					if err := r.ReadRows(r.Tokens(), 0, rows, got); err != nil || !equalBits(got, tokens) {
						t.Fatalf("token rows differ: %v", err)
					}
				}
			})
		}
	}
}

// independentNorm computes the norm SPEC.md defines from decoded values,
// applying the compute dtype and scale as the specification's lookup does:
// written out here rather than through LookupValues and Norm.
func independentNorm(vals []float32, scale float32, compute DType) float32 {
	sum := 0.0
	for _, v := range vals {
		if compute != 0 {
			v = roundTo(v, compute)
		}
		if scale != 1 {
			v *= scale
			if compute != 0 {
				v = roundTo(v, compute)
			}
		}
		if v != v {
			return math.Float32frombits(0x7fc00000)
		}
		sq := float64(v) * float64(v)
		sum = sum + sq
	}
	if math.IsInf(sum, 1) {
		return float32(math.Inf(1))
	}
	return float32(math.Sqrt(sum))
}

// TestNorm checks the special cases of the norm's definition.
func TestNorm(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	for _, c := range []struct {
		v    []float32
		want uint32
	}{
		{[]float32{3, 4}, math.Float32bits(5)},
		{[]float32{0, 0}, 0},
		{[]float32{float32(math.Copysign(0, -1))}, 0},
		{[]float32{-inf, 1}, math.Float32bits(inf)},
		{[]float32{inf, nan}, 0x7fc00000},
		{[]float32{math.Float32frombits(0xffc12345)}, 0x7fc00000},            // a NaN with a payload and sign
		{[]float32{math.MaxFloat32, math.MaxFloat32}, math.Float32bits(inf)}, // sqrt(2) x max overflows f32
		{[]float32{1e-45, 1e-45}, math.Float32bits(float32(math.Sqrt(2) * float64(float32(1e-45))))},
		// 1 + 2^-30 rounds to 1 in f32 only after the square root: the sum
		// is exact in float64.
		{[]float32{1, 1.0 / (1 << 15)}, math.Float32bits(float32(math.Sqrt(1 + 1.0/(1<<30))))},
	} {
		if got := math.Float32bits(Norm(c.v)); got != c.want {
			t.Errorf("Norm(%v) = %#08x; want %#08x", c.v, got, c.want)
		}
	}
}

// TestMinorVersion checks that a writer records minor version 1 only for
// files with a 1.1 section, so that 1.0 files are unchanged.
func TestMinorVersion(t *testing.T) {
	plain, _, _ := buildTable(t, fullLayout, []byte(testMetadata))
	if h := sectionsOf(t, plain); binary.LittleEndian.Uint16(plain[offMinor:]) != 0 || len(h) != 3 {
		t.Fatal("a 1.0 layout was not written as version 1.0")
	}
	for _, l := range []Layout{{Rows: 2, Dim: 2, Norms: true}, {Rows: 2, Dim: 2, Vocabulary: true}} {
		in := sectionsInput{}
		if l.Vocabulary {
			in.strs = []string{"a", "b"}
		}
		b, _, _, _ := buildSections(t, l, in)
		if binary.LittleEndian.Uint16(b[offMinor:]) != 1 {
			t.Fatalf("layout %+v not written as version 1.1", l)
		}
	}
	b, _, _, _ := buildSections(t, Layout{Rows: 2, Dim: 2}, sectionsInput{tokenizer: testTokenizer})
	if binary.LittleEndian.Uint16(b[offMinor:]) != 1 {
		t.Fatal("a table with a tokenizer not written as version 1.1")
	}
}

// TestRowsAtMost checks that a table whose row count is known only at the
// end is the same file as one written with the count known, whichever way
// the token table ends, and that FileWriter gives back the space reserved
// for rows never written.
func TestRowsAtMost(t *testing.T) {
	l := Layout{Rows: 9, Dim: 4, Positions: 2, Vocabulary: true, Norms: true, Subwords: 3, SubwordMinN: 2, SubwordMaxN: 3, Alignment: 64}
	in := sectionsInput{strs: testStrings(9), tokenizer: testTokenizer, metadata: testMetadata}
	want, _, _, _ := buildSections(t, l, in)
	bound := l
	bound.Rows, bound.RowsAtMost = 1000, true
	in.rows = 9
	got, _, _, _ := buildSections(t, bound, in)
	if !bytes.Equal(got, want) {
		t.Fatal("RowsAtMost with 9 rows written differs from Rows 9")
	}

	// Ended by EndTokens, by Close, by a subword row; strings before and
	// after the end.
	for _, end := range []string{"EndTokens", "Close", "WriteSubwords"} {
		var m memFile
		l := Layout{Rows: 50, Dim: 4, Vocabulary: true, Norms: true, Subwords: 2, SubwordMinN: 3, SubwordMaxN: 5, RowsAtMost: true, Alignment: 64}
		if end == "Close" {
			l.Subwords, l.SubwordMinN, l.SubwordMaxN = 0, 0, 0
		}
		w, err := NewWriter(&m, l)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteTokens(testValues(3*4, 1)); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteStrings([]byte("x")); err != nil {
			t.Fatal(err)
		}
		switch end {
		case "EndTokens":
			if err := w.EndTokens(); err != nil {
				t.Fatal(err)
			}
			if err := w.WriteTokens(testValues(4, 1)); err == nil {
				t.Fatal("a token row after EndTokens was accepted")
			}
			if err := w.WriteSubwords(testValues(8, 1)); err != nil {
				t.Fatal(err)
			}
		case "WriteSubwords":
			if err := w.WriteSubwords(testValues(8, 1)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.WriteStrings([]byte("y"), []byte("z"), []byte("w")); err == nil && end != "Close" {
			t.Fatalf("%s: a 4th string for 3 rows was accepted", end)
		} else if end == "Close" && err != nil {
			t.Fatal(err)
		}
		if end == "Close" {
			if err := w.Close(); err == nil || !strings.Contains(err.Error(), "4 strings written for 3 token rows") {
				t.Fatalf("Close with 4 strings for 3 rows = %v", err)
			}
			continue
		}
		if err := w.WriteStrings([]byte("y"), []byte("z")); err != nil {
			t.Fatal(err)
		}
		h, err := w.Finish()
		if err != nil {
			t.Fatal(err)
		}
		if h.Rows != 3 || int64(len(m.b)) != h.FileSize {
			t.Fatalf("%s: %d rows in %d bytes; header %+v", end, h.Rows, len(m.b), h)
		}
		if r, err := NewReader(bytes.NewReader(m.b), int64(len(m.b))); err != nil {
			t.Fatal(err)
		} else if _, err := r.Verify(); err != nil {
			t.Fatal(err)
		}
	}

	// Through a file: the space reserved for 100000 rows is given back.
	path := filepath.Join(t.TempDir(), "t.emb")
	fw, err := Create(path, Layout{Rows: 100000, Dim: 256, RowsAtMost: true, Norms: true})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Abort()
	if err := fw.WriteTokens(testValues(256, 1)); err != nil {
		t.Fatal(err)
	}
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Rows != 1 || st.Size() != f.FileSize {
		t.Fatalf("%d rows, %d bytes on disk, file_size %d", f.Rows, st.Size(), f.FileSize)
	}
	if blocks := allocatedBytes(st); blocks > 1<<20 {
		t.Errorf("%d bytes still allocated to a %d-byte file", blocks, st.Size())
	}
}

// TestWriterSectionErrors checks the writer's refusals: each is an error,
// never a file that a reader would refuse.
func TestWriterSectionErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		l    Layout
		want string
	}{
		{"subwords without vocabulary", Layout{Rows: 2, Dim: 2, Subwords: 3, SubwordMinN: 3, SubwordMaxN: 6}, "without Layout.Vocabulary"},
		{"subwords minn 0", Layout{Rows: 2, Dim: 2, Vocabulary: true, Subwords: 3, SubwordMaxN: 6}, "SubwordMinN 0"},
		{"subwords maxn 65", Layout{Rows: 2, Dim: 2, Vocabulary: true, Subwords: 3, SubwordMinN: 3, SubwordMaxN: 65}, "SubwordMaxN 65"},
		{"subwords minn > maxn", Layout{Rows: 2, Dim: 2, Vocabulary: true, Subwords: 3, SubwordMinN: 4, SubwordMaxN: 3}, "SubwordMinN 4"},
		{"minn without subwords", Layout{Rows: 2, Dim: 2, Vocabulary: true, SubwordMinN: 3, SubwordMaxN: 6}, "without Layout.Subwords"},
		{"subwords over MaxRows", Layout{Rows: 2, Dim: 2, Vocabulary: true, Subwords: MaxRows + 1, SubwordMinN: 1, SubwordMaxN: 1}, "Layout.Subwords"},
	} {
		if _, err := NewWriter(&memFile{}, c.l); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: NewWriter = %v; want an error saying %q", c.name, err, c.want)
		}
	}
	if _, err := (Layout{Rows: 2, Dim: 2, Vocabulary: true}).Header(0); !errors.Is(err, ErrBadVocabulary) {
		t.Errorf("Header of a vocabulary layout without its length = %v", err)
	}
	if _, err := (Layout{Rows: 2, Dim: 2}).HeaderWith(SectionLengths{Vocabulary: 100}); !errors.Is(err, ErrBadVocabulary) {
		t.Errorf("HeaderWith a vocabulary length without Layout.Vocabulary = %v", err)
	}

	newW := func(l Layout) *Writer {
		w, err := NewWriter(&memFile{}, l)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	// Strings: none for a layout without vocabulary, too many, too few,
	// duplicates.
	w := newW(Layout{Rows: 2, Dim: 1})
	if err := w.WriteStrings([]byte("a")); err == nil {
		t.Error("WriteStrings without Layout.Vocabulary was accepted")
	}
	vl := Layout{Rows: 3, Dim: 1, Vocabulary: true}
	w = newW(vl)
	if err := w.WriteStrings([]byte("a"), []byte("b"), []byte("c"), []byte("d")); err == nil {
		t.Error("4 strings for 3 rows were accepted")
	}
	w = newW(vl)
	w.WriteTokens(testValues(3, 1))
	w.WriteStrings([]byte("a"), []byte("b"))
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "2 strings written for 3 token rows") {
		t.Errorf("Close with 2 strings for 3 rows = %v", err)
	}
	w = newW(vl)
	w.WriteTokens(testValues(3, 1))
	w.WriteStrings([]byte("a"), []byte("\xffb"), []byte("\xffb"))
	if err := w.Close(); !errors.Is(err, ErrBadVocabulary) || !strings.Contains(err.Error(), "rows 1 and 2") {
		t.Errorf("Close with a duplicate string = %v", err)
	}
	// Order of the row sections.
	w = newW(Layout{Rows: 2, Dim: 1, Positions: 2, Vocabulary: true, Subwords: 2, SubwordMinN: 1, SubwordMaxN: 2})
	if err := w.WriteSubwords(testValues(1, 1)); err == nil || !strings.Contains(err.Error(), "before the token table is complete") {
		t.Errorf("subwords before tokens = %v", err)
	}
	w.WriteTokens(testValues(2, 1))
	if err := w.WriteSubwordRows(make([]byte, 64)); err == nil || !strings.Contains(err.Error(), "before the positional table is complete") {
		t.Errorf("subwords before positions = %v", err)
	}
	w.WritePositions(testValues(2, 1))
	if err := w.WriteSubwords(testValues(3, 1)); err == nil {
		t.Error("3 subword rows for 2 were accepted")
	}
	if err := w.WriteSubwordRows(append(make([]byte, 63), 1)); err == nil || !strings.Contains(err.Error(), "non-zero padding") {
		t.Errorf("a subword row with non-zero padding = %v", err)
	}
	w.WriteSubwords(testValues(1, 1))
	w.WriteStrings([]byte("a"), []byte("b"))
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "1 of 2 subword rows") {
		t.Errorf("Close with a subword row missing = %v", err)
	}
	// EndTokens: with a known count it only checks; with RowsAtMost it
	// needs a row.
	w = newW(Layout{Rows: 2, Dim: 1})
	if err := w.EndTokens(); err == nil {
		t.Error("EndTokens with 0 of 2 rows written succeeded")
	}
	w = newW(Layout{Rows: 2, Dim: 1, RowsAtMost: true})
	if err := w.EndTokens(); err == nil {
		t.Error("EndTokens with no row succeeded")
	}
	if err := w.Close(); err == nil {
		t.Error("Close of a RowsAtMost table with no row succeeded")
	}
	// Tokenizers: not JSON, a duplicate key, a section that does not
	// decompress to its length.
	w = newW(Layout{Rows: 2, Dim: 1})
	for _, doc := range []string{"", "[1]", `{"a":1,"a":2}`, "{\"a\":\"\xff\"}", `{"a":`} {
		if err := w.SetTokenizer([]byte(doc)); !errors.Is(err, ErrBadTokenizer) {
			t.Errorf("SetTokenizer(%q) = %v", doc, err)
		}
	}
	sec, err := EncodeTokenizerSection([]byte(testTokenizer))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SetTokenizerSection(sec); err != nil {
		t.Errorf("SetTokenizerSection of an encoded section = %v", err)
	}
	short := bytes.Clone(sec)
	binary.LittleEndian.PutUint64(short[tokOffRawLength:], uint64(len(testTokenizer)-1))
	if err := w.SetTokenizerSection(short); !errors.Is(err, ErrBadTokenizer) {
		t.Errorf("SetTokenizerSection with raw_length one short = %v", err)
	}
	// Finish, then Close: nil; Close again: an error.
	w = newW(Layout{Rows: 1, Dim: 1})
	w.WriteTokens([]float32{1})
	if _, err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close after Finish = %v", err)
	}
	if err := w.Close(); err == nil {
		t.Error("a second Close succeeded")
	}
	if _, err := w.Finish(); err == nil {
		t.Error("Finish after Close succeeded")
	}
}

// TestTokenizerSectionDecompression checks the bounds of decompression: a
// stream that holds more than raw_length is cut off without allocating
// past it, and every other mismatch is refused.
func TestTokenizerSectionDecompression(t *testing.T) {
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	defer enc.Close()
	section := func(raw uint64, payload []byte) []byte {
		b := make([]byte, TokenizerHeader)
		binary.LittleEndian.PutUint32(b[tokOffFormat:], TokenizerHFJSON)
		binary.LittleEndian.PutUint32(b[tokOffCompression:], CompressionZstd)
		binary.LittleEndian.PutUint64(b[tokOffRawLength:], raw)
		return append(b, payload...)
	}
	doc := []byte(testTokenizer)
	good := enc.EncodeAll(doc, nil)
	// A bomb: 1 GiB of spaces inside a JSON object, compressed to about
	// 32 KiB, claiming 100 bytes; and claiming the most a section may.
	bomb := func() []byte {
		var buf bytes.Buffer
		w, _ := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedBestCompression))
		w.Write([]byte(`{"a":"`))
		spaces := bytes.Repeat([]byte{' '}, 1<<20)
		for range 1 << 10 {
			w.Write(spaces)
		}
		w.Write([]byte(`"}`))
		w.Close()
		return buf.Bytes()
	}()
	two := append(enc.EncodeAll(doc[:10], nil), enc.EncodeAll(doc[10:], nil)...)
	for _, c := range []struct {
		name string
		sec  []byte
		ok   bool
	}{
		{"good", section(uint64(len(doc)), good), true},
		{"two frames", section(uint64(len(doc)), two), true},
		{"raw_length one short", section(uint64(len(doc)-1), good), false},
		{"raw_length one long", section(uint64(len(doc)+1), good), false},
		{"raw_length 0", section(0, good), false},
		{"raw_length over the limit", section(MaxTokenizerSize+1, good), false},
		{"truncated stream", section(uint64(len(doc)), good[:len(good)-3]), false},
		{"garbage", section(uint64(len(doc)), []byte("not zstd at all")), false},
		{"not JSON", section(9, enc.EncodeAll([]byte("not json!"), nil)), false},
		{"bomb claiming 100 bytes", section(100, bomb), false},
		{"bomb claiming the limit", section(MaxTokenizerSize, bomb), false},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got, err := ParseTokenizerSection(c.sec, 1000)
		runtime.ReadMemStats(&after)
		if c.ok != (err == nil) || (c.ok && !bytes.Equal(got, doc)) {
			t.Errorf("%s: ParseTokenizerSection = %q, %v; want ok=%v", c.name, got, err, c.ok)
		}
		var fe *FormatError
		if err != nil && (!errors.As(err, &fe) || !errors.Is(err, ErrBadTokenizer) || fe.Offset < 1000) {
			t.Errorf("%s: error %v is not a *FormatError of ErrBadTokenizer in the section", c.name, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 3*MaxTokenizerSize {
			t.Errorf("%s: decompression allocated %d bytes", c.name, alloc)
		}
	}
}

// TestVocabularyDefensive damages the index and offsets of a valid
// vocabulary in memory and checks that lookups never panic or loop: each
// answers, or returns a *FormatError wrapping ErrBadVocabulary, and Check
// finds every damage.
func TestVocabularyDefensive(t *testing.T) {
	strs := testStrings(40)
	file, _, _, _ := buildSections(t, Layout{Rows: 40, Dim: 2, Vocabulary: true, Alignment: 64}, sectionsInput{strs: strs})
	s := sectionsOf(t, file)[1]
	data := file[s.Offset:s.End()]
	v, err := NewVocabulary(data, s.Offset, 40)
	if err != nil {
		t.Fatal(err)
	}
	idx, blob := v.idx, v.blob
	le := binary.LittleEndian
	lookAll := func(v *Vocabulary) (bad error) {
		for i, q := range append(slices.Clone(strs), "nope", "x", "Ġtok") {
			id, err := v.IDString(q)
			switch {
			case err == nil:
				if got, err := v.String(id); err != nil || string(got) != q {
					t.Fatalf("IDString(%q) = %d whose string is %q, %v", q, id, got, err)
				}
			case errors.Is(err, ErrNotInVocabulary):
			case errors.Is(err, ErrBadVocabulary):
				var fe *FormatError
				if !errors.As(err, &fe) || fe.Offset < s.Offset || fe.Offset >= s.End() {
					t.Fatalf("IDString(%q): %v is not a *FormatError inside the section", q, err)
				}
				bad = err
			default:
				t.Fatalf("IDString(%q) = %v", q, err)
			}
			if i < len(strs) {
				if _, err := v.String(int64(i)); err != nil && !errors.Is(err, ErrBadVocabulary) {
					t.Fatalf("String(%d) = %v", i, err)
				}
			}
		}
		return bad
	}
	if err := lookAll(v); err != nil {
		t.Fatal(err)
	}
	damages := map[string]func(b []byte){
		"every slot full":        func(b []byte) { fillSlots(b[idx:blob], 0x1234567800000001) },
		"every slot row 2^32-1":  func(b []byte) { fillSlots(b[idx:blob], 0xffffffffffffffff) },
		"every slot tag matches": func(b []byte) { fillAllTags(b, idx, blob, strs) },
		"offsets decreasing":     func(b []byte) { le.PutUint64(b[VocabHeaderSize+8*10:], 1<<40) },
		"offset past blob":       func(b []byte) { le.PutUint64(b[VocabHeaderSize+8*39:], uint64(len(b))) },
		"slot id 0 tag":          func(b []byte) { fillSlots(b[idx:blob], 0xffffffff00000000) },
		"one entry moved":        func(b []byte) { moveEntry(b, idx, blob) },
	}
	for name, damage := range damages {
		b := bytes.Clone(data)
		damage(b)
		dv, err := NewVocabulary(b, s.Offset, 40)
		if err != nil {
			t.Fatalf("%s: NewVocabulary = %v (only the index or offsets are damaged)", name, err)
		}
		lookAll(dv)
		if err := dv.Check(); !errors.Is(err, ErrBadVocabulary) {
			t.Errorf("%s: Check = %v", name, err)
		}
	}
}

func fillSlots(b []byte, e uint64) {
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], e)
	}
}

// fillAllTags fills every slot with the tag of each string in turn and a
// row that does not hold it: every probe reads offsets and compares.
func fillAllTags(b []byte, idx, blob int64, strs []string) {
	n := (blob - idx) / 8
	for p := range n {
		s := strs[int(p)%len(strs)]
		tag := vocabHash(s) & 0xffffffff
		binary.LittleEndian.PutUint64(b[idx+8*p:], tag<<32|uint64((p+1)%int64(len(strs))+1))
	}
}

// moveEntry moves the first occupied slot to the next empty one.
func moveEntry(b []byte, idx, blob int64) {
	le := binary.LittleEndian
	for p := idx; p < blob; p += 8 {
		if e := le.Uint64(b[p:]); e != 0 {
			for q := p + 8; q < blob; q += 8 {
				if le.Uint64(b[q:]) == 0 {
					le.PutUint64(b[q:], e)
					le.PutUint64(b[p:], 0)
					return
				}
			}
		}
	}
}

// TestVocabularyLookupDoesNotAllocate checks that lookups both ways, with
// strings longer than the compiler's stack buffers, allocate nothing.
func TestVocabularyLookupDoesNotAllocate(t *testing.T) {
	strs := testStrings(100)
	strs[7] = strings.Repeat("long string ", 20)
	file, _, _, _ := buildSections(t, Layout{Rows: 100, Dim: 2, Vocabulary: true}, sectionsInput{strs: strs})
	r, err := NewReader(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	v, err := r.Vocabulary()
	if err != nil {
		t.Fatal(err)
	}
	qb := []byte(strs[7])
	var sink int64
	if n := testing.AllocsPerRun(100, func() {
		for _, s := range strs {
			id, _ := v.IDString(s)
			sink += id
		}
		id, _ := v.ID(qb)
		sink += id
		b, _ := v.String(7)
		sink += int64(len(b))
	}); n != 0 {
		t.Errorf("lookups allocate %v times", n)
	}
	_ = sink
}

// TestReaderLayout checks that the layout a Reader reports rebuilds the
// header of every valid fixture this package wrote: written again with the
// same sections' lengths, the header is the same but for checksums.
func TestReaderLayout(t *testing.T) {
	for _, c := range fixtureCases(t) {
		if c.openErr != nil || c.verifyErr != nil || !strings.HasPrefix(c.name, "valid-") ||
			strings.Contains(c.name, "unknown") || strings.Contains(c.name, "minor") || strings.Contains(c.name, "stride") ||
			c.name == "valid-16-sections" {
			continue // files the writer does not make
		}
		r, err := NewReader(bytes.NewReader(c.file), int64(len(c.file)))
		if err != nil {
			t.Fatal(err)
		}
		var n SectionLengths
		for _, s := range r.Sections {
			switch s.Kind {
			case SectionVocabulary:
				n.Vocabulary = s.Length
			case SectionTokenizer:
				n.Tokenizer = s.Length
			case SectionMetadata:
				n.Metadata = s.Length
			}
		}
		h, err := r.Layout().HeaderWith(n)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for i := range h.Sections {
			h.Sections[i].CRC = r.Sections[i].CRC
		}
		h.CRC = r.CRC
		if !bytes.Equal(h.Encode(), c.file[:HeaderSize]) {
			t.Errorf("%s: the layout %+v gives another header", c.name, r.Layout())
		}
	}
}
