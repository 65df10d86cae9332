package format

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
)

// Magic is the first 8 bytes of every table file.
const Magic = "\x89EMBTAB\n"

// Version of the format this package reads and writes. It reads any minor
// version of the same major version. A writer records the lowest minor
// version that describes its file: 1 when it has a section of a kind that
// version 1.1 added (vocabulary, tokenizer, norms, subwords), else 0, so
// that files without them are byte for byte what a 1.0 writer made.
const (
	Major = 1
	Minor = 1
)

// EndianMarker is the endianness marker, stored little-endian.
const EndianMarker = 0x01020304

// Byte offsets of the header fields, as in SPEC.md.
const (
	offMagic            = 0
	offMajor            = 8
	offMinor            = 10
	offEndian           = 12
	offRequiredFeatures = 16
	offOptionalFeatures = 24
	offFileSize         = 32
	offRows             = 40
	offDim              = 48
	offDType            = 52
	offRowStride        = 56
	offAlignment        = 64
	offSectionCount     = 68
	offPositionOffset   = 72
	offTokenScale       = 76
	offComputeDType     = 80
	offReserved1        = 84
	offSectionTable     = 128
	offReserved2        = offSectionTable + MaxSections*SectionEntrySize
	offHeaderCRC        = HeaderSize - 4
)

// Byte offsets of the fields inside a section entry.
const (
	secOffKind      = 0
	secOffFlags     = 4
	secOffOffset    = 8
	secOffLength    = 16
	secOffRows      = 24
	secOffRowStride = 32
	secOffDType     = 40
	secOffCRC       = 44
)

// Sizes and limits of the format. Readers enforce every limit before they
// allocate or map anything sized by a header field.
const (
	HeaderSize       = 4096 // the fixed header, section table included
	SectionEntrySize = 48   // one section table entry
	MaxSections      = 16   // section table capacity
	RowAlign         = 64   // row strides are multiples of this
	MaxStridePadding = 4096 // row_stride may exceed the aligned row size by at most this
	MaxRows          = 1<<32 - 1
	MaxDim           = 65536
	MaxPositions     = 1 << 24
	MaxMetadataSize  = 1 << 20
	MaxMetadataDepth = 32
	MinAlignment     = 64
	MaxAlignment     = 1 << 21
	DefaultAlignment = 4096

	// Version 1.1 sections (see vocab.go, tokenizer_section.go, norms.go).
	VocabHeaderSize  = 64       // the fixed fields at the start of a vocabulary section
	TokenizerHeader  = 16       // the fixed fields at the start of a tokenizer section
	MaxTokenizerSize = 64 << 20 // a tokenizer document, decompressed
	MaxSubwordN      = 64       // longest character n-gram of a subword scheme
)

