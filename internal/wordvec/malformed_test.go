package wordvec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readBytes reads data as a file (through NewReader over a bytes.Reader)
// to the end, returning the rows and the first error.
func readBytes(data []byte, opts *Options) (*table, error) {
	r, err := NewReader(bytes.NewReader(data), opts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	tb := &table{h: r.Header()}
	for {
		b, err := r.Next()
		if err == io.EOF {
			tb.st = r.Stats()
			return tb, nil
		}
		if err != nil {
			return tb, err
		}
		for i := range b.Len() {
			tb.words = append(tb.words, bytes.Clone(b.Word(i)))
		}
		tb.vecs = append(tb.vecs, b.Vectors...)
	}
}

// wantErr checks that err is a *FormatError of kind, at line (0: any), whose
// message holds every one of the fragments.
func wantErr(t *testing.T, what string, err error, kind error, line int64, frags ...string) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) || !errors.Is(err, kind) {
		t.Errorf("%s: error %v (%T), want a *FormatError of %v", what, err, err, kind)
		return
	}
	if line != 0 && fe.Line != line {
		t.Errorf("%s: %v: at line %d, want %d", what, err, fe.Line, line)
	}
	for _, f := range frags {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("%s: %q does not say %q", what, err, f)
		}
	}
}

func TestMalformedText(t *testing.T) {
	cases := []struct {
		name, data string
		opts       *Options
		kind       error
		line       int64
		frags      []string
	}{
		{"too few values", "2 3\na 1 2 3\nb 1 2\n", nil, ErrFields, 3, []string{"expected a word and 3 values, found 2"}},
		{"too many values", "2 3\na 1 2 3\nb 1 2 3 4\n", nil, ErrFields, 3, []string{"found more values"}},
		{"bad number", "2 3\na 1 2 3\nb 1 x 3\n", nil, ErrNumber, 3, []string{`value 2 of 3, "x", is not a number`}},
		{"double space", "2 3\na 1 2 3\nb 1  3\n", nil, ErrNumber, 3, []string{`""`}},
		{"hex", "1 2\na 0x1p3 1\n", nil, ErrNumber, 2, nil},
		{"underscore", "1 2\na 1_0 1\n", nil, ErrNumber, 2, nil},
		{"NUL in word", "2 2\na 1 2\nb\x00c 1 2\n", nil, ErrWord, 3, []string{"NUL"}},
		{"empty word", "1 2\n 1 2\n", nil, ErrWord, 2, []string{"empty word"}},
		{"header claims more", "3 2\na 1 2\nb 1 2\n", nil, ErrRowCount, 0, []string{"claims 3 rows, the file has 2"}},
		{"header claims fewer", "1 2\na 1 2\nb 1 2\nc 1 2\n", nil, ErrRowCount, 0, []string{"claims 1 rows, the file has 3"}},
		{"header 2^40 rows", "1099511627776 300\na 1\n", nil, ErrLimit, 1, []string{"1099511627776 rows"}},
		{"header huge rows", "99999999999999999999999 300\n", nil, ErrLimit, 1, nil},
		{"dim 0", "2 0\n", nil, ErrLimit, 1, []string{"dim 0"}},
		{"dim too big", "2 65537\n", nil, ErrLimit, 1, []string{"65537"}},
		{"strict UTF-8", "2 1\na 1\n\xff 2\n", &Options{StrictUTF8: true}, ErrUTF8, 3, nil},
		{"glove bad line", "a 1 2\nb 1 2\nc 1\n", nil, ErrFields, 3, nil},
		{"glove named, header", "x\n", &Options{Format: GloVe}, ErrFields, 1, nil},
		{"named text, no header", "a 1 2\n", &Options{Format: Word2VecText}, ErrHeader, 1, nil},
		{"word too long", "1 1\n" + strings.Repeat("w", MaxWordBytes+1) + " 1\n", nil, ErrLimit, 2, []string{"longer than"}},
		{"unknown", "hello world\n", nil, ErrUnknownFormat, 0, nil},
		{"empty", "", nil, ErrUnknownFormat, 0, []string{"empty"}},
		{"binary junk", "\x89PNG\r\n\x1a\n\x00\x00", nil, ErrUnknownFormat, 0, nil},
		{"xz", "\xfd7zXZ\x00\x00\x04", nil, ErrUnsupported, 0, []string{"xz"}},
		{"line too long", "1 1\na " + strings.Repeat("1", maxLine(1)) + "\n", &Options{BlockBytes: 4096}, ErrLimit, 2, []string{"longer than"}},
	}
	for _, c := range cases {
		_, err := readBytes([]byte(c.data), c.opts)
		wantErr(t, c.name, err, c.kind, c.line, c.frags...)
	}
}

