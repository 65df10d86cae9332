package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"strings"
	"testing"
)

// FuzzTableHeader feeds ParseHeader a header and a stored file size, which
// may be anything up to 2^63-1 without the fuzzer holding that many bytes:
// the size is the header's own file_size plus sizeDelta. A header shorter
// than HeaderSize is padded with zeros, so that mutations spend themselves
// on the fields and the section table rather than on reserved bytes; with
// fixCRC the header checksum is recomputed first, so that they reach every
// rule after it. Whatever parses must satisfy every placement rule and encode
// back to the same bytes; whatever does not must fail with a *FormatError
// naming a rule. Seeds: the headers of the fixtures in testdata/format, the
// limit cases, and the corpus in testdata/fuzz/FuzzTableHeader.
func FuzzTableHeader(f *testing.F) {
	for _, c := range fixtureCases(f) {
		hdr := c.file[:min(len(c.file), HeaderSize)]
		delta := int64(len(c.file))
		if len(hdr) == HeaderSize {
			delta -= int64(binary.LittleEndian.Uint64(hdr[offFileSize:]))
			f.Add(bytes.Clone(hdr[:offReserved2]), delta, true)
		}
		f.Add(hdr, delta, false)
	}
	for _, c := range limitCases(f) {
		f.Add(c.header[:offReserved2], int64(0), true)
	}
	for _, a := range loadCorpus(f, "FuzzTableHeader") {
		if len(a) != 3 {
			f.Fatalf("FuzzTableHeader corpus entry with %d arguments", len(a))
		}
		f.Add(corpusArg[[]byte](f, a, 0), corpusArg[int64](f, a, 1), corpusArg[bool](f, a, 2))
	}
	f.Fuzz(func(t *testing.T, hdr []byte, sizeDelta int64, fixCRC bool) {
		b := make([]byte, max(len(hdr), HeaderSize))
		copy(b, hdr)
		if fixCRC {
			binary.LittleEndian.PutUint32(b[offHeaderCRC:], CRC(b[:offHeaderCRC]))
		}
		size := int64(binary.LittleEndian.Uint64(b[offFileSize:])) + sizeDelta // may wrap negative
		h, err := ParseHeader(b, size)
		if err != nil {
			checkRuleError(t, err, max(size, HeaderSize))
			return
		}
		checkHeader(t, h, b, size)
	})
}

// FuzzTableReader opens bytes as a table with NewReader, and verifies what
// opens. With compact, the input is the header's first bytes (fields and
// section table, up to the reserved bytes that follow it) and then what
// follows the header: the reserved bytes are zeros, so that mutations spend
// themselves on fields, sections and padding. With fix every section's
// checksum and the header checksum are recomputed first, so that mutations
// reach the structural rules, the metadata rules and the padding checks.
// Seeds: the fixtures in testdata/format, in both forms, and the corpus in
// testdata/fuzz/FuzzTableReader.
func FuzzTableReader(f *testing.F) {
	for _, c := range fixtureCases(f) {
		f.Add(c.file, false, false)
		if len(c.file) >= HeaderSize {
			f.Add(append(bytes.Clone(c.file[:offReserved2]), c.file[HeaderSize:]...), true, true)
		}
	}
	for _, a := range loadCorpus(f, "FuzzTableReader") {
		if len(a) != 3 {
			f.Fatalf("FuzzTableReader corpus entry with %d arguments", len(a))
		}
		f.Add(corpusArg[[]byte](f, a, 0), corpusArg[bool](f, a, 1), corpusArg[bool](f, a, 2))
	}
	f.Fuzz(func(t *testing.T, in []byte, compact, fix bool) {
		b := bytes.Clone(in)
		if compact && len(in) > offReserved2 {
			b = make([]byte, HeaderSize-offReserved2+len(in))
			copy(b, in[:offReserved2])
			copy(b[HeaderSize:], in[offReserved2:])
		}
		if fix {
			fixCRCs(b)
		}
		r, err := NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			checkRuleError(t, err, int64(len(b)))
			return
		}
		checkHeader(t, &r.Header, b, int64(len(b)))
		if s, ok := r.Section(SectionMetadata); ok {
			if !bytes.Equal(r.Metadata(), b[s.Offset:s.End()]) {
				t.Fatal("Metadata() is not the metadata section's bytes")
			}
			if err := ValidateMetadata(r.Metadata()); err != nil || CRC(r.Metadata()) != s.CRC {
				t.Fatalf("NewReader accepted metadata that fails its rules: %v", err)
			}
		} else if r.Metadata() != nil {
			t.Fatal("Metadata() without a metadata section")
		}

		// Verify agrees with an independent check of the same rules.
		checks, err := r.Verify()
		if got, want := err == nil, verifiesByModel(&r.Header, b); got != want {
			t.Fatalf("Verify = %v, %+v; the rules say ok=%v", err, checks, want)
		}
		for _, c := range checks {
			if c.Err != nil && !errors.Is(c.Err, ErrChecksum) && !errors.Is(c.Err, ErrPaddingNonZero) &&
				!errors.Is(c.Err, ErrBadVocabulary) && !errors.Is(c.Err, ErrBadTokenizer) && !errors.Is(c.Err, ErrBadNorms) {
				t.Fatalf("check %s failed with %v", c.Name, c.Err)
			}
		}
		checkSectionReads(t, r, err == nil)

		// Every row of every known row section reads back as DecodeRow
		// decodes its bytes. Row sections lie inside the input, so this
		// is bounded by its size.
		for _, s := range r.Sections {
			if !s.Kind.IsRows() || !s.Kind.Known() {
				continue
			}
			got := make([]float32, s.Rows*int64(r.Dim))
			if err := r.ReadRows(s, 0, s.Rows, got); err != nil {
				t.Fatalf("ReadRows of %s: %v", s.Kind, err)
			}
			want := make([]float32, r.Dim)
			for i := range s.Rows {
				DecodeRow(want, b[s.Offset+i*s.RowStride:], s.DType)
				if !equalBits(got[i*int64(r.Dim):(i+1)*int64(r.Dim)], want) {
					t.Fatalf("%s row %d reads back differently", s.Kind, i)
				}
			}
			if err := r.ReadRows(s, s.Rows, 1, want); err == nil {
				t.Fatalf("ReadRows past the end of %s succeeded", s.Kind)
			}
		}
	})
}

