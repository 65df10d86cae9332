package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"testing"
)

// sparseFile is an io.ReaderAt over a file of any claimed size that holds a
// header, optional pieces of content, and zeros elsewhere: a crafted 4 KiB
// header can claim petabytes without the test holding them.
type sparseFile struct {
	size   int64
	pieces map[int64][]byte // content at offset; the header is at 0
	read   int64            // bytes served
}

func (f *sparseFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= f.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), f.size-off))
	clear(p[:n])
	for at, b := range f.pieces {
		lo, hi := max(at, off), min(at+int64(len(b)), off+int64(n))
		if lo < hi {
			copy(p[lo-off:hi-off], b[lo-at:hi-at])
		}
	}
	f.read += int64(n)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// A limitCase is a crafted header that claims sizes at or past a limit of
// SPEC.md ("Limits"), and what the reader must do with it: accept it (want
// nil) or refuse it for a rule, allocating at most maxAlloc bytes either way.
type limitCase struct {
	name     string
	header   []byte
	file     *sparseFile
	want     error
	maxAlloc int64
}

// smallAlloc is what opening any header may allocate: the header buffer, the
// decoded header and its sections, error values.
const smallAlloc = 64 << 10

// limitCases returns the crafted headers. Their sections hold zeros (and
// the metadata a valid document), so their CRCs are those of zeros: nothing
// here reads the row sections.
func limitCases(t testing.TB) []limitCase {
	t.Helper()
	largest := Layout{Rows: MaxRows, Dim: MaxDim, Positions: MaxPositions}
	var cases []limitCase
	add := func(name string, l Layout, mdLen int64, want error, maxAlloc int64, edit func(h *Header)) {
		h, err := l.Header(mdLen)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		pieces := map[int64][]byte{}
		if md, ok := h.Section(SectionMetadata); ok {
			doc := bigMetadata(md.Length)
			pieces[md.Offset] = doc
			h.Sections[len(h.Sections)-1].CRC = CRC(doc)
		}
		if edit != nil {
			edit(h)
		}
		hdr := h.Encode()
		pieces[0] = hdr
		cases = append(cases, limitCase{name, hdr, &sparseFile{size: h.FileSize, pieces: pieces}, want, maxAlloc})
	}
	addSections := func(h *Header, n int, length int64) {
		off := h.Sections[len(h.Sections)-1].End()
		for i := range n {
			off = alignUp(off, h.Alignment)
			h.Sections = append(h.Sections, Section{Kind: SectionKind(100 + i), Offset: off, Length: length})
			off += length
		}
		h.FileSize = off
	}

	add("rows 2^32-1 x dim 65536 f32 with 2^24 positions", largest, 0, nil, smallAlloc, nil)
	add("rows 2^32-1 x dim 65536 int8 at the largest stride", Layout{Rows: MaxRows, Dim: MaxDim, DType: Int8}, 0, nil, smallAlloc, func(h *Header) {
		h.RowStride += MaxStridePadding
		h.Sections[0].RowStride, h.Sections[0].Length = h.RowStride, h.Rows*h.RowStride
		h.FileSize = h.Sections[0].End()
	})
	// A metadata document is read whole and parsed by encoding/json, whose
	// decoder buffers it and copies its strings: several times its size,
	// bounded by the limit, never by what a header claims.
	add("metadata of 1 MiB", largest, MaxMetadataSize, nil, 8*MaxMetadataSize, nil)
	add("metadata of 1 MiB + 1", largest, MaxMetadataSize, ErrBadMetadata, smallAlloc, func(h *Header) {
		h.Sections[len(h.Sections)-1].Length++
		h.FileSize++
	})
	add("metadata of 2^62 bytes", largest, MaxMetadataSize, ErrBadMetadata, smallAlloc, func(h *Header) {
		h.Sections[len(h.Sections)-1].Length = 1 << 62
		h.FileSize = h.Sections[len(h.Sections)-1].End()
	})
	add("16 sections of 2^40 bytes at 2 MiB alignment", Layout{Rows: MaxRows, Dim: MaxDim, Alignment: MaxAlignment}, 0, nil, smallAlloc, func(h *Header) {
		addSections(h, MaxSections-1, 1<<40)
	})
	add("17 sections", largest, 0, ErrBadSectionTable, smallAlloc, func(h *Header) {
		addSections(h, MaxSections+1-len(h.Sections), 64)
	})
	add("sections ending at 2^63-1", largest, 0, nil, smallAlloc, func(h *Header) {
		addSections(h, 1, 64)
		last := &h.Sections[len(h.Sections)-1]
		last.Length = math.MaxInt64 - last.Offset
		h.FileSize = math.MaxInt64
	})
	add("section end overflowing 2^63", largest, 0, ErrSectionBounds, smallAlloc, func(h *Header) {
		addSections(h, 1, 64)
		last := &h.Sections[len(h.Sections)-1]
		last.Length = math.MaxInt64 - last.Offset + 1
		h.FileSize = math.MaxInt64
	})
	add("rows 2^32", largest, 0, ErrBadShape, smallAlloc, func(h *Header) {
		h.Rows++
		h.Sections[0].Rows, h.Sections[0].Length = h.Rows, h.Rows*h.RowStride
		h.FileSize += h.RowStride // sections move: the shape is refused first
	})
	add("rows 2^64-1", largest, 0, ErrBadShape, smallAlloc, func(h *Header) { h.Rows = -1 })
	add("dim 65537", largest, 0, ErrBadShape, smallAlloc, func(h *Header) { h.Dim++ })
	add("dim 2^32-1", largest, 0, ErrBadShape, smallAlloc, func(h *Header) { h.Dim = math.MaxUint32 })
	add("2^24+1 positions", largest, 0, ErrBadShape, smallAlloc, func(h *Header) {
		p := &h.Sections[1]
		p.Rows++
		p.Length += p.RowStride
		h.FileSize = p.End()
	})
	add("row stride past its limit", largest, 0, ErrBadStride, smallAlloc, func(h *Header) {
		h.RowStride += MaxStridePadding + RowAlign
	})
	add("row stride 2^63", largest, 0, ErrBadStride, smallAlloc, func(h *Header) { h.RowStride = math.MinInt64 })
	add("alignment 2^22", largest, 0, ErrBadAlignment, smallAlloc, func(h *Header) { h.Alignment = 1 << 22 })

	// The 1.1 sections at their limits: open reads their fixed fields (a
	// few dozen bytes), whatever they claim.
	with := func(name string, l Layout, n SectionLengths, want error, edit func(h *Header, pieces map[int64][]byte)) {
		h, err := l.HeaderWith(n)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		pieces := map[int64][]byte{}
		if s, ok := h.Section(SectionVocabulary); ok {
			count := int64(MaxRows)
			blob := s.Length - VocabularyLength(h.Rows, count, 0)
			info := VocabInfo{Rows: h.Rows, Count: count, Slots: VocabSlots(count), BlobLength: blob, Hash: VocabHashFNV1aFmix64}
			if l.Subwords > 0 {
				info.Subwords, info.MinN, info.MaxN = SubwordsFastText, l.SubwordMinN, l.SubwordMaxN
			}
			pieces[s.Offset] = encodeVocabHeader(info)
			last := make([]byte, 8)
			binary.LittleEndian.PutUint64(last, uint64(blob))
			pieces[s.Offset+VocabHeaderSize+8*h.Rows] = last
		}
		if s, ok := h.Section(SectionTokenizer); ok {
			pieces[s.Offset] = tokenizerSection(MaxTokenizerSize, nil)
		}
		if edit != nil {
			edit(h, pieces)
		}
		hdr := h.Encode()
		pieces[0] = hdr
		cases = append(cases, limitCase{name, hdr, &sparseFile{size: h.FileSize, pieces: pieces}, want, smallAlloc})
	}
	maxVocab := VocabularyLength(MaxRows, MaxRows, 64*MaxRows) // 2^32-1 strings of 64 bytes: 328 GiB
	all := Layout{Rows: MaxRows, Dim: MaxDim, Positions: MaxPositions, Vocabulary: true, Norms: true,
		Subwords: MaxRows, SubwordMinN: 1, SubwordMaxN: MaxSubwordN, Alignment: MaxAlignment}
	with("every 1.1 section at its largest", all, SectionLengths{Vocabulary: maxVocab, Tokenizer: 64 << 20, Metadata: 0}, nil, nil)
	with("vocabulary claiming 2^33 slots for 2^31 strings", Layout{Rows: MaxRows, Dim: 1, Vocabulary: true},
		SectionLengths{Vocabulary: maxVocab}, ErrBadVocabulary, func(h *Header, pieces map[int64][]byte) {
			s, _ := h.Section(SectionVocabulary)
			binary.LittleEndian.PutUint64(pieces[s.Offset][vocOffCount:], 1<<31)
		})
	with("tokenizer raw_length 2^64-1", Layout{Rows: MaxRows, Dim: 1}, SectionLengths{Tokenizer: 1 << 40}, ErrBadTokenizer,
		func(h *Header, pieces map[int64][]byte) {
			s, _ := h.Section(SectionTokenizer)
			binary.LittleEndian.PutUint64(pieces[s.Offset][tokOffRawLength:], math.MaxUint64)
		})
	with("subwords of 2^32 rows", Layout{Rows: 1, Dim: MaxDim, Vocabulary: true, Subwords: MaxRows, SubwordMinN: 3, SubwordMaxN: 6},
		SectionLengths{Vocabulary: VocabularyLength(1, 1, 1)}, ErrBadShape, func(h *Header, pieces map[int64][]byte) {
			h.Sections[1].Rows++
			h.Sections[1].Length += h.Sections[1].RowStride
			h.FileSize += h.Sections[1].RowStride // the sections after it move: the shape is refused first
		})
	return cases
}

