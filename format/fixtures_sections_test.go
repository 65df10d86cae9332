package format

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// sectionsLayout is the layout of the base fixture of the 1.1 sections: a
// token table, positions, subwords, norms, a vocabulary, a tokenizer and
// metadata, in that order, 64-byte aligned.
var sectionsLayout = Layout{Rows: 5, Dim: 3, Positions: 2, Vocabulary: true, Norms: true,
	Subwords: 4, SubwordMinN: 2, SubwordMaxN: 4, Alignment: 64}

// sectionsStrings are its strings: row 2 has none.
var sectionsStrings = []string{"the", "cat", "", "sat", "on"}

// tokenizerSection returns a tokenizer section with the given raw_length
// and compressed bytes, as the writer would store them whatever they hold.
func tokenizerSection(raw uint64, payload []byte) []byte {
	b := make([]byte, TokenizerHeader)
	binary.LittleEndian.PutUint32(b[tokOffFormat:], TokenizerHFJSON)
	binary.LittleEndian.PutUint32(b[tokOffCompression:], CompressionZstd)
	binary.LittleEndian.PutUint64(b[tokOffRawLength:], raw)
	return append(b, payload...)
}

func zstdBytes(doc string) []byte {
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	defer enc.Close()
	return enc.EncodeAll([]byte(doc), nil)
}

