package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/embstore/embstore/internal/floatconv"
)

// memFile is an in-memory WriteTarget.
type memFile struct{ b []byte }

func (m *memFile) Write(p []byte) (int, error) { m.b = append(m.b, p...); return len(p), nil }

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if need := off + int64(len(p)); need > int64(len(m.b)) {
		m.b = append(m.b, make([]byte, need-int64(len(m.b)))...)
	}
	return copy(m.b[off:], p), nil
}

// testValues returns n deterministic, distinct float32 values.
func testValues(n int, seed float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = seed + float32(i)*0.25 - float32(i%7)*1.5
	}
	return v
}

// buildTable writes a table with layout l, the given metadata (nil for none)
// and deterministic values, and returns its bytes and the values written.
func buildTable(t testing.TB, l Layout, md []byte) (file []byte, tokens, positions []float32) {
	t.Helper()
	var m memFile
	w, err := NewWriter(&m, l)
	if err != nil {
		t.Fatal(err)
	}
	tokens = testValues(int(l.Rows)*l.Dim, 1)
	positions = testValues(int(l.Positions)*l.Dim, -3)
	// Write in uneven pieces to exercise streaming.
	for lo := 0; lo < int(l.Rows); {
		hi := min(int(l.Rows), lo+1+lo%3)
		if err := w.WriteTokens(tokens[lo*l.Dim : hi*l.Dim]); err != nil {
			t.Fatal(err)
		}
		lo = hi
	}
	if l.Positions > 0 {
		if err := w.WritePositions(positions); err != nil {
			t.Fatal(err)
		}
	}
	if md != nil {
		if err := w.SetMetadata(md); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return m.b, tokens, positions
}

var fullLayout = Layout{Rows: 10, Dim: 3, Positions: 4}

const testMetadata = `{"creator":"test","source":"seed","seed":{"seed":1}}`

func validFile(t testing.TB) []byte {
	b, _, _ := buildTable(t, fullLayout, []byte(testMetadata))
	return b
}

func TestRoundTrip(t *testing.T) {
	for _, l := range []Layout{
		{Rows: 10, Dim: 3},
		{Rows: 10, Dim: 3, Positions: 4},
		{Rows: 7, Dim: 16, Positions: 5, PositionOffset: 2, Alignment: 64},
		{Rows: 3, Dim: 300, Alignment: 1 << 21},
		{Rows: 5, Dim: 8, TokenScale: 4, ComputeDType: BF16},
	} {
		for _, md := range [][]byte{nil, []byte(testMetadata)} {
			file, tokens, positions := buildTable(t, l, md)
			r, err := NewReader(bytes.NewReader(file), int64(len(file)))
			if err != nil {
				t.Fatalf("layout %+v: %v", l, err)
			}
			if r.Rows != l.Rows || r.Dim != l.Dim || r.DType != F32 || r.Positions() != l.Positions {
				t.Fatalf("layout %+v: header %+v", l, r.Header)
			}
			if !bytes.Equal(r.Metadata(), md) {
				t.Fatalf("metadata %q, want %q", r.Metadata(), md)
			}
			got := make([]float32, len(tokens))
			if err := r.ReadRows(r.Tokens(), 0, r.Rows, got); err != nil {
				t.Fatal(err)
			}
			if !equalBits(got, tokens) {
				t.Fatalf("layout %+v: tokens differ", l)
			}
			if l.Positions > 0 {
				s, _ := r.Section(SectionPositions)
				got := make([]float32, len(positions))
				if err := r.ReadRows(s, 0, s.Rows, got); err != nil {
					t.Fatal(err)
				}
				if !equalBits(got, positions) {
					t.Fatalf("layout %+v: positions differ", l)
				}
			}
			checks, err := r.Verify()
			if err != nil {
				t.Fatalf("layout %+v: verify: %v", l, err)
			}
			if len(checks) == 0 {
				t.Fatal("no checks")
			}
			if size, _ := l.Size(int64(len(md))); size != int64(len(file)) {
				t.Fatalf("Layout.Size = %d, file has %d bytes", size, len(file))
			}
			for _, s := range r.Sections {
				if s.Offset%r.Alignment != 0 {
					t.Fatalf("section %s at %d not aligned to %d", s.Kind, s.Offset, r.Alignment)
				}
			}
		}
	}
}

func equalBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// mutate returns a copy of file changed by fn, with the header CRC
// recomputed so that only the intended rule is broken.
func mutate(file []byte, fn func(b []byte)) []byte {
	b := bytes.Clone(file)
	fn(b)
	binary.LittleEndian.PutUint32(b[offHeaderCRC:], CRC(b[:offHeaderCRC]))
	return b
}

func put32(off int, v uint32) func([]byte) {
	return func(b []byte) { binary.LittleEndian.PutUint32(b[off:], v) }
}

func put64(off int, v uint64) func([]byte) {
	return func(b []byte) { binary.LittleEndian.PutUint64(b[off:], v) }
}

func sec(i, field int) int { return offSectionTable + i*SectionEntrySize + field }

func TestHeaderRules(t *testing.T) {
	valid := validFile(t)
	le := binary.LittleEndian
	tokLen := le.Uint64(valid[sec(0, secOffLength):])
	posOff := le.Uint64(valid[sec(1, secOffOffset):])
	size := uint64(len(valid))
	cases := []struct {
		name string
		file []byte
		want error
	}{
		{"short file", valid[:100], ErrTruncated},
		{"bad magic", mutate(valid, func(b []byte) { b[1] = 'X' }), ErrBadMagic},
		{"safetensors file", append([]byte{8, 0, 0, 0, 0, 0, 0, 0, '{', '}'}, make([]byte, 5000)...), ErrBadMagic},
		{"big-endian marker", mutate(valid, put32(offEndian, 0x04030201)), ErrBadEndian},
		{"major version 2", mutate(valid, func(b []byte) { le.PutUint16(b[offMajor:], 2) }), ErrUnsupportedVersion},
		{"header crc", func() []byte { b := bytes.Clone(valid); b[offRows] ^= 1; return b }(), ErrHeaderChecksum},
		{"zero sections", mutate(valid, put32(offSectionCount, 0)), ErrBadSectionTable},
		{"17 sections", mutate(valid, put32(offSectionCount, 17)), ErrBadSectionTable},
		{"reserved byte after fields", mutate(valid, func(b []byte) { b[offReserved1+3] = 1 }), ErrReservedNonZero},
		{"reserved byte after table", mutate(valid, func(b []byte) { b[2000] = 1 }), ErrReservedNonZero},
		{"unused section entry", mutate(valid, func(b []byte) { b[sec(5, 0)] = 1 }), ErrReservedNonZero},
		{"unknown required feature", mutate(valid, put64(offRequiredFeatures, 1<<5)), ErrUnsupportedFeature},
		{"file_size too large", mutate(valid, put64(offFileSize, size+4096)), ErrTruncated},
		{"file_size too small", mutate(valid, put64(offFileSize, size-1)), ErrFileSize},
		{"dtype 0", mutate(valid, put32(offDType, 0)), ErrBadDType},
		{"dtype 99", mutate(valid, put32(offDType, 99)), ErrBadDType},
		{"rows 0", mutate(valid, put64(offRows, 0)), ErrBadShape},
		{"rows over limit", mutate(valid, put64(offRows, 1<<32)), ErrBadShape},
		{"dim 0", mutate(valid, put32(offDim, 0)), ErrBadShape},
		{"dim over limit", mutate(valid, put32(offDim, MaxDim+1)), ErrBadShape},
		{"stride not multiple of 64", mutate(valid, put64(offRowStride, 96)), ErrBadStride},
		{"stride smaller than row", mutate(valid, put64(offRowStride, 0)), ErrBadStride},
		{"stride huge", mutate(valid, put64(offRowStride, 1<<40)), ErrBadStride},
		{"alignment 32", mutate(valid, put32(offAlignment, 32)), ErrBadAlignment},
		{"alignment not power of two", mutate(valid, put32(offAlignment, 3000)), ErrBadAlignment},
		{"alignment too large", mutate(valid, put32(offAlignment, 1<<22)), ErrBadAlignment},
		{"scale NaN", mutate(valid, put32(offTokenScale, 0x7fc00000)), ErrBadScale},
		{"scale Inf", mutate(valid, put32(offTokenScale, 0x7f800000)), ErrBadScale},
		{"scale zero", mutate(valid, put32(offTokenScale, 0)), ErrBadScale},
		{"compute dtype int8", mutate(valid, put32(offComputeDType, 4)), ErrBadDType},
		{"compute dtype f32 code", mutate(valid, put32(offComputeDType, 1)), ErrBadDType},
		{"section kind 0", mutate(valid, put32(sec(1, secOffKind), 0)), ErrBadSectionTable},
		{"section flags", mutate(valid, put32(sec(2, secOffFlags), 2)), ErrBadSectionTable},
		{"unknown required section", mutate(valid, func(b []byte) {
			le.PutUint32(b[sec(2, secOffKind):], 9)
			le.PutUint32(b[sec(2, secOffFlags):], FlagRequired)
		}), ErrUnsupportedFeature},
		{"duplicate section", mutate(valid, put32(sec(2, secOffKind), uint32(SectionPositions))), ErrDuplicateSection},
		{"tokens not first", mutate(valid, put32(sec(0, secOffKind), uint32(SectionMetadata))), ErrMissingTokens},
		{"first section moved", mutate(valid, put64(sec(0, secOffOffset), 8192)), ErrSectionPlacement},
		{"section overlaps", mutate(valid, put64(sec(1, secOffOffset), posOff-64)), ErrSectionPlacement},
		{"hole between sections", mutate(valid, put64(sec(1, secOffOffset), posOff+4096)), ErrSectionPlacement},
		{"zero-length section", mutate(valid, put64(sec(2, secOffLength), 0)), ErrBadSectionTable},
		{"section past end", mutate(valid, put64(sec(2, secOffLength), 1<<20)), ErrSectionBounds},
		{"length overflows", mutate(valid, put64(sec(2, secOffLength), math.MaxInt64)), ErrSectionBounds},
		{"last section short of end", mutate(valid, func(b []byte) {
			le.PutUint64(b[sec(2, secOffLength):], le.Uint64(b[sec(2, secOffLength):])-1)
		}), ErrSectionBounds},
		{"tokens rows disagree", mutate(valid, put64(sec(0, secOffRows), 9)), ErrInconsistent},
		{"tokens stride disagrees", mutate(valid, put64(sec(0, secOffRowStride), 128)), ErrInconsistent},
		{"tokens dtype disagrees", mutate(valid, put32(sec(0, secOffDType), uint32(F16))), ErrInconsistent},
		{"tokens length disagrees", mutate(valid, put64(sec(0, secOffLength), tokLen-64)), ErrInconsistent},
		{"positions rows 0", mutate(valid, put64(sec(1, secOffRows), 0)), ErrBadShape},
		{"positions over limit", mutate(valid, put64(sec(1, secOffRows), MaxPositions+1)), ErrBadShape},
		{"positions dtype invalid", mutate(valid, put32(sec(1, secOffDType), 77)), ErrBadDType},
		{"positions dtype f16", mutate(valid, put32(sec(1, secOffDType), uint32(F16))), ErrUnsupportedFeature},
		{"positions stride", mutate(valid, put64(sec(1, secOffRowStride), 32)), ErrBadStride},
		{"metadata with rows", mutate(valid, put64(sec(2, secOffRows), 1)), ErrBadSectionTable},
		{"position offset without positions", mutate(validNoPositions(t), put32(offPositionOffset, 1)), ErrInconsistent},
		{"position offset past table", mutate(valid, put32(offPositionOffset, 4)), ErrInconsistent},
		{"metadata checksum", func() []byte {
			b := bytes.Clone(valid)
			b[le.Uint64(b[sec(2, secOffOffset):])+2] ^= 0x20
			return b
		}(), ErrChecksum},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(c.file), int64(len(c.file)))
			if !errors.Is(err, c.want) {
				t.Fatalf("NewReader error = %v; want %v", err, c.want)
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FormatError", err)
			}
			if !strings.Contains(err.Error(), "at byte") {
				t.Fatalf("error %q does not say where", err)
			}
		})
	}
}