// bigMetadata returns a valid metadata document of exactly n >= 16 bytes.
func bigMetadata(n int64) []byte {
	return []byte(`{"pad":"` + strings.Repeat("x", int(n)-10) + `"}`)
}

// TestLimits opens each crafted header (through NewReader, on a sparse
// file) and checks that it is accepted or refused as SPEC.md's limits say,
// that no section is read but the metadata, and that the memory allocated
// does not grow with the sizes the header claims.
func TestLimits(t *testing.T) {
	for _, c := range limitCases(t) {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewReader(c.file, c.file.size)
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("NewReader = %v; want %v", err, c.want)
			}
			if err == nil {
				if r.FileSize != c.file.size {
					t.Fatalf("FileSize %d, want %d", r.FileSize, c.file.size)
				}
			} else if _, err := ParseHeader(c.header, c.file.size); !errors.Is(err, c.want) &&
				!(err == nil && (c.want == ErrBadVocabulary || c.want == ErrBadTokenizer)) {
				// The content rules of the 1.1 sections are NewReader's: it
				// reads their fixed fields.
				t.Fatalf("ParseHeader = %v; want %v", err, c.want)
			}
			if c.file.read > HeaderSize+MaxMetadataSize {
				t.Fatalf("read %d bytes", c.file.read)
			}
			const runs = 20
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for range runs {
				NewReader(c.file, c.file.size)
			}
			runtime.ReadMemStats(&after)
			if per := int64(after.TotalAlloc-before.TotalAlloc) / runs; per > c.maxAlloc {
				t.Fatalf("NewReader allocated %d bytes per call; limit %d", per, c.maxAlloc)
			}
			if n := testing.AllocsPerRun(runs, func() { ParseHeader(c.header, c.file.size) }); n > 100 {
				t.Fatalf("ParseHeader made %v allocations", n)
			}
		})
	}
}

