package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// matrixBases are the valid tables the corrupt-file matrix damages: between
// them they have one to three sections, every dtype, padding between
// sections and inside rows, scales, and alignments from 64 to 4096.
func matrixBases(t testing.TB) map[string][]byte {
	t.Helper()
	build := func(l Layout, md string) []byte {
		var m []byte
		if md != "" {
			m = []byte(md)
		}
		b, _, _ := buildTable(t, l, m)
		return b
	}
	sections := func(l Layout, md string) []byte {
		in := sectionsInput{tokenizer: testTokenizer, metadata: md}
		if l.Vocabulary {
			in.strs = testStrings(int(l.Rows))
		}
		b, _, _, _ := buildSections(t, l, in)
		return b
	}
	return map[string][]byte{
		"sections-f16-positions-subwords-align64": sections(Layout{Rows: 9, Dim: 5, DType: F16, Positions: 2, Vocabulary: true, Norms: true,
			Subwords: 3, SubwordMinN: 3, SubwordMaxN: 6, Alignment: 64}, testMetadata),
		"sections-int8-scaled-norms-tokenizer-align128": sections(Layout{Rows: 4, Dim: 7, DType: Int8, TokenScale: 2, ComputeDType: BF16,
			Norms: true, Vocabulary: true, Alignment: 128}, ""),
		"f32-positions-metadata-align128":   build(fixtureLayout, testMetadata),
		"int8-positions-metadata-align4096": build(Layout{Rows: 5, Dim: 7, DType: Int8, Positions: 2}, testMetadata),
		"f16-tokens-only-align64":           build(Layout{Rows: 4, Dim: 16, DType: F16, Alignment: 64}, ""),
		"bf16-scaled-metadata-align256":     build(Layout{Rows: 3, Dim: 40, DType: BF16, TokenScale: 8, ComputeDType: BF16, Alignment: 256}, `{"creator":"matrix"}`),
	}
}

