package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// vocabularyByModel reports whether data is a valid vocabulary section of a
// table of rows rows, by SPEC.md's rules written out independently of
// Vocabulary: fixed fields, offsets, count, distinct strings, and an index
// equal to the one built by inserting the strings in row order.
func vocabularyByModel(data []byte, rows int64) bool {
	le := binary.LittleEndian
	if len(data) < VocabHeaderSize {
		return false
	}
	r, count, slots, blobLen := le.Uint64(data[0:]), le.Uint64(data[8:]), le.Uint64(data[16:]), le.Uint64(data[24:])
	hash, scheme, minN, maxN := le.Uint32(data[32:]), le.Uint32(data[36:]), le.Uint32(data[40:]), le.Uint32(data[44:])
	if r != uint64(rows) || count > r || hash != 1 || !zeros(data[48:64]) {
		return false
	}
	want := uint64(1)
	for want < 2*count {
		want *= 2
	}
	if slots != want || count > blobLen || (count == 0) != (blobLen == 0) {
		return false
	}
	switch scheme {
	case 0:
		if minN != 0 || maxN != 0 {
			return false
		}
	case 1:
		if minN < 1 || minN > maxN || maxN > 64 {
			return false
		}
	default:
		return false
	}
	offs := 64 + 8*(r+1)
	if blobLen > uint64(len(data)) || uint64(len(data)) != offs+8*slots+blobLen {
		return false
	}
	blob := data[offs+8*slots:]
	seen := map[string]bool{}
	var strs [][]byte
	prev := le.Uint64(data[64:])
	if prev != 0 {
		return false
	}
	n := uint64(0)
	for i := uint64(1); i <= r; i++ {
		o := le.Uint64(data[64+8*i:])
		if o < prev || o > blobLen {
			return false
		}
		str := blob[prev:o]
		if len(str) > 0 {
			if seen[string(str)] {
				return false
			}
			seen[string(str)] = true
			n++
		}
		strs = append(strs, str)
		prev = o
	}
	if prev != blobLen || n != count {
		return false
	}
	index := make([]uint64, slots)
	k := 0
	for slots>>k > 1 {
		k++
	}
	for id, str := range strs {
		if len(str) == 0 {
			continue
		}
		x := VocabHash(str)
		p := uint64(0)
		if k > 0 {
			p = x >> (64 - k)
		}
		for index[p] != 0 {
			p = (p + 1) % slots
		}
		index[p] = x<<32 | uint64(id+1)
	}
	for p, e := range index {
		if le.Uint64(data[offs+8*uint64(p):]) != e {
			return false
		}
	}
	return true
}

// tokenizerByModel reports whether data is a valid tokenizer section: its
// fixed fields, a zstd stream that decompresses to raw_length bytes, and a
// document that passes ValidateTokenizerJSON.
func tokenizerByModel(data []byte) bool {
	le := binary.LittleEndian
	if len(data) <= 16 || le.Uint32(data) != 1 || le.Uint32(data[4:]) != 1 {
		return false
	}
	raw := le.Uint64(data[8:])
	if raw == 0 || raw > MaxTokenizerSize {
		return false
	}
	// A stream decoder, read up to one byte past raw_length: another path
	// through the zstd package than the reader's DecodeAll.
	d, err := zstd.NewReader(bytes.NewReader(data[16:]), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(MaxTokenizerSize))
	if err != nil {
		return false
	}
	defer d.Close()
	doc, err := io.ReadAll(io.LimitReader(d, int64(raw)+1))
	return err == nil && uint64(len(doc)) == raw && ValidateTokenizerJSON(doc) == nil
}

// normsByModel reports whether data, the norms section of file b with
// header h, holds the norm of every token row, computed by independentNorm.
func normsByModel(h *Header, b, data []byte) bool {
	tok := h.Tokens()
	vals := make([]float32, h.Dim)
	for row := range h.Rows {
		DecodeRow(vals, b[tok.Offset+row*tok.RowStride:], h.DType)
		want := independentNorm(vals, h.TokenScale, h.ComputeDType)
		if binary.LittleEndian.Uint32(data[4*row:]) != math.Float32bits(want) {
			return false
		}
	}
	return true
}