func validNoPositions(t *testing.T) []byte {
	b, _, _ := buildTable(t, Layout{Rows: 10, Dim: 3}, []byte(testMetadata))
	return b
}

func TestLenientRules(t *testing.T) {
	valid := validFile(t)
	for name, file := range map[string][]byte{
		"unknown optional feature": mutate(valid, put64(offOptionalFeatures, 1<<9)),
		"minor version 7":          mutate(valid, func(b []byte) { binary.LittleEndian.PutUint16(b[offMinor:], 7) }),
		"unknown optional section": mutate(valid, put32(sec(2, secOffKind), 12)),
	} {
		r, err := NewReader(bytes.NewReader(file), int64(len(file)))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if name == "unknown optional section" && (len(r.Sections) != 3 || r.Metadata() != nil) {
			t.Errorf("%s: sections %+v, metadata %q", name, r.Sections, r.Metadata())
		}
	}
}

func TestMetadataRules(t *testing.T) {
	for _, c := range []struct {
		md string
		ok bool
	}{
		{`{}`, true},
		{`{"a":{"b":[1,2,{"c":null}]},"d":"é"}`, true},
		{" \n{\"a\":1}\n ", true},
		{`{"a":1,"a":2}`, false},
		{`{"a":{"b":1,"b":1}}`, false},
		{`{"a":[{"x":1,"x":1}]}`, false},
		{`[1,2]`, false},
		{`"x"`, false},
		{``, false},
		{`{"a":1}{}`, false},
		{`{"a":1} x`, false},
		{`{"a":`, false},
		{"\xef\xbb\xbf{}", false},
		{`{"a":"\udc00"}`, false},
		{`{"a":"\ud83d\ude00"}`, true},
		{"{\"a\":\"\xff\"}", false},
		{strings.Repeat(`{"a":`, 33) + "1" + strings.Repeat("}", 33), false},
		{strings.Repeat(`{"a":`, 31) + "1" + strings.Repeat("}", 31), true},
		{`{"a":"` + strings.Repeat("x", MaxMetadataSize) + `"}`, false},
	} {
		err := ValidateMetadata([]byte(c.md))
		if (err == nil) != c.ok {
			name := c.md
			if len(name) > 60 {
				name = name[:60] + "..."
			}
			t.Errorf("ValidateMetadata(%q) = %v; want ok=%v", name, err, c.ok)
		}
	}
}