// structuralDamage derives, from a valid table, every kind of structural
// damage and the rule Open must refuse it for.
func structuralDamage(t testing.TB, valid []byte) []damageCase {
	t.Helper()
	le := binary.LittleEndian
	h, err := ParseHeader(valid, int64(len(valid)))
	if err != nil {
		t.Fatal(err)
	}
	size := uint64(len(valid))
	var cases []damageCase
	add := func(name string, b []byte, want error) {
		cases = append(cases, damageCase{name: name, file: b, openErr: want})
	}
	field := func(name string, off int, width int, v uint64, want error) {
		b := mutate(valid, func(b []byte) {
			switch width {
			case 2:
				le.PutUint16(b[off:], uint16(v))
			case 4:
				le.PutUint32(b[off:], uint32(v))
			default:
				le.PutUint64(b[off:], v)
			}
		})
		add(fmt.Sprintf("%s=%d", name, v), b, want)
	}

	// Identity, before the header checksum (which is not fixed for these:
	// they must be refused whatever the checksum says).
	for i := range len(Magic) {
		b := bytes.Clone(valid)
		b[offMagic+i] ^= 0x20
		add(fmt.Sprintf("magic byte %d", i), b, ErrBadMagic)
	}
	for _, v := range []uint64{0, 0x04030201, 0xffffffff, 0x01020305} {
		field("endian", offEndian, 4, v, ErrBadEndian)
	}
	for _, v := range []uint64{0, 2, 0xffff} {
		field("major", offMajor, 2, v, ErrUnsupportedVersion)
	}

	// Every header field out of range.
	for bit := range 64 {
		field("required_features", offRequiredFeatures, 8, 1<<bit, ErrUnsupportedFeature)
	}
	for _, v := range []uint64{0, HeaderSize - 1, size - 1, size - 64} {
		field("file_size", offFileSize, 8, v, ErrFileSize)
	}
	for _, v := range []uint64{size + 1, size + 4096, 1 << 63, math.MaxUint64} {
		field("file_size", offFileSize, 8, v, ErrTruncated)
	}
	for _, v := range []uint64{0, MaxRows + 1, 1 << 63, math.MaxUint64} {
		field("rows", offRows, 8, v, ErrBadShape)
	}
	for _, v := range []uint64{uint64(h.Rows) + 1, uint64(h.Rows) - 1, MaxRows} {
		if v >= 1 {
			field("rows", offRows, 8, v, ErrInconsistent)
		}
	}
	for _, v := range []uint64{0, MaxDim + 1, math.MaxUint32} {
		field("dim", offDim, 4, v, ErrBadShape)
	}
	for _, v := range []uint64{0, 5, 99, math.MaxUint32} {
		field("dtype", offDType, 4, v, ErrBadDType)
	}
	for _, d := range []DType{F32, F16, BF16, Int8} {
		if d == h.DType {
			continue
		}
		want := ErrInconsistent
		if checkStride(uint64(h.RowStride), d, h.Dim) != "" {
			want = ErrBadStride
		}
		field("dtype", offDType, 4, uint64(d), want)
	}
	stride := uint64(h.RowStride)
	maxStride := uint64(RowStride(h.DType, h.Dim) + MaxStridePadding)
	for _, v := range []uint64{0, 1, stride + 1, stride - 1, maxStride + RowAlign, 1 << 63, math.MaxUint64 &^ (RowAlign - 1)} {
		field("row_stride", offRowStride, 8, v, ErrBadStride)
	}
	for _, v := range []uint64{stride + RowAlign, maxStride} {
		if v != stride {
			field("row_stride", offRowStride, 8, v, ErrInconsistent)
		}
	}
	for _, v := range []uint64{0, 1, 32, 63, 65, 3 * 64, MaxAlignment + 1, 1 << 22, 1 << 31, math.MaxUint32} {
		field("alignment", offAlignment, 4, v, ErrBadAlignment)
	}
	n := uint64(len(h.Sections))
	for _, v := range []uint64{0, MaxSections + 1, math.MaxUint32} {
		field("section_count", offSectionCount, 4, v, ErrBadSectionTable)
	}
	if n < MaxSections {
		field("section_count", offSectionCount, 4, n+1, ErrBadSectionTable)
	}
	if n > 1 {
		field("section_count", offSectionCount, 4, n-1, ErrReservedNonZero)
	}
	if p := uint64(h.Positions()); p > 0 {
		field("position_offset", offPositionOffset, 4, p, ErrInconsistent)
	} else {
		field("position_offset", offPositionOffset, 4, 1, ErrInconsistent)
	}
	field("position_offset", offPositionOffset, 4, math.MaxUint32, ErrInconsistent)
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1)} {
		field("token_scale", offTokenScale, 4, uint64(math.Float32bits(float32(v))), ErrBadScale)
	}
	for _, v := range []uint64{uint64(F32), uint64(Int8), 77, math.MaxUint32} {
		field("compute_dtype", offComputeDType, 4, v, ErrBadDType)
	}
	for off := offReserved1; off < offSectionTable; off++ {
		add(fmt.Sprintf("reserved byte %d", off), mutate(valid, func(b []byte) { b[off] = 1 }), ErrReservedNonZero)
	}
	unused := offSectionTable + int(n)*SectionEntrySize
	for _, off := range []int{unused, unused + 17, unused + SectionEntrySize - 1, offReserved2, offReserved2 + 1000, offHeaderCRC - 1} {
		add(fmt.Sprintf("reserved byte %d", off), mutate(valid, func(b []byte) { b[off] = 0x80 }), ErrReservedNonZero)
	}

	// Every section: its entry's fields, moved, overlapping, shortened,
	// extended.
	for i, s := range h.Sections {
		e := func(f int) int { return sec(i, f) }
		name := fmt.Sprintf("sections[%d] (%s) ", i, s.Kind)
		last := i == len(h.Sections)-1
		add(name+"kind 0", mutate(valid, put32(e(secOffKind), 0)), ErrBadSectionTable)
		add(name+"unknown required kind", mutateAll(valid, put32(e(secOffKind), 99), put32(e(secOffFlags), FlagRequired)), ErrUnsupportedFeature)
		for bit := 1; bit < 32; bit++ {
			add(fmt.Sprintf("%sflag bit %d", name, bit), mutate(valid, put32(e(secOffFlags), uint32(s.Flags|1<<bit))), ErrBadSectionTable)
		}
		for j, o := range h.Sections {
			// A kind taken from an earlier entry is a duplicate; any other
			// kind in the first entry means the token table is not first.
			if j == i || (i > 0 && j > i) {
				continue
			}
			want := ErrDuplicateSection
			if i == 0 {
				want = ErrMissingTokens
			}
			add(fmt.Sprintf("%skind %s", name, o.Kind), mutate(valid, put32(e(secOffKind), uint32(o.Kind))), want)
		}

		off := uint64(s.Offset)
		moves := []uint64{0, off - 1, off + 1, off - RowAlign, off + RowAlign, off + uint64(h.Alignment), off - uint64(h.Alignment), math.MaxInt64, math.MaxUint64}
		if i > 0 {
			prev := h.Sections[i-1]
			moves = append(moves, uint64(prev.Offset), uint64(prev.End()), uint64(prev.End()-1)) // overlapping
		}
		for _, v := range moves {
			if v != off {
				add(fmt.Sprintf("%smoved to %d", name, v), mutate(valid, put64(e(secOffOffset), v)), ErrSectionPlacement)
			}
		}
		if i > 0 {
			swapped := mutate(valid, func(b []byte) {
				var tmp [SectionEntrySize]byte
				copy(tmp[:], b[sec(i-1, 0):])
				copy(b[sec(i-1, 0):sec(i, 0)], b[sec(i, 0):sec(i+1, 0)])
				copy(b[sec(i, 0):], tmp[:])
			})
			want := ErrSectionPlacement
			if i == 1 {
				want = ErrMissingTokens
			}
			add(name+"swapped with the previous entry", swapped, want)
		}

		length := uint64(s.Length)
		next := uint64(h.FileSize)
		if !last {
			next = uint64(h.Sections[i+1].Offset)
		}
		add(name+"length 0", mutate(valid, put64(e(secOffLength), 0)), ErrBadSectionTable)
		add(name+"length 2^63", mutate(valid, put64(e(secOffLength), 1<<63)), ErrBadSectionTable)
		add(name+"length overflowing the offset", mutate(valid, put64(e(secOffLength), math.MaxInt64)), ErrSectionBounds)
		add(name+"extended past the end", mutate(valid, put64(e(secOffLength), size-off+1)), ErrSectionBounds)
		shortWant, longWant := ErrInconsistent, ErrInconsistent
		if !s.Kind.IsRows() {
			shortWant, longWant = ErrSectionBounds, ErrSectionBounds
		}
		if last {
			longWant = ErrSectionBounds
		}
		for _, d := range []uint64{1, RowAlign} {
			if s.Kind.since11() && !s.Kind.IsRows() {
				// A section whose length its content describes: which rule
				// sees a change depends on where the section ends.
				for _, n := range []uint64{length - d, length + d} {
					if d >= length {
						continue
					}
					c := lengthDamage(h, i, n, next)
					c.name = fmt.Sprintf("%slength %d (was %d)", name, n, length)
					c.file = mutate(valid, put64(e(secOffLength), n))
					cases = append(cases, c)
				}
				continue
			}
			if d < length {
				add(fmt.Sprintf("%sshortened by %d", name, d), mutate(valid, put64(e(secOffLength), length-d)), shortWant)
			}
			add(fmt.Sprintf("%sextended by %d", name, d), mutate(valid, put64(e(secOffLength), length+d)), longWant)
		}
		switch s.Kind {
		case SectionTokens:
			add(name+"rows+1", mutate(valid, put64(e(secOffRows), uint64(s.Rows+1))), ErrInconsistent)
			add(name+"row_stride+64", mutate(valid, put64(e(secOffRowStride), uint64(s.RowStride+RowAlign))), ErrInconsistent)
			add(name+"dtype 0", mutate(valid, put32(e(secOffDType), 0)), ErrInconsistent)
		case SectionPositions:
			add(name+"rows+1", mutate(valid, put64(e(secOffRows), uint64(s.Rows+1))), ErrInconsistent)
			add(name+"rows 0", mutate(valid, put64(e(secOffRows), 0)), ErrBadShape)
			add(name+"rows 2^24+1", mutate(valid, put64(e(secOffRows), MaxPositions+1)), ErrBadShape)
			add(name+"row_stride+64", mutate(valid, put64(e(secOffRowStride), uint64(s.RowStride+RowAlign))), ErrInconsistent)
			add(name+"row_stride 32", mutate(valid, put64(e(secOffRowStride), 32)), ErrBadStride)
			add(name+"dtype 0", mutate(valid, put32(e(secOffDType), 0)), ErrBadDType)
			add(name+"dtype f16", mutate(valid, put32(e(secOffDType), uint32(F16))), ErrUnsupportedFeature)
		case SectionMetadata:
			add(name+"rows 1", mutate(valid, put64(e(secOffRows), 1)), ErrBadSectionTable)
			add(name+"dtype f32", mutate(valid, put32(e(secOffDType), uint32(F32))), ErrBadSectionTable)
			add(name+"crc", mutate(valid, func(b []byte) { b[e(secOffCRC)] ^= 1 }), ErrChecksum)
		case SectionVocabulary, SectionTokenizer, SectionNorms:
			add(name+"rows 1", mutate(valid, put64(e(secOffRows), 1)), ErrBadSectionTable)
			add(name+"row_stride 64", mutate(valid, put64(e(secOffRowStride), 64)), ErrBadSectionTable)
			add(name+"dtype f32", mutate(valid, put32(e(secOffDType), uint32(F32))), ErrBadSectionTable)
			cases = append(cases, damageCase{name: name + "crc", file: mutate(valid, func(b []byte) { b[e(secOffCRC)] ^= 1 }), verifyErr: ErrChecksum})
			add(name+"required flag", mutate(valid, put32(e(secOffFlags), FlagRequired)), nil)
		case SectionSubwords:
			add(name+"rows+1", mutate(valid, put64(e(secOffRows), uint64(s.Rows+1))), ErrInconsistent)
			add(name+"rows 0", mutate(valid, put64(e(secOffRows), 0)), ErrBadShape)
			add(name+"rows 2^32", mutate(valid, put64(e(secOffRows), MaxRows+1)), ErrBadShape)
			add(name+"row_stride+64", mutate(valid, put64(e(secOffRowStride), uint64(s.RowStride+RowAlign))), ErrInconsistent)
			add(name+"row_stride 32", mutate(valid, put64(e(secOffRowStride), 32)), ErrBadStride)
			add(name+"dtype 0", mutate(valid, put32(e(secOffDType), 0)), ErrBadDType)
			add(name+"dtype 5", mutate(valid, put32(e(secOffDType), 5)), ErrBadDType)
		}
		if _, hasSub := h.Section(SectionSubwords); s.Kind == SectionVocabulary && hasSub {
			add(name+"made unknown", mutate(valid, put32(e(secOffKind), 12)), ErrInconsistent)
		}
	}

	// Trailing bytes, with file_size left alone and with it covering them.
	for _, extra := range []int{1, 64, 4096} {
		b := append(bytes.Clone(valid), make([]byte, extra)...)
		add(fmt.Sprintf("%d trailing bytes", extra), b, ErrFileSize)
		add(fmt.Sprintf("%d trailing bytes inside file_size", extra), mutate(b, put64(offFileSize, size+uint64(extra))), ErrSectionBounds)
	}

	// Truncation at every section boundary, and inside the header.
	cuts := []int64{0, 1, 8, 100, HeaderSize - 1, HeaderSize}
	for _, s := range h.Sections {
		cuts = append(cuts, s.Offset-1, s.Offset, s.Offset+1, s.End()-1, s.End(), s.End()+1, (s.Offset+s.End())/2)
	}
	seen := map[int64]bool{}
	for _, c := range cuts {
		if c < 0 || c >= int64(size) || seen[c] {
			continue
		}
		seen[c] = true
		add(fmt.Sprintf("truncated to %d bytes", c), bytes.Clone(valid[:c]), ErrTruncated)
	}
	return cases
}