// checkSectionReads reads the 1.1 sections of a file NewReader accepted,
// which must never panic or loop: every string both ways, the tokenizer
// document, the norms. When the file verifies (verified), every read must
// succeed and every string must come back to its row.
func checkSectionReads(t *testing.T, r *Reader, verified bool) {
	t.Helper()
	if info, ok := r.VocabInfo(); ok {
		v, err := r.Vocabulary()
		if err != nil {
			t.Fatalf("Vocabulary of an accepted file: %v", err)
		}
		if v.VocabInfo != info {
			t.Fatalf("Vocabulary %+v, NewReader read %+v", v.VocabInfo, info)
		}
		for id := range v.Len() {
			s, err := v.String(id)
			if err != nil {
				if verified || !errors.Is(err, ErrBadVocabulary) {
					t.Fatalf("String(%d) = %v", id, err)
				}
				continue
			}
			got, err := v.ID(s)
			switch {
			case verified && len(s) > 0 && (err != nil || got != id):
				t.Fatalf("ID(String(%d) = %q) = %d, %v", id, s, got, err)
			case err != nil && !errors.Is(err, ErrNotInVocabulary) && !errors.Is(err, ErrBadVocabulary):
				t.Fatalf("ID(%q) = %v", s, err)
			}
		}
	}
	if _, ok := r.TokenizerInfo(); ok {
		if _, err := r.TokenizerJSON(); (err != nil && verified) || (err != nil && !errors.Is(err, ErrBadTokenizer)) {
			t.Fatalf("TokenizerJSON = %v (verified %v)", err, verified)
		}
	}
	if _, ok := r.Section(SectionNorms); ok {
		if err := r.ReadNorms(make([]float32, r.Rows), 0); err != nil {
			t.Fatalf("ReadNorms: %v", err)
		}
	}
}

// FuzzVocabulary reads bytes as a vocabulary section of a table of rows
// rows and looks query up in it, as the store does on a mapped table. What
// NewVocabulary accepts must answer every lookup (by row and by string)
// with a string, ErrNotInVocabulary or a *FormatError wrapping
// ErrBadVocabulary, never a panic or an endless probe; Check must agree with
// vocabularyByModel; and on a vocabulary that passes Check, every string
// comes back to its row and query is found exactly when a row holds it.
// Seeds: the vocabulary sections of the fixtures in testdata/format, and
// the corpus in testdata/fuzz/FuzzVocabulary.
func FuzzVocabulary(f *testing.F) {
	for _, c := range fixtureCases(f) {
		h, err := ParseHeader(c.file, int64(len(c.file)))
		if err != nil {
			continue
		}
		if s, ok := h.Section(SectionVocabulary); ok {
			f.Add(c.file[s.Offset:s.End()], uint32(h.Rows), []byte("cat"))
			f.Add(c.file[s.Offset:s.End()], uint32(h.Rows), []byte("dog"))
		}
	}
	for _, a := range loadCorpus(f, "FuzzVocabulary") {
		if len(a) != 3 {
			f.Fatalf("FuzzVocabulary corpus entry with %d arguments", len(a))
		}
		f.Add(corpusArg[[]byte](f, a, 0), corpusArg[uint32](f, a, 1), corpusArg[[]byte](f, a, 2))
	}
	f.Fuzz(func(t *testing.T, data []byte, rows uint32, query []byte) {
		if rows == 0 {
			return // the header's rows are at least 1
		}
		v, err := NewVocabulary(data, 4096, int64(rows))
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || !errors.Is(err, ErrBadVocabulary) {
				t.Fatalf("NewVocabulary error %v is not a *FormatError of ErrBadVocabulary", err)
			}
			return
		}
		checked := v.Check()
		if (checked == nil) != vocabularyByModel(data, int64(rows)) {
			t.Fatalf("Check = %v; the rules say the opposite", checked)
		}
		if checked != nil && !errors.Is(checked, ErrBadVocabulary) {
			t.Fatalf("Check = %v", checked)
		}
		lookup := func(q []byte) int64 {
			id, err := v.ID(q)
			switch {
			case err == nil:
				s, err := v.String(id)
				if err != nil || !bytes.Equal(s, q) {
					t.Fatalf("ID(%q) = %d, whose string is %q, %v", q, id, s, err)
				}
			case errors.Is(err, ErrNotInVocabulary):
				if checked == nil {
					for i := range v.Len() {
						if s, _ := v.String(i); len(q) > 0 && bytes.Equal(s, q) {
							t.Fatalf("ID(%q) not found; row %d holds it", q, i)
						}
					}
				}
			case errors.Is(err, ErrBadVocabulary):
				if checked == nil {
					t.Fatalf("ID(%q) = %v on a vocabulary that passed Check", q, err)
				}
			default:
				t.Fatalf("ID(%q) = %v", q, err)
			}
			return id
		}
		lookup(query)
		for i := range v.Len() {
			s, err := v.String(i)
			if err != nil {
				if checked == nil || !errors.Is(err, ErrBadVocabulary) {
					t.Fatalf("String(%d) = %v (Check: %v)", i, err, checked)
				}
				continue
			}
			if id := lookup(s); checked == nil && len(s) > 0 && id != i {
				t.Fatalf("ID(String(%d)) = %d", i, id)
			}
		}
	})
}