func TestMetadataRulesInFile(t *testing.T) {
	// A writer refuses bad metadata; a crafted file carrying it is refused on open.
	var m memFile
	w, _ := NewWriter(&m, fullLayout)
	if err := w.SetMetadata([]byte(`{"a":1,"a":2}`)); !errors.Is(err, ErrBadMetadata) {
		t.Fatalf("SetMetadata(duplicate) = %v", err)
	}
	valid := validFile(t)
	s := binary.LittleEndian.Uint64(valid[sec(2, secOffOffset):])
	bad := mutate(valid, func(b []byte) {
		copy(b[s:], `{"creator":"test","creator":"x",`)
		n := binary.LittleEndian.Uint64(b[sec(2, secOffLength):])
		binary.LittleEndian.PutUint32(b[sec(2, secOffCRC):], CRC(b[s:s+n]))
	})
	if _, err := NewReader(bytes.NewReader(bad), int64(len(bad))); !errors.Is(err, ErrBadMetadata) {
		t.Fatalf("duplicate key in file: %v", err)
	}
}

func TestVerifyDetectsDamage(t *testing.T) {
	valid := validFile(t)
	r, _ := NewReader(bytes.NewReader(valid), int64(len(valid)))
	tok := r.Tokens()
	pos, _ := r.Section(SectionPositions)
	cases := []struct {
		name string
		fn   func(b []byte)
		want error
	}{
		{"token value bit", func(b []byte) { b[tok.Offset+5] ^= 0x10 }, ErrChecksum},
		{"last token byte", func(b []byte) { b[tok.End()-1] ^= 1 }, ErrChecksum},
		{"position bit", func(b []byte) { b[pos.Offset] ^= 0x80 }, ErrChecksum},
		{"padding after tokens", func(b []byte) { b[tok.End()+10] = 1 }, ErrPaddingNonZero},
		{"row padding with matching crc", func(b []byte) {
			b[tok.Offset+tok.RowStride-1] = 7 // padding of row 0
			s := b[tok.Offset:tok.End()]
			binary.LittleEndian.PutUint32(b[sec(0, secOffCRC):], CRC(s))
		}, ErrPaddingNonZero},
	}
	for _, c := range cases {
		b := mutate(valid, c.fn)
		r, err := NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("%s: open: %v", c.name, err)
		}
		if _, err := r.Verify(); !errors.Is(err, c.want) {
			t.Errorf("%s: Verify = %v; want %v", c.name, err, c.want)
		}
	}
}