// sectionFixtureCases returns the fixtures of the 1.1 sections: valid
// tables, and for every rule of SPEC.md about them a file that breaks it
// and only it (checksums matching unless the checksum is the point).
func sectionFixtureCases(t testing.TB) []damageCase {
	t.Helper()
	le := binary.LittleEndian
	build := func(l Layout, in sectionsInput) []byte { b, _, _, _ := buildSections(t, l, in); return b }
	baseIn := sectionsInput{strs: sectionsStrings, tokenizer: testTokenizer, metadata: testMetadata}
	base := build(sectionsLayout, baseIn)
	secs := sectionsOf(t, base)
	sub, norms, voc, tok := secs[2], secs[3], secs[4], secs[5]
	if sub.Kind != SectionSubwords || norms.Kind != SectionNorms || voc.Kind != SectionVocabulary || tok.Kind != SectionTokenizer {
		t.Fatalf("base fixture sections %+v", secs)
	}
	// Offsets inside the vocabulary: 6 offsets, 8 slots, then the blob
	// "thecatsaton" (offsets 0 3 6 6 9 11).
	vIdx, vBlob := VocabHeaderSize+8*6, VocabHeaderSize+8*6+8*8
	// fixed edits a section's bytes and fixes every checksum: what breaks
	// is the rule, not a checksum.
	fixed := func(file []byte, s Section, fn func(b []byte)) []byte {
		b := bytes.Clone(file)
		fn(b[s.Offset:s.End()])
		return fixCRCs(b)
	}
	inVoc := func(fn func(b []byte)) []byte { return fixed(base, voc, fn) }
	inTok := func(fn func(b []byte)) []byte { return fixed(base, tok, fn) }
	entry := func(i, field int) int { return sec(i, field) }
	m := func(fns ...func([]byte)) []byte { return mutateAll(base, fns...) }
	flip := func(off int64) []byte { b := bytes.Clone(base); b[off] ^= 0x08; return b }
	withTok := func(sec []byte) []byte {
		in := baseIn
		in.tokenizer, in.tokSec = "", sec
		return build(sectionsLayout, in)
	}
	// A table whose rows hold a NaN and an infinity: their norms are the
	// canonical NaN and +Inf.
	nanIn := sectionsInput{tokens: []float32{1, 2, 2, float32(math.NaN()), 0, 1, float32(math.Inf(-1)), 1, 1}}
	nanLayout := Layout{Rows: 3, Dim: 3, Norms: true, Alignment: 64}
	nanRows := build(nanLayout, nanIn)
	nanNorms := sectionsOf(t, nanRows)[1]
	// swap exchanges the first two occupied index slots.
	swap := func(b []byte) {
		var at []int
		for p := vIdx; p < vBlob; p += 8 {
			if le.Uint64(b[p:]) != 0 {
				at = append(at, p)
			}
		}
		x, y := le.Uint64(b[at[0]:]), le.Uint64(b[at[1]:])
		le.PutUint64(b[at[0]:], y)
		le.PutUint64(b[at[1]:], x)
	}
	// extra writes an entry for row 0 into the first empty slot.
	extra := func(b []byte) {
		for p := vIdx; p < vBlob; p += 8 {
			if le.Uint64(b[p:]) == 0 {
				le.PutUint64(b[p:], vocabHash("the")&0xffffffff<<32|1)
				return
			}
		}
	}
	tagFlip := func(b []byte) {
		for p := vIdx; p < vBlob; p += 8 {
			if le.Uint64(b[p:]) != 0 {
				b[p+5] ^= 1
				return
			}
		}
	}

	return []damageCase{
		{"valid-sections-all", base, nil, nil},
		{"valid-vocabulary-only", build(Layout{Rows: 3, Dim: 2, Vocabulary: true, Alignment: 64}, sectionsInput{strs: []string{"a", "", "\xff\x00b"}}), nil, nil},
		{"valid-vocabulary-without-strings", build(Layout{Rows: 2, Dim: 2, Vocabulary: true, Alignment: 64}, sectionsInput{strs: []string{"", ""}}), nil, nil},
		{"valid-norms-int8-scaled-bf16-compute", build(Layout{Rows: 3, Dim: 5, DType: Int8, TokenScale: 2, ComputeDType: BF16, Norms: true, Alignment: 64}, sectionsInput{}), nil, nil},
		{"valid-norms-nan-inf-rows", nanRows, nil, nil},
		{"valid-tokenizer-only", build(Layout{Rows: 2, Dim: 2, Alignment: 64}, sectionsInput{tokenizer: testTokenizer}), nil, nil},
		{"valid-tokenizer-two-frames", withTok(tokenizerSection(uint64(len(testTokenizer)), append(zstdBytes(testTokenizer[:9]), zstdBytes(testTokenizer[9:])...))), nil, nil},

		// Vocabulary: fixed fields, checked on open.
		{"vocabulary-rows-disagree", inVoc(func(b []byte) { le.PutUint64(b[vocOffRows:], 6) }), ErrBadVocabulary, nil},
		{"vocabulary-count-over-rows", inVoc(func(b []byte) { le.PutUint64(b[vocOffCount:], 6) }), ErrBadVocabulary, nil},
		{"vocabulary-slots-not-canonical", inVoc(func(b []byte) { le.PutUint64(b[vocOffSlots:], 16) }), ErrBadVocabulary, nil},
		{"vocabulary-slots-not-power-of-two", inVoc(func(b []byte) { le.PutUint64(b[vocOffSlots:], 7) }), ErrBadVocabulary, nil},
		{"vocabulary-blob-past-section", inVoc(func(b []byte) { le.PutUint64(b[vocOffBlob:], 1<<40) }), ErrBadVocabulary, nil},
		{"vocabulary-blob-shorter-than-count", inVoc(func(b []byte) { le.PutUint64(b[vocOffBlob:], 3) }), ErrBadVocabulary, nil},
		{"vocabulary-length-mismatch", inVoc(func(b []byte) { le.PutUint64(b[vocOffBlob:], 10) }), ErrBadVocabulary, nil},
		{"vocabulary-hash-unknown", inVoc(func(b []byte) { le.PutUint32(b[vocOffHash:], 2) }), ErrBadVocabulary, nil},
		{"vocabulary-subword-scheme-unknown", inVoc(func(b []byte) { le.PutUint32(b[vocOffSubwords:], 2) }), ErrBadVocabulary, nil},
		{"vocabulary-minn-0", inVoc(func(b []byte) { le.PutUint32(b[vocOffMinN:], 0) }), ErrBadVocabulary, nil},
		{"vocabulary-maxn-over-limit", inVoc(func(b []byte) { le.PutUint32(b[vocOffMaxN:], MaxSubwordN+1) }), ErrBadVocabulary, nil},
		{"vocabulary-minn-over-maxn", inVoc(func(b []byte) { le.PutUint32(b[vocOffMinN:], 5) }), ErrBadVocabulary, nil},
		{"vocabulary-reserved", inVoc(func(b []byte) { b[vocOffReserved+2] = 1 }), ErrBadVocabulary, nil},
		{"vocabulary-first-offset", inVoc(func(b []byte) { le.PutUint64(b[VocabHeaderSize:], 1) }), ErrBadVocabulary, nil},
		{"vocabulary-last-offset", inVoc(func(b []byte) { le.PutUint64(b[VocabHeaderSize+8*5:], 10) }), ErrBadVocabulary, nil},
		{"vocabulary-entry-row-fields", m(put64(entry(4, secOffRows), 1)), ErrBadSectionTable, nil},
		{"vocabulary-entry-too-short", m(put64(entry(4, secOffLength), 100)), ErrBadVocabulary, nil},
		{"vocabulary-scheme-without-subwords-section", m(put32(entry(2, secOffKind), 12)), ErrInconsistent, nil},
		{"subwords-without-vocabulary-scheme", inVoc(func(b []byte) {
			le.PutUint32(b[vocOffSubwords:], 0)
			le.PutUint64(b[vocOffMinN:], 0)
		}), ErrInconsistent, nil},
		{"subwords-without-vocabulary", m(put32(entry(4, secOffKind), 12)), ErrInconsistent, nil},
		{"subwords-rows-0", m(put64(entry(2, secOffRows), 0)), ErrBadShape, nil},
		{"subwords-dtype-invalid", m(put32(entry(2, secOffDType), 9)), ErrBadDType, nil},
		{"subwords-stride-too-small", m(put64(entry(2, secOffRowStride), 0)), ErrBadStride, nil},
		{"subwords-length-long", m(put64(entry(2, secOffLength), uint64(sub.Length+64))), ErrInconsistent, nil},
		{"norms-length-short", m(put64(entry(3, secOffLength), uint64(norms.Length-4))), ErrBadNorms, nil},
		{"norms-entry-row-fields", m(put32(entry(3, secOffDType), uint32(F32))), ErrBadSectionTable, nil},
		{"tokenizer-format-2", inTok(func(b []byte) { le.PutUint32(b[tokOffFormat:], 2) }), ErrBadTokenizer, nil},
		{"tokenizer-compression-0", inTok(func(b []byte) { le.PutUint32(b[tokOffCompression:], 0) }), ErrBadTokenizer, nil},
		{"tokenizer-raw-length-0", inTok(func(b []byte) { le.PutUint64(b[tokOffRawLength:], 0) }), ErrBadTokenizer, nil},
		{"tokenizer-raw-length-over-limit", inTok(func(b []byte) { le.PutUint64(b[tokOffRawLength:], MaxTokenizerSize+1) }), ErrBadTokenizer, nil},
		{"tokenizer-entry-too-short", m(put64(entry(5, secOffLength), TokenizerHeader)), ErrBadTokenizer, nil},

		// Vocabulary content: the file opens, verification fails.
		{"vocabulary-offsets-decreasing", inVoc(func(b []byte) { le.PutUint64(b[VocabHeaderSize+8:], 7) }), nil, ErrBadVocabulary},
		{"vocabulary-count-wrong", inVoc(func(b []byte) { le.PutUint64(b[vocOffCount:], 3) }), nil, ErrBadVocabulary},
		{"vocabulary-duplicate-string", inVoc(func(b []byte) { copy(b[vBlob+3:], "the") }), nil, ErrBadVocabulary},
		{"vocabulary-index-stale", inVoc(func(b []byte) { copy(b[vBlob+6:], "sit") }), nil, ErrBadVocabulary},
		{"vocabulary-index-swapped", inVoc(swap), nil, ErrBadVocabulary},
		{"vocabulary-index-extra-entry", inVoc(extra), nil, ErrBadVocabulary},
		{"vocabulary-index-tag-wrong", inVoc(tagFlip), nil, ErrBadVocabulary},
		{"vocabulary-bit-flip", flip(voc.End() - 2), nil, ErrChecksum},

		// Tokenizer content.
		{"tokenizer-raw-length-short", inTok(func(b []byte) { le.PutUint64(b[tokOffRawLength:], uint64(len(testTokenizer)-1)) }), nil, ErrBadTokenizer},
		{"tokenizer-not-zstd", withTok(tokenizerSection(20, []byte("this is not zstd...."))), nil, ErrBadTokenizer},
		{"tokenizer-not-json", withTok(tokenizerSection(9, zstdBytes("not json!"))), nil, ErrBadTokenizer},
		{"tokenizer-duplicate-key", withTok(tokenizerSection(13, zstdBytes(`{"a":1,"a":2}`))), nil, ErrBadTokenizer},
		{"tokenizer-bit-flip", flip(tok.Offset + TokenizerHeader + 4), nil, ErrChecksum},

		// Norms and subwords content.
		{"norms-wrong-value", fixed(base, norms, func(b []byte) { b[4] ^= 1 }), nil, ErrBadNorms},
		{"norms-nan-payload", fixed(nanRows, nanNorms, func(b []byte) { b[4] |= 1 }), nil, ErrBadNorms},
		{"norms-bit-flip", flip(norms.Offset + 9), nil, ErrChecksum},
		{"subwords-bit-flip", flip(sub.Offset + 5), nil, ErrChecksum},
		{"subwords-row-padding-with-matching-crc", fixed(base, sub, func(b []byte) { b[sub.RowStride+20] = 3 }), nil, ErrPaddingNonZero},
	}
}