// checkRuleError checks that err is a *FormatError wrapping one of the
// sentinel errors, at an offset inside the file, with a message that says
// where.
func checkRuleError(t *testing.T, err error, size int64) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FormatError", err, err)
	}
	known := false
	for _, s := range allSentinels {
		if fe.Err == s {
			known = true
		}
	}
	if !known || !errors.Is(err, fe.Err) {
		t.Fatalf("error %v wraps %v, not one of the format's rules", err, fe.Err)
	}
	if fe.Offset < 0 || fe.Offset > size {
		t.Fatalf("error %v: offset %d outside the %d-byte file", err, fe.Offset, size)
	}
	if !strings.Contains(err.Error(), "at byte") {
		t.Fatalf("error %q does not say where", err)
	}
}

// checkHeader checks a header ParseHeader accepted against every rule of
// SPEC.md, independently of the reader's code, and checks that it encodes
// back to the bytes it was parsed from.
func checkHeader(t *testing.T, h *Header, b []byte, size int64) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("accepted header breaks a rule: "+format, args...)
	}
	switch {
	case h.FileSize != size:
		fail("file_size %d, stored size %d", h.FileSize, size)
	case h.Major != Major:
		fail("major %d", h.Major)
	case h.RequiredFeatures&^KnownRequiredFeatures != 0:
		fail("required features %#x", h.RequiredFeatures)
	case h.Rows < 1 || h.Rows > MaxRows || h.Dim < 1 || h.Dim > MaxDim:
		fail("shape %d x %d", h.Rows, h.Dim)
	case !h.DType.Valid():
		fail("dtype %d", h.DType)
	case h.RowStride%RowAlign != 0 || h.RowStride < h.DType.RowSize(h.Dim) || h.RowStride > RowStride(h.DType, h.Dim)+MaxStridePadding:
		fail("row_stride %d for %d %s values", h.RowStride, h.Dim, h.DType)
	case h.Alignment < MinAlignment || h.Alignment > MaxAlignment || bits.OnesCount64(uint64(h.Alignment)) != 1:
		fail("alignment %d", h.Alignment)
	case math.IsNaN(float64(h.TokenScale)) || math.IsInf(float64(h.TokenScale), 0) || h.TokenScale == 0:
		fail("token_scale %v", h.TokenScale)
	case h.ComputeDType != 0 && h.ComputeDType != F16 && h.ComputeDType != BF16:
		fail("compute_dtype %d", h.ComputeDType)
	case len(h.Sections) < 1 || len(h.Sections) > MaxSections:
		fail("%d sections", len(h.Sections))
	case h.Sections[0].Kind != SectionTokens:
		fail("first section %s", h.Sections[0].Kind)
	}
	want := alignUp(HeaderSize, h.Alignment)
	kinds := map[SectionKind]bool{}
	for i, s := range h.Sections {
		switch {
		case s.Kind == 0 || kinds[s.Kind]:
			fail("section %d kind %d", i, s.Kind)
		case s.Flags&^FlagRequired != 0 || (!s.Kind.Known() && s.Flags&FlagRequired != 0):
			fail("section %d flags %#x", i, s.Flags)
		case s.Offset != want:
			fail("section %d at %d, want %d", i, s.Offset, want)
		case s.Length <= 0 || s.Length > size-s.Offset:
			fail("section %d length %d at %d in %d bytes", i, s.Length, s.Offset, size)
		}
		kinds[s.Kind] = true
		if s.Kind.IsRows() {
			if s.Kind == SectionSubwords && (s.Rows < 1 || s.Rows > MaxRows || !s.DType.Valid()) {
				fail("subwords section %+v", s)
			}
			hi, lo := bits.Mul64(uint64(s.Rows), uint64(s.RowStride))
			if hi != 0 || lo != uint64(s.Length) || s.RowStride%RowAlign != 0 || s.RowStride < s.DType.RowSize(h.Dim) {
				fail("section %d: %d rows of stride %d in %d bytes", i, s.Rows, s.RowStride, s.Length)
			}
		}
		switch s.Kind {
		case SectionTokens:
			if s.Rows != h.Rows || s.RowStride != h.RowStride || s.DType != h.DType {
				fail("token section %+v disagrees with the header", s)
			}
		case SectionPositions:
			if s.Rows < 1 || s.Rows > MaxPositions || s.DType != F32 {
				fail("positional section %+v", s)
			}
		case SectionMetadata:
			if s.Length > MaxMetadataSize {
				fail("metadata of %d bytes", s.Length)
			}
		case SectionNorms:
			if s.Length != 4*h.Rows {
				fail("norms of %d bytes for %d rows", s.Length, h.Rows)
			}
		case SectionVocabulary:
			if s.Length < VocabHeaderSize+8*(h.Rows+1)+8 {
				fail("vocabulary of %d bytes for %d rows", s.Length, h.Rows)
			}
		case SectionTokenizer:
			if s.Length <= TokenizerHeader {
				fail("tokenizer of %d bytes", s.Length)
			}
		}
		if s.Kind.Known() && !s.Kind.IsRows() && (s.Rows != 0 || s.RowStride != 0 || s.DType != 0) {
			fail("section %d (%s) has row fields %+v", i, s.Kind, s)
		}
		if s.Kind == SectionSubwords && !kinds[SectionVocabulary] {
			if _, ok := h.Section(SectionVocabulary); !ok {
				fail("subwords without a vocabulary")
			}
		}
		want = alignUp(s.End(), h.Alignment)
	}
	if last := h.Sections[len(h.Sections)-1]; last.End() != size {
		fail("last section ends at %d, file has %d bytes", last.End(), size)
	}
	if p := h.Positions(); (p == 0 && h.PositionOffset != 0) || (p > 0 && h.PositionOffset >= p) {
		fail("position_offset %d with %d positions", h.PositionOffset, p)
	}

	// Decoding loses nothing but the row fields of unknown sections, which
	// mean nothing to this reader.
	orig := bytes.Clone(b[:HeaderSize])
	for i, s := range h.Sections {
		if !s.Kind.Known() {
			clear(orig[sec(i, secOffRows):sec(i, secOffCRC)])
		}
	}
	binary.LittleEndian.PutUint32(orig[offHeaderCRC:], CRC(orig[:offHeaderCRC]))
	if enc := h.Encode(); !bytes.Equal(enc, orig) {
		i := 0
		for enc[i] == orig[i] {
			i++
		}
		t.Fatalf("header encodes back differently from byte %d", i)
	}
}