func TestVerifyEveryBitFlip(t *testing.T) {
	// Any single flipped bit anywhere in the file is caught by open or verify.
	valid := validFile(t)
	for i := range len(valid) {
		for _, bit := range []byte{1, 0x80} {
			b := bytes.Clone(valid)
			b[i] ^= bit
			r, err := NewReader(bytes.NewReader(b), int64(len(b)))
			if err == nil {
				_, err = r.Verify()
			}
			if err == nil {
				t.Fatalf("flipping bit %#x of byte %d went unnoticed", bit, i)
			}
		}
	}
}

func TestWriterMisuse(t *testing.T) {
	var m memFile
	w, err := NewWriter(&m, fullLayout)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTokens(make([]float32, 4)); err == nil {
		t.Error("partial row accepted")
	}
	if err := w.WritePositions(make([]float32, 3)); err == nil {
		t.Error("positions before tokens accepted")
	}
	if err := w.WriteTokens(make([]float32, 33)); err == nil {
		t.Error("too many rows accepted")
	}
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Errorf("Close of incomplete table = %v", err)
	}
	if err := w.Close(); !errors.Is(err, errWriterClosed) {
		t.Errorf("second Close = %v", err)
	}
	for _, l := range []Layout{
		{Rows: 0, Dim: 3}, {Rows: 1, Dim: 0}, {Rows: 1, Dim: MaxDim + 1}, {Rows: MaxRows + 1, Dim: 1},
		{Rows: 1, Dim: 1, DType: 9}, {Rows: 1, Dim: 1, Positions: -1}, {Rows: 1, Dim: 1, Positions: 2, PositionOffset: 2},
		{Rows: 1, Dim: 1, Alignment: 100}, {Rows: 1, Dim: 1, TokenScale: float32(math.Inf(1))},
		{Rows: 1, Dim: 1, ComputeDType: Int8}, {Rows: 1, Dim: 1, ComputeDType: 9},
	} {
		if _, err := NewWriter(&m, l); err == nil {
			t.Errorf("NewWriter(%+v) accepted", l)
		}
	}
}