func TestSkipBadLines(t *testing.T) {
	data := "6 2\na 1 2\nb 1\nc 1 x\n\x00 1 2\nd 3 4\n\n  \ne 5 6 7\n"
	tb, err := readBytes([]byte(data), &Options{SkipBadLines: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(tb.words) != 2 || tb.st.SkippedLines != 4 || tb.st.BlankLines != 2 || tb.st.Lines != 9 {
		t.Fatalf("%q, stats %+v", tb.words, tb.st)
	}
	if !equalBits(tb.vecs, []float32{1, 2, 3, 4}) {
		t.Fatalf("vectors %v", tb.vecs)
	}
	// The header counts the bad lines as rows.
	_, err = readBytes([]byte("3 2\na 1 2\nb 1\n"), &Options{SkipBadLines: true})
	wantErr(t, "count with a skipped line", err, ErrRowCount, 0, "claims 3 rows, the file has 2 (1 of them bad lines, skipped)")
}

func TestTextDetails(t *testing.T) {
	// BOM, CRLF, trailing spaces and tabs, blank lines, words with spaces,
	// tabs and NBSP, duplicates listed up to the bound.
	data := "\xef\xbb\xbf5 2\r\na b 1 2 \r\n\r\nc\td 3 4\t\n\u00a0 5 6\na b 7 8\na b 9 10\n"
	tb, err := readBytes([]byte(data), &Options{MaxListedDuplicates: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a b", "c\td", "\u00a0"}
	if len(tb.words) != 3 || string(tb.words[0]) != want[0] || string(tb.words[1]) != want[1] || string(tb.words[2]) != want[2] {
		t.Fatalf("words %q", tb.words)
	}
	if !tb.st.BOM || tb.st.BlankLines != 1 || tb.st.Duplicates != 2 || len(tb.st.DuplicateWords) != 1 || string(tb.st.DuplicateWords[0]) != "a b" {
		t.Fatalf("stats %+v", tb.st)
	}
	if !equalBits(tb.vecs, []float32{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("vectors %v", tb.vecs)
	}
	// A file without a final newline; an empty word2vec file.
	if tb, err := readBytes([]byte("a 1\nb 2"), nil); err != nil || len(tb.words) != 2 || tb.h.Format != GloVe {
		t.Fatalf("no final newline: %v %+v", err, tb)
	}
	if tb, err := readBytes([]byte("0 7\n"), nil); err != nil || len(tb.words) != 0 || tb.h.Format != Word2VecText || tb.h.Dim != 7 {
		t.Fatalf("empty file: %v %+v", err, tb)
	}
	// A word that is a number, when the line has no other space.
	if tb, err := readBytes([]byte("1999 1 2\n-3 4 5\n"), nil); err != nil || tb.h.Dim != 2 || string(tb.words[1]) != "-3" {
		t.Fatalf("numeric words: %v %+v", err, tb)
	}
}

func binaryFile(rows int, dim int, words []string, newline bool) []byte {
	var b bytes.Buffer
	b.WriteString(itoa(rows) + " " + itoa(dim) + "\n")
	for i, w := range words {
		b.WriteString(w + " ")
		for j := range dim {
			binary.Write(&b, binary.LittleEndian, float32(i*dim+j))
		}
		if newline {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func TestBinary(t *testing.T) {
	for _, nl := range []bool{false, true} {
		data := binaryFile(3, 2, []string{"a", "b\tc", "\xffd"}, nl)
		tb, err := readBytes(data, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tb.h.Format != Word2Vec || len(tb.words) != 3 || string(tb.words[1]) != "b\tc" || tb.st.InvalidUTF8 != 1 {
			t.Fatalf("%+v", tb)
		}
		if !equalBits(tb.vecs, []float32{0, 1, 2, 3, 4, 5}) {
			t.Fatalf("vectors %v", tb.vecs)
		}
	}
	full := binaryFile(3, 2, []string{"a", "b", "c"}, true)
	cases := []struct {
		name string
		data []byte
		kind error
		frag string
	}{
		{"truncated vector", full[:len(full)-3], ErrTruncated, "ends after 6 of the 8 bytes"},
		{"truncated word", append(binaryFile(3, 2, []string{"a", "b"}, true), "cc"...), ErrTruncated, "inside the word"},
		{"fewer rows", binaryFile(3, 2, []string{"a", "b"}, true), ErrRowCount, "claims 3 rows, the file has 2"},
		{"more rows", binaryFile(1, 2, []string{"a", "b", "c"}, false), ErrRowCount, "claims 1 rows, the file has 3"},
		{"more rows and a part", append(binaryFile(1, 2, []string{"a", "b"}, true), "c 12"...), ErrRowCount, "2 and part of another"},
		{"junk after", append(binaryFile(1, 2, []string{"a"}, true), "  "...), ErrRowCount, "not a row"},
		{"NUL in word", binaryFile(1, 2, []string{"a\x00"}, true), ErrWord, "NUL"},
		{"empty word", binaryFile(2, 2, []string{"a", ""}, true), ErrWord, "empty"},
		{"no space", append([]byte("1 2\n"), bytes.Repeat([]byte("x"), MaxWordBytes+10)...), ErrLimit, "no space"},
		{"header 2^40", []byte("1099511627776 2\n\x00\x01"), ErrLimit, "rows"},
	}
	for _, c := range cases {
		_, err := readBytes(c.data, &Options{Format: Word2Vec})
		wantErr(t, c.name, err, c.kind, 0, c.frag)
	}
	// Detected as binary too.
	_, err := readBytes(full[:len(full)-3], nil)
	wantErr(t, "truncated, detected", err, ErrTruncated, 0)
}

// ftHeader writes a fastText .bin signature, arguments and dictionary.
type ftSpec struct {
	version, dim, bucket, minn, maxn, model int32
	words, labels                           []string
	types                                   []byte // entry types; nil: words 0, labels 1
	prune                                   int64
	quant                                   byte
	rows, cols                              int64 // matrix shape; 0: right
	values                                  int64 // float32 values written; -1: all
}

func (s ftSpec) bytes() []byte {
	var b bytes.Buffer
	w := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	w(int32(fastTextMagic))
	w(s.version)
	w([]int32{s.dim, 5, 5, 1, 5, 1, 2, s.model, s.bucket, s.minn, s.maxn, 100})
	w(1e-4)
	n := int32(len(s.words) + len(s.labels))
	w([]int32{n, int32(len(s.words)), int32(len(s.labels))})
	w(int64(1000))
	w(s.prune)
	for i, e := range append(append([]string{}, s.words...), s.labels...) {
		typ := byte(0)
		if i >= len(s.words) {
			typ = 1
		}
		if s.types != nil {
			typ = s.types[i]
		}
		b.WriteString(e)
		b.WriteByte(0)
		w(int64(10 - i))
		b.WriteByte(typ)
	}
	b.WriteByte(s.quant)
	rows, cols := int64(len(s.words))+int64(s.bucket), int64(s.dim)
	if s.rows != 0 {
		rows, cols = s.rows, s.cols
	}
	w(rows)
	w(cols)
	vals := rows * cols
	if s.values >= 0 {
		vals = s.values
	}
	for i := range vals {
		w(float32(i%7) - 3)
	}
	return b.Bytes()
}

func TestFastTextMalformed(t *testing.T) {
	good := ftSpec{version: 12, dim: 3, bucket: 5, minn: 2, maxn: 3, model: 2, words: []string{"a", "bc"}, values: -1}
	if tb, err := readBytes(good.bytes(), nil); err != nil || len(tb.words) != 2 || tb.h.Format != FastTextBin {
		t.Fatalf("good model: %v", err)
	}
	mod := func(f func(*ftSpec)) []byte {
		s := good
		f(&s)
		return s.bytes()
	}
	cases := []struct {
		name string
		data []byte
		kind error
		frag string
	}{
		{"version 13", mod(func(s *ftSpec) { s.version = 13 }), ErrUnsupported, "version 13"},
		{"quantised", mod(func(s *ftSpec) { s.quant = 1 }), ErrUnsupported, "quantised"},
		{"quant flag 2", mod(func(s *ftSpec) { s.quant = 2 }), ErrFastText, "not a bool"},
		{"pruned", mod(func(s *ftSpec) { s.prune = 3 }), ErrUnsupported, "pruned"},
		{"dim 0", mod(func(s *ftSpec) { s.dim = 0 }), ErrLimit, "dim 0"},
		{"negative bucket", mod(func(s *ftSpec) { s.bucket = -1 }), ErrFastText, "negative"},
		{"maxn too big", mod(func(s *ftSpec) { s.maxn = 1000 }), ErrLimit, "maxn 1000"},
		{"matrix shape", mod(func(s *ftSpec) { s.rows, s.cols = 7, 4 }), ErrFastText, "7 x 4"},
		{"matrix 2^40 rows", mod(func(s *ftSpec) { s.rows, s.cols, s.values = 1<<40, 3, 0 }), ErrFastText, "1099511627776"},
		{"label first", mod(func(s *ftSpec) { s.labels = []string{"__label__x"}; s.types = []byte{1, 0, 0} }), ErrFastText, "must come before"},
		{"type 7", mod(func(s *ftSpec) { s.types = []byte{0, 7} }), ErrFastText, "type 7"},
		{"duplicate word", mod(func(s *ftSpec) { s.words = []string{"a", "a"} }), ErrFastText, "twice"},
		{"empty word", mod(func(s *ftSpec) { s.words = []string{"a", ""} }), ErrWord, "empty"},
		{"truncated matrix", mod(func(s *ftSpec) { s.values = 10 }), ErrTruncated, ""},
		{"truncated dictionary", mod(func(s *ftSpec) {})[:80], ErrTruncated, "dictionary"},
		{"truncated args", mod(func(s *ftSpec) {})[:30], ErrTruncated, "arguments"},
	}
	for _, c := range cases {
		_, err := readBytes(c.data, nil)
		wantErr(t, c.name, err, c.kind, 0, c.frag)
		// The same as a pure stream, where the matrix is read as it comes.
		_, err = readStream(c.data)
		wantErr(t, c.name+" (stream)", err, c.kind, 0, c.frag)
	}
	// A dictionary count that cannot be: nwords + nlabels != size.
	b := good.bytes()
	binary.LittleEndian.PutUint32(b[64:], 9)
	_, err := readBytes(b, nil)
	wantErr(t, "dictionary counts", err, ErrFastText, 0, "9 entries")
	// A word without its NUL within the limit.
	b = good.bytes()[:92]
	b = append(b, bytes.Repeat([]byte("x"), MaxWordBytes+2)...)
	_, err = readBytes(b, nil)
	wantErr(t, "endless word", err, ErrLimit, 0, "no NUL")
	// Bucket 0: no subwords; words are their own rows; OOV refused.
	nob := mod(func(s *ftSpec) { s.bucket = 0 })
	r, err := NewReader(bytes.NewReader(nob), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	blk, err := r.Next()
	if err != nil || !equalBits(blk.Vectors, []float32{-3, -2, -1, 0, 1, 2}) {
		t.Fatalf("bucket 0: %v %v", err, blk)
	}
	if _, err := r.FastText().OOVVector(make([]float32, 3), []byte("zz")); !errors.Is(err, ErrNoSubwords) {
		t.Errorf("OOV without buckets: %v", err)
	}
	// Version 11 supervised: no character n-grams.
	v11 := mod(func(s *ftSpec) { s.version = 11; s.model = 3; s.labels = []string{"__label__a"} })
	r11, err := NewReader(bytes.NewReader(v11), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r11.Close()
	if m := r11.FastText(); m.Subwords.MaxN != 0 || m.Labels != 1 {
		t.Errorf("version 11 supervised: %+v", m.Subwords)
	}
}

func readStream(data []byte) (*table, error) {
	r, err := NewReader(io.MultiReader(bytes.NewReader(data)), nil)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	_, err = drain(r)
	return nil, err
}

func TestCompressionErrors(t *testing.T) {
	gz, err := os.ReadFile(filepath.Join(fixtureDir, "w2v.txt.bz2"))
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(gz)
	for i := 100; i < len(bad); i += 97 {
		bad[i] ^= 0x55
	}
	_, err = readBytes(bad, nil)
	if !errors.Is(err, ErrCompressed) {
		t.Errorf("corrupt bzip2: %v", err)
	}
	for _, name := range []string{"glove.txt.gz", "w2v.txt.zst"} {
		b, _ := os.ReadFile(filepath.Join(fixtureDir, name))
		_, err = readBytes(b[:len(b)/2], nil)
		if err == nil {
			t.Errorf("%s cut in half: no error", name)
		}
		bad := bytes.Clone(b)
		bad[len(bad)/2] ^= 0xff
		bad[len(bad)/3] ^= 0xff
		if _, err = readBytes(bad, nil); err == nil {
			t.Errorf("%s corrupted: no error", name)
		}
	}
}

func TestParseValueSpecials(t *testing.T) {
	for s, want := range map[string]uint32{
		"nan": 0x7fc00000, "-nan": 0xffc00000, "+NaN": 0x7fc00000, "inf": 0x7f800000, "-Infinity": 0xff800000,
		"-0": 0x80000000, "0": 0, "1e400": 0x7f800000, "-1e400": 0xff800000, "1e-400": 0, "-1e-400": 0x80000000,
		"3.4028235e38": 0x7f7fffff, "3.4028236e38": 0x7f800000, "3.40282357e38": 0x7f800000, "1.4e-45": 1, "7e-46": 0, "7.1e-46": 1,
		"1.": 0x3f800000, ".5": 0x3f000000, "+.5e+1": 0x40a00000, "00012.500": 0x41480000, "1E1": 0x41200000,
	} {
		got, ok := ParseValue([]byte(s))
		if !ok || math.Float32bits(got) != want {
			t.Errorf("ParseValue(%q) = %#08x, %v; want %#08x", s, math.Float32bits(got), ok, want)
		}
	}
	for _, s := range []string{"", "+", "-", ".", "e5", "1e", "1e+", "--1", "1.5.2", "0x10", "1_0", " 1", "1 ", "infinit", "nana", "1f", "١"} {
		if _, ok := ParseValue([]byte(s)); ok {
			t.Errorf("ParseValue(%q) accepted", s)
		}
	}
}
