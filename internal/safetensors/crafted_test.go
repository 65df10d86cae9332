package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the crafted fixtures in testdata/safetensors/crafted")

const craftedDir = "../../testdata/safetensors/crafted"

// st assembles a file: the length of header, header, then data.
func st(header string, data ...[]byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	for _, d := range data {
		b = append(b, d...)
	}
	return b
}

// withLength assembles a file whose length field says n, whatever follows.
func withLength(n uint64, rest []byte) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, n), rest...)
}

func zeros(n int) []byte { return make([]byte, n) }

// f32Entry is a well-formed F32 tensor entry.
func f32Entry(name string, shape string, begin, end int) string {
	return `"` + name + `":{"dtype":"F32","shape":[` + shape + `],"data_offsets":[` + itoa(begin) + `,` + itoa(end) + `]}`
}

func itoa(i int) string { return strconv.Itoa(i) }

// craftedCase is one crafted file: its fixture name says what is wrong with
// it (or "valid-..." when nothing is), and err is the sentinel that opening
// it must return.
type craftedCase struct {
	name string
	data []byte
	err  error
}

func craftedCases() []craftedCase {
	ok4 := f32Entry("a", "1", 0, 4)
	rank65 := strings.TrimSuffix(strings.Repeat("1,", 65), ",")
	return []craftedCase{
		// Valid files.
		{"valid-empty", st(`{}      `), nil},
		{"valid-metadata-only", st(`{"__metadata__":{"format":"pt"}}`), nil},
		{"valid-unaligned-f32", st(`{`+f32Entry("t", "2,3", 0, 24)+`}`, f32Bytes(1, 2, 3, 4, 5, 6)), nil},
		{"valid-scalar", st(`{`+f32Entry("s", "", 0, 4)+`}`, f32Bytes(7)), nil},
		{"valid-zero-size", st(`{"z0":{"dtype":"F32","shape":[0,8],"data_offsets":[0,0]},`+f32Entry("a", "2", 0, 8)+
			`,"z1":{"dtype":"BF16","shape":[3,0],"data_offsets":[8,8]},"z2":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}`, f32Bytes(1, 2)), nil},
		{"valid-trailing-whitespace", st("{"+ok4+"} \t\r\n  ", zeros(4)), nil},
		{"valid-whitespace-inside", st("{ \n\t\""+"a\" : { \"dtype\" : \"F32\" , \"shape\" : [ 1 ] , \"data_offsets\" : [ 0 , 4 ] } }", zeros(4)), nil},
		{"valid-unknown-dtype", st(`{"q":{"dtype":"Q4_K","shape":[32],"data_offsets":[0,18]},`+f32Entry("w", "1,2", 18, 26)+`}`, zeros(18), f32Bytes(1, 2)), nil},
		{"valid-packed-f4", st(`{"p":{"dtype":"F4","shape":[2,3],"data_offsets":[0,3]}}`, zeros(3)), nil},
		{"valid-escaped-names", st(`{"a\"b\\c\u00e9\ud83d\ude00":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, zeros(1)), nil},

		// The length field.
		{"too-small", []byte{1, 2, 3, 4}, ErrFileTooSmall},
		{"empty-file", nil, ErrFileTooSmall},
		{"header-over-limit", withLength(MaxHeaderSize+1, []byte("{}")), ErrHeaderTooLarge},
		{"header-length-max-u64", withLength(1<<64-1, []byte("{}")), ErrHeaderTooLarge},
		{"header-past-eof", withLength(1000, []byte(`{"a":1}`)), ErrHeaderLength},

		// The header text.
		{"header-empty", st(""), ErrHeaderStart},
		{"header-leading-space", st(` {}`), ErrHeaderStart},
		{"header-array", st(`[]`), ErrHeaderStart},
		{"header-bad-utf8", st("{\"a\xff\":{}}"), ErrHeaderUTF8},
		{"header-lone-high-surrogate", st(`{"\ud800":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, zeros(1)), ErrHeaderSyntax},
		{"header-lone-low-surrogate", st(`{"x\udc00":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, zeros(1)), ErrHeaderSyntax},
		{"header-truncated-json", st(`{"a":`), ErrHeaderSyntax},
		{"header-trailing-comma", st(`{` + ok4 + `,}`), ErrHeaderSyntax},
		{"header-raw-control-char", st("{\"a\nb\":{}}"), ErrHeaderSyntax},
		{"header-junk-after-object", st(`{}x`), ErrHeaderTrailing},
		{"header-second-object", st(`{}{}`), ErrHeaderTrailing},
		{"header-nul-padding", st("{}\x00\x00\x00"), ErrHeaderTrailing},

		// Duplicate keys.
		{"duplicate-tensor", st(`{`+ok4+`,`+f32Entry("a", "1", 4, 8)+`}`, zeros(8)), ErrDuplicateKey},
		{"duplicate-tensor-escaped", st(`{`+ok4+`,`+f32Entry(`\u0061`, "1", 4, 8)+`}`, zeros(8)), ErrDuplicateKey},
		{"duplicate-tensor-same-offsets", st(`{`+ok4+`,`+ok4+`}`, zeros(4)), ErrDuplicateKey},
		{"duplicate-metadata", st(`{"__metadata__":{},"__metadata__":{}}`), ErrDuplicateKey},
		{"duplicate-metadata-key", st(`{"__metadata__":{"k":"1","k":"2"}}`), ErrDuplicateKey},
		{"duplicate-field", st(`{"a":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}}`, zeros(4)), ErrDuplicateKey},

		// __metadata__.
		{"metadata-number-value", st(`{"__metadata__":{"k":1}}`), ErrMetadata},
		{"metadata-null", st(`{"__metadata__":null}`), ErrMetadata},
		{"metadata-array", st(`{"__metadata__":["k"]}`), ErrMetadata},
		{"metadata-nested-object", st(`{"__metadata__":{"k":{"x":"y"}}}`), ErrMetadata},

		// Tensor entries.
		{"tensor-empty-name", st(`{` + f32Entry("", "1", 0, 4) + `}`), ErrTensorName},
		{"tensor-entry-array", st(`{"a":[0,4]}`), ErrTensorEntry},
		{"tensor-entry-deep-nesting", st(`{"a":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`), ErrTensorEntry},
		{"tensor-entry-null", st(`{"a":null}`), ErrTensorEntry},
		{"tensor-unknown-field", st(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"quant":"x"}}`, zeros(4)), ErrUnknownField},
		{"tensor-missing-shape", st(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, zeros(4)), ErrMissingField},
		{"tensor-missing-offsets", st(`{"a":{"dtype":"F32","shape":[1]}}`, zeros(4)), ErrMissingField},
		{"dtype-number", st(`{"a":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}`, zeros(4)), ErrDType},
		{"dtype-empty", st(`{"a":{"dtype":"","shape":[1],"data_offsets":[0,4]}}`, zeros(4)), ErrDType},
		{"dtype-space", st(`{"a":{"dtype":"F32 ","shape":[1],"data_offsets":[0,4]}}`, zeros(4)), ErrDType},
		{"dtype-too-long", st(`{"a":{"dtype":"`+strings.Repeat("F", 65)+`","shape":[1],"data_offsets":[0,4]}}`, zeros(4)), ErrDType},

		// Shapes.
		{"shape-not-array", st(`{"a":{"dtype":"F32","shape":4,"data_offsets":[0,4]}}`, zeros(4)), ErrShape},
		{"shape-negative", st(`{`+f32Entry("a", "-1", 0, 4)+`}`, zeros(4)), ErrShape},
		{"shape-negative-zero", st(`{` + f32Entry("a", "-0", 0, 0) + `}`), ErrShape},
		{"shape-fraction", st(`{`+f32Entry("a", "1.0", 0, 4)+`}`, zeros(4)), ErrShape},
		{"shape-exponent", st(`{`+f32Entry("a", "1e0", 0, 4)+`}`, zeros(4)), ErrShape},
		{"shape-string", st(`{`+f32Entry("a", `"1"`, 0, 4)+`}`, zeros(4)), ErrShape},
		{"shape-null", st(`{`+f32Entry("a", `null`, 0, 4)+`}`, zeros(4)), ErrShape},
		{"shape-nested", st(`{`+f32Entry("a", `[1]`, 0, 4)+`}`, zeros(4)), ErrShape},
		{"shape-dim-2pow48", st(`{`+f32Entry("a", "281474976710656", 0, 4)+`}`, zeros(4)), ErrShape},
		{"shape-dim-2pow64", st(`{`+f32Entry("a", "18446744073709551616", 0, 4)+`}`, zeros(4)), ErrShape},
		{"shape-rank-65", st(`{`+f32Entry("a", rank65, 0, 4)+`}`, zeros(4)), ErrRank},
		{"shape-numel-overflow", st(`{`+f32Entry("a", "16777216,16777216,16777216", 0, 4)+`}`, zeros(4)), ErrSizeOverflow},
		{"shape-numel-overflow-before-zero", st(`{` + f32Entry("a", "16777216,16777216,16777216,0", 0, 0) + `}`), ErrSizeOverflow},
		{"shape-bytes-overflow", st(`{"a":{"dtype":"F64","shape":[70368744177664],"data_offsets":[0,8]}}`, zeros(8)), ErrSizeOverflow},

		// data_offsets.
		{"offsets-not-array", st(`{"a":{"dtype":"F32","shape":[1],"data_offsets":"0-4"}}`, zeros(4)), ErrDataOffsets},
		{"offsets-one-element", st(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, zeros(4)), ErrDataOffsets},
		{"offsets-three-elements", st(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, zeros(8)), ErrDataOffsets},
		{"offsets-negative", st(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, zeros(4)), ErrDataOffsets},
		{"offsets-reversed", st(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, zeros(4)), ErrDataOffsets},
		{"offsets-fraction", st(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4.0]}}`, zeros(4)), ErrDataOffsets},
		{"offsets-over-2pow48", st(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[281474976710656,281474976710657]}}`, zeros(1)), ErrDataOffsets},
		{"size-mismatch", st(`{`+f32Entry("a", "2", 0, 4)+`}`, zeros(4)), ErrSizeMismatch},
		{"size-mismatch-long", st(`{`+f32Entry("a", "1", 0, 8)+`}`, zeros(8)), ErrSizeMismatch},
		{"packed-f4-partial-byte", st(`{"p":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}`, zeros(2)), ErrSizeMismatch},

		// Layout.
		{"gap-at-start", st(`{`+f32Entry("a", "1", 4, 8)+`}`, zeros(8)), ErrTensorGap},
		{"gap-between", st(`{`+ok4+`,`+f32Entry("b", "1", 8, 12)+`}`, zeros(12)), ErrTensorGap},
		{"overlap", st(`{`+f32Entry("a", "2", 0, 8)+`,`+f32Entry("b", "2", 4, 12)+`}`, zeros(12)), ErrTensorOverlap},
		{"overlap-same-range-other-dtype", st(`{`+ok4+`,"b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}`, zeros(4)), ErrTensorOverlap},
		{"overlap-zero-size-inside", st(`{`+f32Entry("a", "2", 0, 8)+`,"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}`, zeros(8)), ErrTensorOverlap},
		{"overlap-unknown-dtype", st(`{"q":{"dtype":"Q8_0","shape":[32],"data_offsets":[0,34]},`+f32Entry("w", "1", 30, 34)+`}`, zeros(34)), ErrTensorOverlap},
		{"data-truncated", st(`{`+f32Entry("a", "4", 0, 16)+`}`, zeros(12)), ErrDataTruncated},
		{"data-truncated-last", st(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"c":{"dtype":"U8","shape":[1],"data_offsets":[4,5]}}`, zeros(4)), ErrDataTruncated},
		{"trailing-data", st(`{`+ok4+`}`, zeros(5)), ErrTrailingData},
		{"trailing-data-no-tensors", st(`{}`, []byte("PK\x03\x04")), ErrTrailingData},
		{"trailing-data-metadata-only", st(`{"__metadata__":{}}`, zeros(1)), ErrTrailingData},
	}
}

// f32Bytes encodes float32 values little-endian.
func f32Bytes(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// TestCraftedFixtures checks that the fixture files match the cases above
// (rewrite them with -update) and that each opens, or fails, as expected.
func TestCraftedFixtures(t *testing.T) {
	cases := craftedCases()
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("two cases named %s", c.name)
		}
		seen[c.name] = true
		path := filepath.Join(craftedDir, c.name+".safetensors")
		if *update {
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		onDisk, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestCraftedFixtures -update)", err)
		}
		if !bytes.Equal(onDisk, c.data) {
			t.Errorf("%s differs from the case that makes it; run go test -run TestCraftedFixtures -update", path)
		}
	}
	// No stray fixtures.
	entries, err := os.ReadDir(craftedDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !seen[strings.TrimSuffix(e.Name(), ".safetensors")] {
			t.Errorf("%s has no case in craftedCases", e.Name())
		}
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(craftedDir, c.name+".safetensors")
			for _, open := range []struct {
				how string
				fn  func() (*File, error)
			}{
				{"Open", func() (*File, error) { return Open(path) }},
				{"NewFile", func() (*File, error) { return NewFile(bytes.NewReader(c.data), int64(len(c.data))) }},
			} {
				f, err := open.fn()
				if c.err == nil {
					if err != nil {
						t.Fatalf("%s: %v", open.how, err)
					}
					exercise(t, f)
					f.Close()
					continue
				}
				if !errors.Is(err, c.err) {
					t.Fatalf("%s: error %v; want %v", open.how, err, c.err)
				}
				var fe *FormatError
				if !errors.As(err, &fe) {
					t.Fatalf("%s: error %T is not a *FormatError", open.how, err)
				}
				if open.how == "Open" && fe.File != path {
					t.Errorf("Open: FormatError.File = %q; want %q", fe.File, path)
				}
				if fe.Offset < -1 || fe.Offset > int64(len(c.data)) {
					t.Errorf("%s: FormatError.Offset = %d, outside the %d-byte file", open.how, fe.Offset, len(c.data))
				}
			}
		})
	}
}

// exercise reads every tensor of a file that opened, as the fuzz target
// does, and checks the invariants of a valid header.
func exercise(t testing.TB, f *File) {
	t.Helper()
	pos := int64(0)
	for _, ti := range f.Tensors {
		if ti.Begin != pos {
			t.Fatalf("tensor %q starts at %d, want %d", ti.Name, ti.Begin, pos)
		}
		pos = ti.End
		if ti.Offset != lengthSize+f.HeaderSize+ti.Begin {
			t.Fatalf("tensor %q: Offset %d", ti.Name, ti.Offset)
		}
		raw, err := f.RawReader(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, ti.Size())
		if _, err := raw.ReadAt(buf, 0); err != nil && ti.Size() > 0 {
			t.Fatalf("reading %q raw: %v", ti.Name, err)
		}
		rr, err := f.RowsAs(ti.Name, 1, ti.NumElements)
		if !ti.DType.Float32Convertible() {
			if !errors.Is(err, ErrNotConvertible) {
				t.Fatalf("RowsAs(%q) with dtype %s: %v; want ErrNotConvertible", ti.Name, ti.DType, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]float32, ti.NumElements)
		if err := rr.ReadRows(dst, 0, 1); err != nil {
			t.Fatal(err)
		}
	}
	if lengthSize+f.HeaderSize+pos != f.Size {
		t.Fatalf("tensors end at %d, file is %d bytes", lengthSize+f.HeaderSize+pos, f.Size)
	}
}