// contentDamage derives damage that only verification can see (the header
// is intact) and the rule Verify must report, and damage to the metadata,
// which Open reads and checks.
func contentDamage(t testing.TB, valid []byte) []damageCase {
	t.Helper()
	h, err := ParseHeader(valid, int64(len(valid)))
	if err != nil {
		t.Fatal(err)
	}
	var cases []damageCase
	for i, s := range h.Sections {
		if s.Kind == SectionMetadata {
			cases = append(cases, damageCase{name: "metadata first byte", file: raw(valid, s.Offset, 1), openErr: ErrChecksum})
			continue
		}
		for _, off := range []int64{s.Offset, s.Offset + s.Length/2, s.End() - 1} {
			if checkedOnOpen(h, s, off) {
				continue // TestEveryBitFlip covers the fixed fields
			}
			cases = append(cases, damageCase{name: fmt.Sprintf("%s byte %d", s.Kind, off), file: raw(valid, off, 0x10), verifyErr: ErrChecksum})
		}
		if s.Kind.IsRows() {
			rowSize := s.DType.RowSize(h.Dim)
			for _, r := range []int64{0, s.Rows / 2, s.Rows - 1} {
				for _, p := range []int64{rowSize, s.RowStride - 1} {
					if p >= s.RowStride {
						continue
					}
					off := s.Offset + r*s.RowStride + p
					b := raw(valid, off, 1)
					cases = append(cases, damageCase{name: fmt.Sprintf("%s row %d padding byte %d", s.Kind, r, p), file: b, verifyErr: ErrChecksum})
					cases = append(cases, damageCase{name: fmt.Sprintf("%s row %d padding byte %d, crc matching", s.Kind, r, p), file: fixCRCs(bytes.Clone(b)), verifyErr: ErrPaddingNonZero})
				}
			}
		}
		if i+1 < len(h.Sections) {
			next := h.Sections[i+1].Offset
			for _, off := range []int64{s.End(), (s.End() + next) / 2, next - 1} {
				if off >= s.End() && off < next {
					cases = append(cases, damageCase{name: fmt.Sprintf("padding after %s byte %d", s.Kind, off), file: raw(valid, off, 1), verifyErr: ErrPaddingNonZero})
				}
			}
		}
	}
	return cases
}

