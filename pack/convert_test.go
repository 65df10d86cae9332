package pack

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embstore/embstore/format"
)

// sectionCRCs returns the checksum of every section of the table at path,
// by kind.
func sectionCRCs(t *testing.T, path string) map[format.SectionKind]uint32 {
	t.Helper()
	f, err := format.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[format.SectionKind]uint32{}
	for _, s := range f.Header.Sections {
		m[s.Kind] = s.CRC
	}
	return m
}

// TestConvertKeepsSections checks that a conversion keeps the vocabulary,
// tokenizer, norms and metadata keys of format 1.1 by default, byte for
// byte where the rows do not change, and that ConvertSpec adds, replaces
// and drops them.
func TestConvertKeepsSections(t *testing.T) {
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "tok.json")
	writeFiles(t, dir, map[string][]byte{"tok.json": []byte(tinyTokenizer)})
	src := filepath.Join(dir, "src.emb")
	if err := Seed(ctx, src, SeedSpec{Rows: 1000, Dim: 16, Seed: 7, Positions: 8, DType: format.Int8, Tokenizer: tokFile}, nil); err != nil {
		t.Fatal(err)
	}
	srcCRC := sectionCRCs(t, src)
	srcProv, _ := provenanceOf(t, src)

	// The zero spec: a copy, every section the same bytes (int8 rows are
	// not quantised again), the metadata's 1.1 keys carried over.
	same := filepath.Join(dir, "same.emb")
	info, err := ConvertWith(ctx, same, src, ConvertSpec{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.From != "int8" || info.To != "int8" || info.MaxAbsError != 0 {
		t.Errorf("conversion info %+v", info)
	}
	got := sectionCRCs(t, same)
	for _, k := range []format.SectionKind{format.SectionTokens, format.SectionPositions, format.SectionVocabulary, format.SectionTokenizer} {
		if _, ok := srcCRC[k]; !ok || got[k] != srcCRC[k] {
			t.Errorf("section %s: crc %#x; the source's %#x", k, got[k], srcCRC[k])
		}
	}
	p, _ := provenanceOf(t, same)
	if p.Source != "convert" || p.Tokenizer == nil || *p.Tokenizer != *srcProv.Tokenizer || p.Vocabulary == nil || p.Vocabulary.Source != "tokenizer" {
		t.Errorf("metadata: source %q, tokenizer %+v, vocabulary %+v", p.Source, p.Tokenizer, p.Vocabulary)
	}

	// Another dtype, with norms: the rows change, the strings and the
	// tokenizer do not; the norms are those of the rows lookups return.
	f16 := filepath.Join(dir, "f16.emb")
	if _, err := ConvertWith(ctx, f16, src, ConvertSpec{DType: format.F16, Norms: NormsAdd}, nil); err != nil {
		t.Fatal(err)
	}
	got = sectionCRCs(t, f16)
	if got[format.SectionVocabulary] != srcCRC[format.SectionVocabulary] || got[format.SectionTokenizer] != srcCRC[format.SectionTokenizer] {
		t.Errorf("f16: the vocabulary or tokenizer changed")
	}
	if _, ok := got[format.SectionNorms]; !ok {
		t.Fatal("f16 with NormsAdd: no norms section")
	}
	tb := tableOf(t, f16)
	norms := make([]float32, 1000)
	if err := tb.ReadNorms(norms, 0); err != nil {
		t.Fatal(err)
	}
	row := make([]float32, 16)
	for _, id := range []int64{0, 5, 999} {
		if err := tb.Lookup(row, []int64{id}); err != nil {
			t.Fatal(err)
		}
		if want := format.Norm(row); math.Float32bits(norms[id]) != math.Float32bits(want) {
			t.Errorf("norm of row %d: %v; want %v", id, norms[id], want)
		}
	}
	// Kept on the next conversion, dropped with NormsDrop.
	for _, c := range []struct {
		spec  ConvertSpec
		norms bool
	}{{ConvertSpec{}, true}, {ConvertSpec{Norms: NormsDrop}, false}} {
		out := filepath.Join(t.TempDir(), "t.emb")
		if _, err := ConvertWith(ctx, out, f16, c.spec, nil); err != nil {
			t.Fatal(err)
		}
		if _, ok := sectionCRCs(t, out)[format.SectionNorms]; ok != c.norms {
			t.Errorf("%+v: norms section %v; want %v", c.spec, ok, c.norms)
		}
	}

	// NoTokenizer drops the tokenizer and its vocabulary, and their keys.
	bare := filepath.Join(dir, "bare.emb")
	if _, err := ConvertWith(ctx, bare, src, ConvertSpec{NoTokenizer: true}, nil); err != nil {
		t.Fatal(err)
	}
	got = sectionCRCs(t, bare)
	if _, ok := got[format.SectionTokenizer]; ok {
		t.Error("NoTokenizer: a tokenizer section")
	}
	if _, ok := got[format.SectionVocabulary]; ok {
		t.Error("NoTokenizer: a vocabulary section")
	}
	if got[format.SectionTokens] != srcCRC[format.SectionTokens] {
		t.Error("NoTokenizer: the rows changed")
	}
	if p, _ := provenanceOf(t, bare); p.Tokenizer != nil || p.Vocabulary != nil {
		t.Errorf("NoTokenizer: metadata keeps tokenizer %+v, vocabulary %+v", p.Tokenizer, p.Vocabulary)
	}

	// Tokenizer replaces both; one that does not fit is refused.
	other := filepath.Join(dir, "other.json")
	writeFiles(t, dir, map[string][]byte{"other.json": []byte(strings.Replace(tinyTokenizer, `"world": 1`, `"earth": 1`, 1))})
	replaced := filepath.Join(dir, "replaced.emb")
	if _, err := ConvertWith(ctx, replaced, bare, ConvertSpec{Tokenizer: other}, nil); err != nil {
		t.Fatal(err)
	}
	v, err := tableOf(t, replaced).Vocabulary()
	if err != nil {
		t.Fatal(err)
	}
	if id, err := v.ID("earth"); err != nil || id != 1 {
		t.Errorf(`replaced vocabulary: "earth" -> %d, %v`, id, err)
	}
	if p, _ := provenanceOf(t, replaced); p.Tokenizer == nil || p.Tokenizer.SHA256 == srcProv.Tokenizer.SHA256 {
		t.Errorf("replaced tokenizer metadata %+v", p.Tokenizer)
	}
	gpt2 := gpt2Dir(t, "tokenizer.json")
	out := t.TempDir()
	_, err = ConvertWith(ctx, filepath.Join(out, "t.emb"), src, ConvertSpec{Tokenizer: gpt2}, nil)
	var ie *TokenIDError
	if !errors.As(err, &ie) || ie.ID != 1000 {
		t.Errorf("GPT-2's tokenizer on 1000 rows: %v", err)
	}
	onlyFiles(t, "refused tokenizer", out)

	// Spec errors.
	var se *SpecError
	for _, spec := range []ConvertSpec{{Tokenizer: other, NoTokenizer: true}, {DType: 9}, {Norms: 7}} {
		if _, err := ConvertWith(ctx, filepath.Join(out, "t.emb"), src, spec, nil); !errors.As(err, &se) {
			t.Errorf("%+v: %v; want a *SpecError", spec, err)
		}
	}
}

// TestConvertSubwords checks a word-vector table with fastText subwords:
// its vocabulary and subword rows carry over (converted with the token
// rows), NoTokenizer leaves its words alone, and a tokenizer, which would
// replace its vocabulary, is refused.
func TestConvertSubwords(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "wv.emb")
	fw, err := format.Create(src, format.Layout{Rows: 3, Dim: 4, Vocabulary: true, Subwords: 5, SubwordMinN: 3, SubwordMaxN: 6})
	if err != nil {
		t.Fatal(err)
	}
	vals := func(n int, base float32) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = base + float32(i)/7
		}
		return v
	}
	for _, err := range []error{fw.WriteTokens(vals(12, 1)), fw.WriteStrings([]byte("cat"), []byte("dog"), []byte("gnu")), fw.WriteSubwords(vals(20, -1)), fw.Commit()} {
		if err != nil {
			t.Fatal(err)
		}
	}
	srcCRC := sectionCRCs(t, src)
	keep := filepath.Join(dir, "keep.emb")
	if _, err := ConvertWith(ctx, keep, src, ConvertSpec{NoTokenizer: true}, nil); err != nil {
		t.Fatal(err)
	}
	got := sectionCRCs(t, keep)
	for _, k := range []format.SectionKind{format.SectionTokens, format.SectionVocabulary, format.SectionSubwords} {
		if got[k] != srcCRC[k] {
			t.Errorf("section %s changed", k)
		}
	}
	bf := filepath.Join(dir, "bf16.emb")
	if _, err := ConvertWith(ctx, bf, src, ConvertSpec{DType: format.BF16}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := format.Open(bf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, ok := f.Section(format.SectionSubwords)
	if !ok || s.DType != format.BF16 || s.Rows != 5 {
		t.Fatalf("bf16: subwords section %+v", s)
	}
	if l := f.Layout(); l.SubwordMinN != 3 || l.SubwordMaxN != 6 || !l.Vocabulary {
		t.Errorf("bf16: layout %+v", l)
	}
	tok := filepath.Join(dir, "tok.json")
	if err := os.WriteFile(tok, []byte(tinyTokenizer), 0o644); err != nil {
		t.Fatal(err)
	}
	var se *SpecError
	if _, err := ConvertWith(ctx, filepath.Join(dir, "t.emb"), src, ConvertSpec{Tokenizer: tok}, nil); !errors.As(err, &se) || se.Field != "ConvertSpec.Tokenizer" {
		t.Errorf("a tokenizer for a table with subwords: %v", err)
	}
}