// verifiesByModel reports whether a file NewReader accepted passes
// verification, computed from SPEC.md's rules rather than by Verify: every
// section's CRC matches, row padding in known row sections is zero, padding
// between sections is zero, and the content of the vocabulary, tokenizer
// and norms sections follows their rules (vocabularyByModel,
// tokenizerByModel, normsByModel).
func verifiesByModel(h *Header, b []byte) bool {
	for i, s := range h.Sections {
		data := b[s.Offset:s.End()]
		if CRC(data) != s.CRC {
			return false
		}
		switch s.Kind {
		case SectionVocabulary:
			if !vocabularyByModel(data, h.Rows) {
				return false
			}
		case SectionTokenizer:
			if !tokenizerByModel(data) {
				return false
			}
		case SectionNorms:
			if !normsByModel(h, b, data) {
				return false
			}
		}
		if s.Kind.IsRows() && s.Kind.Known() {
			rowSize := s.DType.RowSize(h.Dim)
			for r := int64(0); r < s.Rows; r++ {
				if !zeros(data[r*s.RowStride+rowSize : (r+1)*s.RowStride]) {
					return false
				}
			}
		}
		if i+1 < len(h.Sections) && !zeros(b[s.End():h.Sections[i+1].Offset]) {
			return false
		}
	}
	return true
}

func zeros(b []byte) bool { return bytes.Count(b, []byte{0}) == len(b) }