// raw returns a copy of file with the byte at off XORed with x (x = 1 sets a
// zero byte non-zero), the header checksum left as it was.
func raw(file []byte, off int64, x byte) []byte {
	b := bytes.Clone(file)
	b[off] ^= x
	return b
}

// checkDamage checks a damaged file against c, failing (not crashing) if
// anything panics. With dir set, the file is written there and opened with
// Open; otherwise it is read from memory with NewReader, which is what Open
// runs on the file.
func checkDamage(t *testing.T, dir string, c damageCase) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: panic: %v", c.name, r)
		}
	}()
	var f interface {
		Verify() ([]Check, error)
	}
	var err error
	if dir != "" {
		path := filepath.Join(dir, "damaged.emb")
		if err := os.WriteFile(path, c.file, 0o644); err != nil {
			t.Fatal(err)
		}
		var file *File
		if file, err = Open(path); err == nil {
			defer file.Close()
			f = file
		}
	} else {
		var r *Reader
		if r, err = NewReader(bytes.NewReader(c.file), int64(len(c.file))); err == nil {
			f = r
		}
	}
	if c.openErr != nil {
		if !errors.Is(err, c.openErr) {
			t.Errorf("%s: Open = %v; want %v", c.name, err, c.openErr)
		}
		var fe *FormatError
		if err != nil && !errors.As(err, &fe) {
			t.Errorf("%s: Open error %v is not a *FormatError", c.name, err)
		}
		return
	}
	if err != nil {
		t.Errorf("%s: Open = %v; want success (only verification sees this damage)", c.name, err)
		return
	}
	if _, err := f.Verify(); !errors.Is(err, c.verifyErr) {
		t.Errorf("%s: Verify = %v; want %v", c.name, err, c.verifyErr)
	}
}