func TestInt8RefusesNonFinite(t *testing.T) {
	var m memFile
	w, _ := NewWriter(&m, Layout{Rows: 2, Dim: 2, DType: Int8})
	if err := w.WriteTokens([]float32{1, 2, float32(math.NaN()), 0}); err == nil || !strings.Contains(err.Error(), "token row 1") {
		t.Fatalf("NaN row: %v", err)
	}
}

func TestCreateAtomic(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "t.emb")
	if err := os.WriteFile(dest, []byte("old table"), 0o644); err != nil {
		t.Fatal(err)
	}
	// An aborted write leaves the old file and no temporary file.
	fw, err := Create(dest, fullLayout)
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.WriteTokens(make([]float32, 3)); err != nil {
		t.Fatal(err)
	}
	fw.Abort()
	if b, _ := os.ReadFile(dest); string(b) != "old table" {
		t.Fatalf("destination changed by an aborted write: %q", b)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Fatalf("directory after abort: %v", names)
	}
	// An incomplete table fails to commit and leaves the destination alone.
	fw, _ = Create(dest, fullLayout)
	if err := fw.Commit(); err == nil {
		t.Fatal("incomplete table committed")
	}
	if b, _ := os.ReadFile(dest); string(b) != "old table" {
		t.Fatalf("destination changed by a failed commit: %q", b)
	}
	// A complete write replaces the destination.
	fw, _ = Create(dest, fullLayout)
	defer fw.Abort()
	_ = fw.WriteTokens(testValues(30, 1))
	_ = fw.WritePositions(testValues(12, 2))
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(dest)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if names := dirNames(t, dir); len(names) != 1 {
		t.Fatalf("directory after commit: %v", names)
	}
}