// TestSpecLimits checks that the limits SPEC.md documents are the ones the
// package enforces.
func TestSpecLimits(t *testing.T) {
	spec, err := os.ReadFile("SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(spec), "## Limits")
	if !ok {
		t.Fatal("SPEC.md has no Limits section")
	}
	table, _, _ = strings.Cut(table, "\n## ")
	for what, want := range map[string]string{
		"`rows`":          fmt.Sprintf("1 to 2^%d − 1", log2(MaxRows+1)),
		"`dim`":           fmt.Sprintf("1 to %d", MaxDim),
		"positional rows": fmt.Sprintf("1 to 2^%d", log2(MaxPositions)),
		"sections":        fmt.Sprintf("1 to %d", MaxSections),
		"metadata":        fmt.Sprintf("%d MiB, nesting depth %d", MaxMetadataSize>>20, MaxMetadataDepth),
		"header":          fmt.Sprintf("%d bytes, fixed", HeaderSize),
		"`row_stride`":    fmt.Sprintf("multiple of %d, at most `align_up(row size, %d) + %d`", RowAlign, RowAlign, MaxStridePadding),
		"`alignment`":     fmt.Sprintf("power of two, %d to 2^%d", MinAlignment, log2(MaxAlignment)),
		"tokenizer":       fmt.Sprintf("%d MiB decompressed", MaxTokenizerSize>>20),
		"subword rows":    fmt.Sprintf("1 to 2^%d − 1", log2(MaxRows+1)),
		"subword n-grams": fmt.Sprintf("1 ≤ minn ≤ maxn ≤ %d characters", MaxSubwordN),
		"vocabulary":      "`rows` + 1 offsets; index slots the smallest power of two ≥ max(1, 2 × count)",
	} {
		if row := "| " + what + " | " + want + " |"; !strings.Contains(table, row) {
			t.Errorf("SPEC.md Limits lacks the row %q", row)
		}
	}
}

func log2(v int64) int {
	n := 0
	for v > 1 {
		v >>= 1
		n++
	}
	return n
}