// TestCorruptFileMatrix derives every kind of damage from several valid
// tables and checks that Open refuses the structural ones for the right
// rule and that Verify catches the rest. Every case is read from memory;
// the first case of each rule, and every truncation, also goes through a
// file and Open.
func TestCorruptFileMatrix(t *testing.T) {
	dir := t.TempDir()
	for name, valid := range matrixBases(t) {
		t.Run(name, func(t *testing.T) {
			checkDamage(t, dir, damageCase{name: "undamaged", file: valid})
			cases := append(structuralDamage(t, valid), contentDamage(t, valid)...)
			onDisk := map[[2]error]bool{}
			for _, c := range cases {
				checkDamage(t, "", c)
				if rule := [2]error{c.openErr, c.verifyErr}; !onDisk[rule] || strings.HasPrefix(c.name, "truncated") {
					onDisk[rule] = true
					checkDamage(t, dir, c)
				}
			}
			t.Logf("%d damaged files, %d rules", len(cases), len(onDisk))
		})
	}
}

// TestEveryBitFlip flips every bit of every byte of each matrix table, one at
// a time: a flip in the header is refused by Open (for the magic, endian
// marker and version by their own rules, elsewhere by the header checksum),
// a flip in the metadata by Open's metadata checksum, and a flip in a row
// section or in padding is caught by Verify.
func TestEveryBitFlip(t *testing.T) {
	for name, valid := range matrixBases(t) {
		t.Run(name, func(t *testing.T) {
			h, err := ParseHeader(valid, int64(len(valid)))
			if err != nil {
				t.Fatal(err)
			}
			md, hasMD := h.Section(SectionMetadata)
			b := bytes.Clone(valid)
			inPadding := func(off int64) (start, end int64, ok bool) {
				for i := 1; i < len(h.Sections); i++ {
					if prev := h.Sections[i-1]; off >= prev.End() && off < h.Sections[i].Offset {
						return prev.End(), h.Sections[i].Offset, true
					}
				}
				return 0, 0, false
			}
			for off := range int64(len(b)) {
				// Long padding runs are all alike: flip their first and last
				// 64 bytes and every 61st byte between.
				if start, end, ok := inPadding(off); ok && off >= start+64 && off < end-64 && (off-start)%61 != 0 {
					continue
				}
				var open, verify error
				switch {
				case off < offMagic+8:
					open = ErrBadMagic
				case off < offMajor+2:
					open = ErrUnsupportedVersion
				case off < offEndian:
					open = ErrHeaderChecksum // minor
				case off < offEndian+4:
					open = ErrBadEndian
				case off < HeaderSize:
					open = ErrHeaderChecksum
				case hasMD && off >= md.Offset && off < md.End():
					open = ErrChecksum
				case checkedOnOpenAt(h, off):
					open = errOpenOrChecksum
				default:
					verify = ErrChecksum
					for _, s := range h.Sections {
						if off >= s.Offset && off < s.End() {
							goto found
						}
					}
					verify = ErrPaddingNonZero
				found:
				}
				for bit := range 8 {
					b[off] ^= 1 << bit
					flipCheck(t, b, off, bit, open, verify)
					b[off] ^= 1 << bit
				}
			}
		})
	}
}