func dirNames(t *testing.T, dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestHeaderFieldOffsets(t *testing.T) {
	// The offsets used by the code are the ones SPEC.md documents.
	spec, err := os.ReadFile("SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	for field, off := range map[string]int{
		"magic": offMagic, "major": offMajor, "minor": offMinor, "endian": offEndian,
		"required_features": offRequiredFeatures, "optional_features": offOptionalFeatures,
		"file_size": offFileSize, "rows": offRows, "dim": offDim, "dtype": offDType,
		"row_stride": offRowStride, "alignment": offAlignment, "section_count": offSectionCount,
		"position_offset": offPositionOffset, "token_scale": offTokenScale,
		"compute_dtype": offComputeDType, "header_crc": offHeaderCRC,
	} {
		if !bytes.Contains(spec, []byte("| "+strconv.Itoa(off)+" |")) || !bytes.Contains(spec, []byte("`"+field+"`")) {
			t.Errorf("SPEC.md does not document %s at offset %d", field, off)
		}
	}
}

func TestInt8Quantisation(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for trial := range 2000 {
		dim := 1 + rng.IntN(70)
		src := make([]float32, dim)
		scaleOf := math.Exp(rng.Float64()*20 - 10)
		constant := trial%10 == 0
		for i := range src {
			src[i] = float32(rng.NormFloat64() * scaleOf)
			if constant {
				src[i] = src[0]
			}
		}
		row := make([]byte, Int8.RowSize(dim))
		maxErr, err := EncodeRow(row, src, Int8)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, dim)
		DecodeRow(got, row, Int8)
		scale, _ := Int8Params(row, dim)
		lo, hi := slices.Min(src), slices.Max(src)
		// FBGEMM's epsilon in the inverse scale shifts codes by up to
		// 255*1e-8/range steps, which matters only for tiny ranges.
		half := float64(scale) * (0.5 + 255*1e-8/float64(hi-lo))
		worst := 0.0
		for i := range src {
			e := math.Abs(float64(got[i]) - float64(src[i]))
			worst = max(worst, e)
			// Half a step, plus float32 rounding of the inputs' magnitude.
			ulp := float64(math.Nextafter32(float32(math.Abs(float64(src[i]))), float32(math.Inf(1))) - float32(math.Abs(float64(src[i]))))
			bound := half*(1+1e-5) + 4*ulp
			if constant && got[i] != src[i] {
				t.Fatalf("constant row not exact: %v -> %v", src[i], got[i])
			}
			if e > bound {
				t.Fatalf("dim %d value %d: %v -> %v, error %g > half step %g", dim, i, src[i], got[i], e, half)
			}
		}
		if worst != maxErr {
			t.Fatalf("EncodeRow reported max error %g, measured %g", maxErr, worst)
		}
	}
}