// The feature bits this reader knows. Versions 1.0 and 1.1 define none; the masks
// exist so that a reader can refuse what it cannot read.
const (
	KnownRequiredFeatures uint64 = 0
	KnownOptionalFeatures uint64 = 0
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC returns the CRC-32C (Castagnoli) of b, the checksum the format uses.
func CRC(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// UpdateCRC returns the CRC-32C of the bytes summarised by crc followed by b.
func UpdateCRC(crc uint32, b []byte) uint32 { return crc32.Update(crc, castagnoli, b) }

// A DType is the storage type of a row section.
type DType uint32

// The storage types. Lookups always produce float32.
const (
	F32  DType = 1 // IEEE 754 binary32
	F16  DType = 2 // IEEE 754 binary16
	BF16 DType = 3 // bfloat16
	Int8 DType = 4 // row-wise quantised uint8 with a per-row f32 scale and bias
)

var dtypeNames = map[DType]string{F32: "f32", F16: "f16", BF16: "bf16", Int8: "int8"}

func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", uint32(d))
}

// Valid reports whether d is a defined storage type.
func (d DType) Valid() bool { _, ok := dtypeNames[d]; return ok }

// ParseDType returns the DType named s ("f32", "f16", "bf16", "int8").
func ParseDType(s string) (DType, error) {
	for d, name := range dtypeNames {
		if name == s {
			return d, nil
		}
	}
	return 0, fmt.Errorf("unknown dtype %q (want f32, f16, bf16 or int8)", s)
}

// RowSize returns the number of bytes a row of dim values occupies in dtype d
// before padding, or 0 if d is not valid.
func (d DType) RowSize(dim int) int64 {
	switch d {
	case F32:
		return 4 * int64(dim)
	case F16, BF16:
		return 2 * int64(dim)
	case Int8:
		return alignUp(int64(dim), 4) + 8
	}
	return 0
}

// Int8ScaleOffset returns the byte offset, inside an int8 row of dim values,
// of the row's f32 scale; the f32 bias follows it.
func Int8ScaleOffset(dim int) int { return int(alignUp(int64(dim), 4)) }

// RowStride returns the row stride writers use for dim values of dtype d:
// the row size rounded up to a multiple of 64.
func RowStride(d DType, dim int) int64 { return alignUp(d.RowSize(dim), RowAlign) }

// A SectionKind says what a section holds.
type SectionKind uint32

// The section kinds of version 1.0, and the optional ones version 1.1 adds.
const (
	SectionTokens     SectionKind = 1 // the token table (required, always first)
	SectionPositions  SectionKind = 2 // the positional table
	SectionMetadata   SectionKind = 3 // a JSON metadata document
	SectionVocabulary SectionKind = 4 // the string of each token row and a hash index string -> row (1.1)
	SectionTokenizer  SectionKind = 5 // a zstd-compressed Hugging Face tokenizer.json (1.1)
	SectionNorms      SectionKind = 6 // one f32 per token row: the L2 norm of the row as looked up (1.1)
	SectionSubwords   SectionKind = 7 // fastText's character n-gram bucket rows (1.1)
)

var kindNames = map[SectionKind]string{
	SectionTokens: "tokens", SectionPositions: "positions", SectionMetadata: "metadata",
	SectionVocabulary: "vocabulary", SectionTokenizer: "tokenizer", SectionNorms: "norms", SectionSubwords: "subwords",
}

func (k SectionKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", uint32(k))
}

// Known reports whether this package knows the section kind.
func (k SectionKind) Known() bool { _, ok := kindNames[k]; return ok }

// IsRows reports whether sections of kind k hold rows (and so use the rows,
// row_stride and dtype fields of their entry).
func (k SectionKind) IsRows() bool {
	return k == SectionTokens || k == SectionPositions || k == SectionSubwords
}

// since11 reports whether kind k is one of the sections version 1.1 added,
// whose presence makes a writer record minor version 1.
func (k SectionKind) since11() bool { return k >= SectionVocabulary && k <= SectionSubwords }

// FlagRequired marks a section that a reader must understand: a reader that
// does not know the section's kind rejects the file.
const FlagRequired uint32 = 1

// A Section is one decoded entry of the section table.
type Section struct {
	Kind      SectionKind
	Flags     uint32
	Offset    int64 // absolute offset of the first byte
	Length    int64 // length in bytes
	Rows      int64 // row sections: number of rows
	RowStride int64 // row sections: bytes from one row to the next
	DType     DType // row sections: storage type
	CRC       uint32
}

// End returns the offset one past the section's last byte.
func (s Section) End() int64 { return s.Offset + s.Length }

// A Header is the decoded, validated header of a table file.
type Header struct {
	Major, Minor     uint16
	RequiredFeatures uint64
	OptionalFeatures uint64
	FileSize         int64
	Rows             int64 // rows of the token table
	Dim              int   // values per row
	DType            DType // storage type of the token rows
	RowStride        int64 // bytes between token rows
	Alignment        int64 // section alignment
	PositionOffset   int64 // positional row of position 0
	TokenScale       float32
	ComputeDType     DType // 0 (f32), F16 or BF16: the precision lookups compute in
	Sections         []Section
	CRC              uint32
}

// Section returns the section of kind k and whether the file has one.
func (h *Header) Section(k SectionKind) (Section, bool) {
	for _, s := range h.Sections {
		if s.Kind == k {
			return s, true
		}
	}
	return Section{}, false
}

// Tokens returns the token table's section.
func (h *Header) Tokens() Section { return h.Sections[0] }

// Positions returns the number of rows of the positional table, 0 if the file
// has none.
func (h *Header) Positions() int64 {
	s, _ := h.Section(SectionPositions)
	return s.Rows
}

// Encode returns h as the HeaderSize bytes that start a file, header CRC
// included. It does not validate h: build headers with Layout.Header.
func (h *Header) Encode() []byte {
	b := make([]byte, HeaderSize)
	le := binary.LittleEndian
	copy(b[offMagic:], Magic)
	le.PutUint16(b[offMajor:], h.Major)
	le.PutUint16(b[offMinor:], h.Minor)
	le.PutUint32(b[offEndian:], EndianMarker)
	le.PutUint64(b[offRequiredFeatures:], h.RequiredFeatures)
	le.PutUint64(b[offOptionalFeatures:], h.OptionalFeatures)
	le.PutUint64(b[offFileSize:], uint64(h.FileSize))
	le.PutUint64(b[offRows:], uint64(h.Rows))
	le.PutUint32(b[offDim:], uint32(h.Dim))
	le.PutUint32(b[offDType:], uint32(h.DType))
	le.PutUint64(b[offRowStride:], uint64(h.RowStride))
	le.PutUint32(b[offAlignment:], uint32(h.Alignment))
	le.PutUint32(b[offSectionCount:], uint32(len(h.Sections)))
	le.PutUint32(b[offPositionOffset:], uint32(h.PositionOffset))
	le.PutUint32(b[offTokenScale:], math.Float32bits(h.TokenScale))
	le.PutUint32(b[offComputeDType:], uint32(h.ComputeDType))
	for i, s := range h.Sections {
		e := b[offSectionTable+i*SectionEntrySize:]
		le.PutUint32(e[secOffKind:], uint32(s.Kind))
		le.PutUint32(e[secOffFlags:], s.Flags)
		le.PutUint64(e[secOffOffset:], uint64(s.Offset))
		le.PutUint64(e[secOffLength:], uint64(s.Length))
		le.PutUint64(e[secOffRows:], uint64(s.Rows))
		le.PutUint64(e[secOffRowStride:], uint64(s.RowStride))
		le.PutUint32(e[secOffDType:], uint32(s.DType))
		le.PutUint32(e[secOffCRC:], s.CRC)
	}
	le.PutUint32(b[offHeaderCRC:], CRC(b[:offHeaderCRC]))
	return b
}

// alignUp rounds x up to a multiple of a, a power of two. The caller makes
// sure the result cannot overflow.
func alignUp(x, a int64) int64 { return (x + a - 1) &^ (a - 1) }

// checkedAlignUp rounds x up to a multiple of a (a power of two), reporting
// false if the result does not fit in an int64.
func checkedAlignUp(x, a int64) (int64, bool) {
	if x < 0 || x > math.MaxInt64-(a-1) {
		return 0, false
	}
	return alignUp(x, a), true
}

// checkedMul returns a*b for non-negative a and b, reporting false if the
// product does not fit in an int64.
func checkedMul(a, b int64) (int64, bool) {
	if a < 0 || b < 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	return int64(lo), true
}

// checkedAdd returns a+b for non-negative a and b, reporting false on
// overflow.
func checkedAdd(a, b int64) (int64, bool) {
	if a < 0 || b < 0 || a > math.MaxInt64-b {
		return 0, false
	}
	return a + b, true
}