func flipCheck(t *testing.T, b []byte, off int64, bit int, open, verify error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("bit %d of byte %d: panic: %v", bit, off, r)
		}
	}()
	r, err := NewReader(bytes.NewReader(b), int64(len(b)))
	if open == errOpenOrChecksum {
		// A flip in fields NewReader checks: refused for some rule, or
		// (when the field is still valid) caught by the checksum.
		var fe *FormatError
		if err != nil {
			if !errors.As(err, &fe) {
				t.Fatalf("bit %d of byte %d: NewReader = %v; want a *FormatError", bit, off, err)
			}
			return
		}
		open, verify = nil, ErrChecksum
	}
	if open != nil {
		if !errors.Is(err, open) {
			t.Fatalf("bit %d of byte %d: NewReader = %v; want %v", bit, off, err, open)
		}
		return
	}
	if err != nil {
		t.Fatalf("bit %d of byte %d: NewReader = %v; want success", bit, off, err)
	}
	if _, err := r.Verify(); !errors.Is(err, verify) {
		t.Fatalf("bit %d of byte %d: Verify = %v; want %v", bit, off, err, verify)
	}
}

// errOpenOrChecksum marks the bytes whose flip NewReader may refuse, for
// whichever rule the new value breaks, or Verify catch by the checksum.
var errOpenOrChecksum = errors.New("open or checksum")