func TestNarrowDTypesRoundTrip(t *testing.T) {
	// f16 and bf16 rows hold the nearest value, ties to even, as torch's .to().
	src := []float32{1, -2.5, 65504, 65520, 1e-8, float32(math.Inf(-1)), 3.14159265, 0.1}
	for _, d := range []DType{F16, BF16} {
		row := make([]byte, d.RowSize(len(src)))
		maxErr, err := EncodeRow(row, src, d)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, len(src))
		DecodeRow(got, row, d)
		for i, v := range src {
			if got[i] != roundTo(v, d) {
				t.Errorf("%s: %v stored as %v, want %v", d, v, got[i], roundTo(v, d))
			}
		}
		if d == F16 && !math.IsInf(maxErr, 1) {
			t.Errorf("f16: 65520 overflows to Inf; max error %v, want +Inf", maxErr)
		}
	}
}

// roundTo rounds v to the nearest value of d (F16 or BF16), ties to even.
func roundTo(v float32, d DType) float32 {
	if d == F16 {
		return floatconv.F16BitsToF32(floatconv.F32ToF16Bits(v))
	}
	return floatconv.BF16BitsToF32(floatconv.F32ToBF16Bits(v))
}

// TestComputeDTypeF32 checks that F32 as a layout's compute dtype means
// what 0 means, plain f32 arithmetic, and is stored as 0.
func TestComputeDTypeF32(t *testing.T) {
	h0, err := Layout{Rows: 3, Dim: 2}.Header(0)
	if err != nil {
		t.Fatal(err)
	}
	h32, err := Layout{Rows: 3, Dim: 2, ComputeDType: F32}.Header(0)
	if err != nil {
		t.Fatal(err)
	}
	if h32.ComputeDType != 0 || !bytes.Equal(h0.Encode(), h32.Encode()) {
		t.Fatalf("compute dtype F32 gives header compute_dtype %d; want the header of 0", h32.ComputeDType)
	}
}

// TestFileWriterMisuse checks that a FileWriter cannot be finished by
// mistake: it has no Close (a deferred Close would leave no file and no
// error), and after Abort or Commit every method fails, saying why.
func TestFileWriterMisuse(t *testing.T) {
	if _, ok := any(&FileWriter{}).(io.Closer); ok {
		t.Fatal("FileWriter is an io.Closer")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "t.emb")
	fw, err := Create(path, Layout{Rows: 1, Dim: 2})
	if err != nil {
		t.Fatal(err)
	}
	fw.Abort()
	for name, err := range map[string]error{
		"WriteTokens": fw.WriteTokens([]float32{1, 2}), "WriteTokenRows": fw.WriteTokenRows(make([]byte, 64)),
		"SetMetadata": fw.SetMetadata([]byte(`{}`)), "Commit": fw.Commit(),
	} {
		if !errors.Is(err, errWriterAborted) {
			t.Errorf("%s after Abort: %v; want %v", name, err, errWriterAborted)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the destination exists after Abort: %v", err)
	}
	fw, err = Create(path, Layout{Rows: 1, Dim: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.WriteTokens([]float32{1, 2}); err != nil {
		t.Fatal(err)
	}
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	fw.Abort() // after Commit: nothing
	if err := fw.Commit(); err == nil {
		t.Error("a second Commit succeeded")
	}
	if _, err := Open(path); err != nil {
		t.Fatalf("the committed table: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d files in the directory, want the table only", len(entries))
	}
}