// checkedOnOpen reports whether byte off of section s is one that NewReader
// reads and checks: the fixed fields of a vocabulary (and its first and last
// offsets) and of a tokenizer.
func checkedOnOpen(h *Header, s Section, off int64) bool {
	rel := off - s.Offset
	switch s.Kind {
	case SectionVocabulary:
		last := VocabHeaderSize + 8*h.Rows
		return rel >= 0 && (rel < VocabHeaderSize+8 || (rel >= last && rel < last+8))
	case SectionTokenizer:
		return rel >= 0 && rel < TokenizerHeader
	}
	return false
}

// checkedOnOpenAt is checkedOnOpen for the section that holds byte off.
func checkedOnOpenAt(h *Header, off int64) bool {
	for _, s := range h.Sections {
		if off >= s.Offset && off < s.End() {
			return checkedOnOpen(h, s, off)
		}
	}
	return false
}

// lengthDamage returns what reading must report when the length of section
// i of h, a section whose content says how long it is (norms, vocabulary,
// tokenizer), is changed to n; next is where the next section starts (the
// file's size for the last).
func lengthDamage(h *Header, i int, n, next uint64) damageCase {
	s := h.Sections[i]
	end := uint64(s.Offset) + n
	last := i == len(h.Sections)-1
	switch {
	case s.Kind == SectionNorms:
		return damageCase{openErr: ErrBadNorms}
	case s.Kind == SectionVocabulary && int64(n) < VocabularyLength(h.Rows, 0, 0):
		return damageCase{openErr: ErrBadVocabulary}
	case s.Kind == SectionTokenizer && n <= TokenizerHeader:
		return damageCase{openErr: ErrBadTokenizer}
	case last:
		return damageCase{openErr: ErrSectionBounds}
	case uint64(alignUp(int64(end), h.Alignment)) != next:
		return damageCase{openErr: ErrSectionPlacement}
	case s.Kind == SectionVocabulary:
		return damageCase{openErr: ErrBadVocabulary}
	}
	// A tokenizer's compressed bytes are whatever its length says: the
	// checksum, computed over that length, catches the change.
	return damageCase{verifyErr: ErrChecksum}
}
