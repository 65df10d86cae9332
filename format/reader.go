package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"

	"github.com/embstore/embstore/internal/errctx"
	"github.com/embstore/embstore/internal/regfile"
)

// ParseHeader decodes and validates the first HeaderSize bytes of a table
// file whose stored size is fileSize. It checks everything the header says
// (see SPEC.md, "Validation order") but reads no section.
func ParseHeader(b []byte, fileSize int64) (*Header, error) {
	if len(b) < HeaderSize || fileSize < HeaderSize {
		got := min(int64(len(b)), fileSize)
		return nil, formatErr(ErrTruncated, 0, "header", got, "need %d bytes", HeaderSize)
	}
	b = b[:HeaderSize]
	le := binary.LittleEndian
	if string(b[offMagic:offMagic+8]) != Magic {
		return nil, formatErr(ErrBadMagic, offMagic, "magic", fmt.Sprintf("%q", b[offMagic:offMagic+8]), "")
	}
	if v := le.Uint32(b[offEndian:]); v != EndianMarker {
		return nil, formatErr(ErrBadEndian, offEndian, "endian", fmt.Sprintf("%#08x", v), "want %#08x", EndianMarker)
	}
	h := &Header{Major: le.Uint16(b[offMajor:]), Minor: le.Uint16(b[offMinor:])}
	if h.Major != Major {
		return nil, formatErr(ErrUnsupportedVersion, offMajor, "major", h.Major,
			"this reader reads version %d.x; the file is version %d.%d", Major, h.Major, h.Minor)
	}
	h.CRC = le.Uint32(b[offHeaderCRC:])
	if got := CRC(b[:offHeaderCRC]); got != h.CRC {
		return nil, formatErr(ErrHeaderChecksum, offHeaderCRC, "header_crc", fmt.Sprintf("%#08x", h.CRC),
			"computed %#08x", got)
	}
	count := le.Uint32(b[offSectionCount:])
	if count == 0 || count > MaxSections {
		return nil, formatErr(ErrBadSectionTable, offSectionCount, "section_count", count, "want 1 to %d", MaxSections)
	}
	if off, ok := firstNonZero(b, offReserved1, offSectionTable); !ok {
		return nil, formatErr(ErrReservedNonZero, off, "reserved", b[off], "")
	}
	if off, ok := firstNonZero(b, offSectionTable+int(count)*SectionEntrySize, offHeaderCRC); !ok {
		return nil, formatErr(ErrReservedNonZero, off, "reserved", b[off], "")
	}

	h.RequiredFeatures = le.Uint64(b[offRequiredFeatures:])
	if unknown := h.RequiredFeatures &^ KnownRequiredFeatures; unknown != 0 {
		return nil, formatErr(ErrUnsupportedFeature, offRequiredFeatures, "required_features",
			fmt.Sprintf("%#x", h.RequiredFeatures), "unknown bits %#x; a newer embstore wrote this file", unknown)
	}
	h.OptionalFeatures = le.Uint64(b[offOptionalFeatures:])

	size := le.Uint64(b[offFileSize:])
	if size != uint64(fileSize) {
		err := ErrFileSize
		if size > uint64(fileSize) {
			err = ErrTruncated
		}
		return nil, formatErr(err, offFileSize, "file_size", size, "the file holds %d bytes", fileSize)
	}
	h.FileSize = fileSize

	h.DType = DType(le.Uint32(b[offDType:]))
	if !h.DType.Valid() {
		return nil, formatErr(ErrBadDType, offDType, "dtype", uint32(h.DType), "")
	}
	rows := le.Uint64(b[offRows:])
	if rows == 0 || rows > MaxRows {
		return nil, formatErr(ErrBadShape, offRows, "rows", rows, "want 1 to %d", uint64(MaxRows))
	}
	h.Rows = int64(rows)
	dim := le.Uint32(b[offDim:])
	if dim == 0 || dim > MaxDim {
		return nil, formatErr(ErrBadShape, offDim, "dim", dim, "want 1 to %d", MaxDim)
	}
	h.Dim = int(dim)
	stride := le.Uint64(b[offRowStride:])
	if err := checkStride(stride, h.DType, h.Dim); err != "" {
		return nil, formatErr(ErrBadStride, offRowStride, "row_stride", stride, "%s", err)
	}
	h.RowStride = int64(stride)
	align := le.Uint32(b[offAlignment:])
	if align < MinAlignment || align > MaxAlignment || align&(align-1) != 0 {
		return nil, formatErr(ErrBadAlignment, offAlignment, "alignment", align,
			"want a power of two from %d to %d", MinAlignment, MaxAlignment)
	}
	h.Alignment = int64(align)
	h.PositionOffset = int64(le.Uint32(b[offPositionOffset:]))
	h.TokenScale = math.Float32frombits(le.Uint32(b[offTokenScale:]))
	if s := float64(h.TokenScale); math.IsNaN(s) || math.IsInf(s, 0) || s == 0 {
		return nil, formatErr(ErrBadScale, offTokenScale, "token_scale", h.TokenScale, "want a finite, non-zero factor")
	}
	h.ComputeDType = DType(le.Uint32(b[offComputeDType:]))
	if h.ComputeDType != 0 && h.ComputeDType != F16 && h.ComputeDType != BF16 {
		return nil, formatErr(ErrBadDType, offComputeDType, "compute_dtype", uint32(h.ComputeDType),
			"want 0 (f32), 2 (f16) or 3 (bf16)")
	}

	if err := h.parseSections(b[offSectionTable:], int(count)); err != nil {
		return nil, err
	}
	pos, hasPos := h.Section(SectionPositions)
	if !hasPos && h.PositionOffset != 0 {
		return nil, formatErr(ErrInconsistent, offPositionOffset, "position_offset", h.PositionOffset,
			"the file has no positional table")
	}
	if hasPos && h.PositionOffset >= pos.Rows {
		return nil, formatErr(ErrInconsistent, offPositionOffset, "position_offset", h.PositionOffset,
			"the positional table has %d rows", pos.Rows)
	}
	if _, hasVocab := h.Section(SectionVocabulary); !hasVocab {
		for i, s := range h.Sections {
			if s.Kind == SectionSubwords {
				return nil, formatErr(ErrInconsistent, int64(offSectionTable+i*SectionEntrySize+secOffKind),
					fmt.Sprintf("sections[%d].kind", i), s.Kind.String(), "a subwords section needs a vocabulary section")
			}
		}
	}
	return h, nil
}

// checkStride returns why stride is not a valid row stride for dim values of
// dtype d, or "" if it is.
func checkStride(stride uint64, d DType, dim int) string {
	min := uint64(d.RowSize(dim))
	max := uint64(alignUp(int64(min), RowAlign)) + MaxStridePadding
	switch {
	case stride%RowAlign != 0:
		return fmt.Sprintf("not a multiple of %d", RowAlign)
	case stride < min:
		return fmt.Sprintf("smaller than a row of %d %s values (%d bytes)", dim, d, min)
	case stride > max:
		return fmt.Sprintf("more than %d bytes of padding after a %d-byte row", MaxStridePadding, min)
	}
	return ""
}

func (h *Header) parseSections(table []byte, count int) error {
	le := binary.LittleEndian
	want, _ := checkedAlignUp(HeaderSize, h.Alignment)
	seen := map[SectionKind]bool{}
	h.Sections = make([]Section, 0, count)
	for i := range count {
		e := table[i*SectionEntrySize:]
		base := int64(offSectionTable + i*SectionEntrySize)
		field := func(name string) string { return fmt.Sprintf("sections[%d].%s", i, name) }
		s := Section{
			Kind:  SectionKind(le.Uint32(e[secOffKind:])),
			Flags: le.Uint32(e[secOffFlags:]),
			DType: DType(le.Uint32(e[secOffDType:])),
			CRC:   le.Uint32(e[secOffCRC:]),
		}
		offset, length := le.Uint64(e[secOffOffset:]), le.Uint64(e[secOffLength:])
		rows, stride := le.Uint64(e[secOffRows:]), le.Uint64(e[secOffRowStride:])
		switch {
		case s.Kind == 0:
			return formatErr(ErrBadSectionTable, base+secOffKind, field("kind"), 0, "kind 0 is invalid")
		case s.Flags&^FlagRequired != 0:
			return formatErr(ErrBadSectionTable, base+secOffFlags, field("flags"), s.Flags, "unknown flag bits")
		case !s.Kind.Known() && s.Flags&FlagRequired != 0:
			return formatErr(ErrUnsupportedFeature, base+secOffKind, field("kind"), uint32(s.Kind),
				"a required section this reader does not know; a newer embstore wrote this file")
		case seen[s.Kind]:
			return formatErr(ErrDuplicateSection, base+secOffKind, field("kind"), s.Kind.String(), "")
		case i == 0 && s.Kind != SectionTokens:
			return formatErr(ErrMissingTokens, base+secOffKind, field("kind"), s.Kind.String(),
				"the first section must be the token table")
		}
		seen[s.Kind] = true
		if offset != uint64(want) {
			return formatErr(ErrSectionPlacement, base+secOffOffset, field("offset"), offset,
				"want %d (previous section end aligned to %d)", want, h.Alignment)
		}
		if length == 0 || length > math.MaxInt64 {
			return formatErr(ErrBadSectionTable, base+secOffLength, field("length"), length, "")
		}
		s.Offset, s.Length = int64(offset), int64(length)
		end, ok := checkedAdd(s.Offset, s.Length)
		if !ok || end > h.FileSize {
			return formatErr(ErrSectionBounds, base+secOffLength, field("length"), length,
				"section %s ends past the end of the %d-byte file", s.Kind, h.FileSize)
		}
		if err := h.checkRowFields(&s, rows, stride, base, field); err != nil {
			return err
		}
		h.Sections = append(h.Sections, s)
		if i == count-1 {
			if end != h.FileSize {
				return formatErr(ErrSectionBounds, base+secOffLength, field("length"), length,
					"the last section ends at %d but the file has %d bytes", end, h.FileSize)
			}
			break
		}
		if want, ok = checkedAlignUp(end, h.Alignment); !ok {
			return formatErr(ErrSectionBounds, base+secOffLength, field("length"), length, "offset overflow")
		}
	}
	return nil
}

// checkRowFields validates an entry's rows, row_stride and dtype fields and
// stores them in s.
func (h *Header) checkRowFields(s *Section, rows, stride uint64, base int64, field func(string) string) error {
	switch s.Kind {
	case SectionTokens:
		switch {
		case rows != uint64(h.Rows):
			return formatErr(ErrInconsistent, base+secOffRows, field("rows"), rows, "header rows is %d", h.Rows)
		case stride != uint64(h.RowStride):
			return formatErr(ErrInconsistent, base+secOffRowStride, field("row_stride"), stride,
				"header row_stride is %d", h.RowStride)
		case s.DType != h.DType:
			return formatErr(ErrInconsistent, base+secOffDType, field("dtype"), uint32(s.DType),
				"header dtype is %d", uint32(h.DType))
		}
	case SectionPositions:
		switch {
		case rows == 0 || rows > MaxPositions:
			return formatErr(ErrBadShape, base+secOffRows, field("rows"), rows, "want 1 to %d positions", MaxPositions)
		case !s.DType.Valid():
			return formatErr(ErrBadDType, base+secOffDType, field("dtype"), uint32(s.DType), "")
		case s.DType != F32:
			return formatErr(ErrUnsupportedFeature, base+secOffDType, field("dtype"), s.DType.String(),
				"positional tables must be f32 in version %d.%d", Major, Minor)
		}
		if why := checkStride(stride, s.DType, h.Dim); why != "" {
			return formatErr(ErrBadStride, base+secOffRowStride, field("row_stride"), stride, "%s", why)
		}
	case SectionSubwords:
		switch {
		case rows == 0 || rows > MaxRows:
			return formatErr(ErrBadShape, base+secOffRows, field("rows"), rows, "want 1 to %d subword rows", uint64(MaxRows))
		case !s.DType.Valid():
			return formatErr(ErrBadDType, base+secOffDType, field("dtype"), uint32(s.DType), "")
		}
		if why := checkStride(stride, s.DType, h.Dim); why != "" {
			return formatErr(ErrBadStride, base+secOffRowStride, field("row_stride"), stride, "%s", why)
		}
	case SectionMetadata, SectionVocabulary, SectionTokenizer, SectionNorms:
		var at int64
		var name string
		var value any
		switch {
		case rows != 0:
			at, name, value = secOffRows, "rows", rows
		case stride != 0:
			at, name, value = secOffRowStride, "row_stride", stride
		case s.DType != 0:
			at, name, value = secOffDType, "dtype", uint32(s.DType)
		}
		if name != "" {
			return formatErr(ErrBadSectionTable, base+at, field(name), value,
				"rows, row_stride and dtype must be zero for a %s section", s.Kind)
		}
		return h.checkByteSection(s, base, field)
	default: // an unknown optional section: its row fields mean nothing to us
		s.DType = 0
		return nil
	}
	s.Rows, s.RowStride = int64(rows), int64(stride)
	n, ok := checkedMul(s.Rows, s.RowStride)
	if !ok || n != s.Length {
		return formatErr(ErrInconsistent, base+secOffLength, field("length"), s.Length,
			"%d rows of %d bytes need %d bytes", rows, stride, n)
	}
	return nil
}

// checkByteSection checks the length of a section that does not hold rows,
// the one field of its entry that ParseHeader can check without reading it.
func (h *Header) checkByteSection(s *Section, base int64, field func(string) string) error {
	switch s.Kind {
	case SectionMetadata:
		if s.Length > MaxMetadataSize {
			return formatErr(ErrBadMetadata, base+secOffLength, field("length"), s.Length,
				"metadata is limited to %d bytes", MaxMetadataSize)
		}
	case SectionNorms:
		if s.Length != 4*h.Rows { // rows <= MaxRows: no overflow
			return formatErr(ErrBadNorms, base+secOffLength, field("length"), s.Length,
				"%d rows need %d bytes of norms", h.Rows, 4*h.Rows)
		}
	case SectionVocabulary:
		if min, _ := vocabLength(h.Rows, 1, 0); s.Length < min {
			return formatErr(ErrBadVocabulary, base+secOffLength, field("length"), s.Length,
				"the vocabulary of %d rows needs at least %d bytes", h.Rows, min)
		}
	case SectionTokenizer:
		if s.Length <= TokenizerHeader {
			return formatErr(ErrBadTokenizer, base+secOffLength, field("length"), s.Length,
				"want more than the %d-byte fixed fields", TokenizerHeader)
		}
	}
	return nil
}

// firstNonZero reports the offset of the first non-zero byte of b[from:to],
// and false, or true if they are all zero.
func firstNonZero(b []byte, from, to int) (int64, bool) {
	for i := from; i < to; i++ {
		if b[i] != 0 {
			return int64(i), false
		}
	}
	return 0, true
}

// readAt fills p from r at off. An io.ReaderAt may return io.EOF along with
// a complete read that ends at the end of its input: that is a success.
func readAt(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF // a ReaderAt that breaks its contract
	}
	return err
}

// A Reader reads a table file through an io.ReaderAt. NewReader validates the
// header and the metadata; it reads no row. Its methods are safe for
// concurrent use if the underlying ReaderAt is.
type Reader struct {
	Header
	r         io.ReaderAt
	metadata  []byte
	vocab     *VocabInfo     // nil without a vocabulary section
	tokenizer *TokenizerInfo // nil without a tokenizer section
}

// NewReader validates the table file of the given size read through r: the
// header (see ParseHeader) and the metadata section, whose checksum it
// verifies. It returns a *FormatError wrapping one of the sentinel errors if
// the file is invalid, or the I/O error from r.
func NewReader(r io.ReaderAt, size int64) (*Reader, error) {
	if size < HeaderSize {
		return nil, formatErr(ErrTruncated, 0, "header", size, "the file holds %d bytes; a header needs %d", size, HeaderSize)
	}
	buf := make([]byte, HeaderSize)
	if err := readAt(r, buf, 0); err != nil {
		return nil, fmt.Errorf("embstore: read header: %w", err)
	}
	h, err := ParseHeader(buf, size)
	if err != nil {
		return nil, err
	}
	rd := &Reader{Header: *h, r: r}
	if s, ok := h.Section(SectionMetadata); ok {
		md := make([]byte, s.Length) // s.Length <= MaxMetadataSize, checked by ParseHeader
		if err := readAt(r, md, s.Offset); err != nil {
			return nil, fmt.Errorf("embstore: read metadata: %w", err)
		}
		if got := CRC(md); got != s.CRC {
			return nil, formatErr(ErrChecksum, s.Offset, "metadata", fmt.Sprintf("%#08x", s.CRC), "computed %#08x", got)
		}
		if err := ValidateMetadata(md); err != nil {
			return nil, formatErr(ErrBadMetadata, s.Offset, "metadata", nil, "%v", err)
		}
		rd.metadata = md
	}
	if err := rd.readSectionHeaders(); err != nil {
		return nil, err
	}
	return rd, nil
}

// readSectionHeaders reads and checks the fixed fields of the version 1.1
// sections (a few dozen bytes each, whatever their size), and that a
// vocabulary's subword scheme and the subwords section go together.
func (r *Reader) readSectionHeaders() error {
	if s, ok := r.Section(SectionVocabulary); ok {
		read := func(p []byte, off int64) error {
			if err := readAt(r.r, p, s.Offset+off); err != nil {
				return fmt.Errorf("embstore: read vocabulary: %w", err)
			}
			return nil
		}
		info, err := parseVocab(read, s.Offset, s.Length, r.Rows)
		if err != nil {
			return err
		}
		if _, hasSub := r.Section(SectionSubwords); hasSub != (info.Subwords != 0) {
			detail := "the table has a subwords section but the vocabulary no subword scheme"
			if !hasSub {
				detail = "the vocabulary has a subword scheme but the table no subwords section"
			}
			return formatErr(ErrInconsistent, s.Offset+vocOffSubwords, "vocabulary.subwords", info.Subwords, "%s", detail)
		}
		r.vocab = &info
	}
	if s, ok := r.Section(SectionTokenizer); ok {
		var h [TokenizerHeader]byte
		if err := readAt(r.r, h[:], s.Offset); err != nil {
			return fmt.Errorf("embstore: read tokenizer: %w", err)
		}
		info, err := parseTokenizerHeader(h[:], s.Offset, s.Length)
		if err != nil {
			return err
		}
		r.tokenizer = &info
	}
	return nil
}

// Metadata returns the metadata section's JSON document, or nil if the file
// has none. The caller must not modify it.
func (r *Reader) Metadata() []byte { return r.metadata }

// SectionReader returns a reader for the bytes of section s.
func (r *Reader) SectionReader(s Section) *io.SectionReader {
	return io.NewSectionReader(r.r, s.Offset, s.Length)
}

// ReadRows decodes n rows starting at row first of the row section s into
// dst as float32, converting from the section's dtype. len(dst) must be at
// least n*Dim. It is meant for tools that copy tables; lookups go through the
// store package.
func (r *Reader) ReadRows(s Section, first, n int64, dst []float32) error {
	if !s.Kind.IsRows() || first < 0 || n < 0 || first > s.Rows-n {
		return fmt.Errorf("embstore: rows [%d, %d) out of range of %s section with %d rows", first, first+n, s.Kind, s.Rows)
	}
	if int64(len(dst)) < n*int64(r.Dim) {
		return fmt.Errorf("embstore: destination holds %d values, need %d", len(dst), n*int64(r.Dim))
	}
	bp := readBufPool.Get().(*[]byte)
	defer readBufPool.Put(bp)
	buf := *bp // holds at least one row: strides are at most MaxDim*4 + padding
	for done := int64(0); done < n; {
		k := min(n-done, int64(len(buf))/s.RowStride)
		chunk := buf[:k*s.RowStride]
		if err := readAt(r.r, chunk, s.Offset+(first+done)*s.RowStride); err != nil {
			return fmt.Errorf("embstore: read %s rows: %w", s.Kind, err)
		}
		for i := range k {
			row := chunk[i*s.RowStride:]
			DecodeRow(dst[(done+i)*int64(r.Dim):(done+i+1)*int64(r.Dim)], row, s.DType)
		}
		done += k
	}
	return nil
}

// readBufPool holds the 1 MiB buffers ReadRows reads through, so that
// callers reading a table in chunks do not allocate one per call.
var readBufPool = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// A Check is the result of verifying one section, or the padding that
// follows it.
type Check struct {
	Name   string // section kind, or "padding after <kind>"
	Offset int64
	Length int64
	Want   uint32 // stored CRC-32C (sections only)
	Got    uint32 // computed CRC-32C (sections only)
	Err    error  // nil if the check passed
}

// Verify reads the whole file and recomputes every section's checksum, and
// checks that row padding and the padding between sections are zero. It
// also checks the content of the version 1.1 sections whose checksum
// holds: the vocabulary's offsets, strings and index (Vocabulary.Check), the
// tokenizer's compressed document (ParseTokenizerSection), and that every
// norm is the norm of its token row (when the token table's checksum holds
// too). It returns one Check per section and per padding run, and an error
// wrapping ErrChecksum, ErrPaddingNonZero, ErrBadVocabulary,
// ErrBadTokenizer or ErrBadNorms (all failures joined) if any check
// failed, or the first I/O error. It holds the vocabulary and tokenizer
// sections in memory while it checks them.
func (r *Reader) Verify() ([]Check, error) {
	var checks []Check
	var failures []error
	buf := make([]byte, min(1<<20, r.FileSize))
	var norms *normsCheck
	if s, ok := r.Section(SectionNorms); ok {
		norms = &normsCheck{r: r, sec: s, normer: newRowNormer(&r.Header)}
	}
	for i, s := range r.Sections {
		c := Check{Name: s.Kind.String(), Offset: s.Offset, Length: s.Length, Want: s.CRC}
		var crc uint32
		var padErr, content error
		switch s.Kind {
		case SectionVocabulary, SectionTokenizer:
			data, err := r.readSection(s)
			if err != nil {
				return checks, err
			}
			if crc = CRC(data); crc == s.CRC {
				content = r.checkContent(s, data)
			}
		default:
			var hook func(chunk []byte, row int64) error
			if s.Kind == SectionTokens && norms != nil {
				hook = norms.rows
			}
			var err error
			if crc, padErr, err = r.scanSection(s, buf, hook); err != nil {
				return checks, err
			}
		}
		c.Got = crc
		switch {
		case crc != s.CRC:
			c.Err = formatErr(ErrChecksum, s.Offset, s.Kind.String(), fmt.Sprintf("%#08x", s.CRC), "computed %#08x", crc)
		case padErr != nil:
			c.Err = padErr
		case content != nil:
			c.Err = content
		case s.Kind == SectionNorms && norms.tokensOK:
			c.Err = norms.err // a mismatch is only reported when both checksums hold
		}
		if s.Kind == SectionTokens && norms != nil {
			norms.tokensOK = crc == s.CRC && padErr == nil
		}
		if c.Err != nil {
			failures = append(failures, c.Err)
		}
		checks = append(checks, c)
		if i+1 < len(r.Sections) {
			next := r.Sections[i+1].Offset
			p := Check{Name: "padding after " + s.Kind.String(), Offset: s.End(), Length: next - s.End()}
			if p.Length > 0 {
				off, err := r.firstNonZeroAt(s.End(), next, buf)
				if err != nil {
					return checks, err
				}
				if off >= 0 {
					p.Err = formatErr(ErrPaddingNonZero, off, "padding after "+s.Kind.String(), nil, "")
					failures = append(failures, p.Err)
				}
				checks = append(checks, p)
			}
		}
	}
	return checks, errors.Join(failures...)
}

// checkContent checks the content of a vocabulary or tokenizer section whose
// bytes (checksum verified) are data.
func (r *Reader) checkContent(s Section, data []byte) error {
	switch s.Kind {
	case SectionVocabulary:
		v, err := NewVocabulary(data, s.Offset, r.Rows)
		if err != nil {
			return err
		}
		return v.Check()
	case SectionTokenizer:
		_, err := ParseTokenizerSection(data, s.Offset)
		return err
	}
	return nil
}

// normsCheck compares the norms section with the norms of the token rows,
// as Verify reads them.
type normsCheck struct {
	r        *Reader
	sec      Section
	normer   *rowNormer
	stored   []byte
	err      error // the first mismatch
	tokensOK bool  // the token table's checksum and padding hold
}

// rows compares the norms of the token rows in chunk, the first of which is
// row first, with the stored ones.
func (n *normsCheck) rows(chunk []byte, first int64) error {
	stride := n.r.RowStride
	k := int64(len(chunk)) / stride
	if n.err != nil || k == 0 {
		return nil
	}
	if int64(cap(n.stored)) < 4*k {
		n.stored = make([]byte, 4*k)
	}
	stored := n.stored[:4*k]
	if err := readAt(n.r.r, stored, n.sec.Offset+4*first); err != nil {
		return fmt.Errorf("embstore: read norms: %w", err)
	}
	for i := range k {
		want := n.normer.norm(chunk[i*stride:])
		got := binary.LittleEndian.Uint32(stored[4*i:])
		if got != normBits(want) {
			n.err = formatErr(ErrBadNorms, n.sec.Offset+4*(first+i), fmt.Sprintf("norms[%d]", first+i),
				math.Float32frombits(got), "the norm of token row %d is %v (bits %#08x)", first+i, want, normBits(want))
			return nil
		}
	}
	return nil
}

// scanSection computes the CRC-32C of section s and, for row sections, checks
// that the padding at the end of every row is zero. It reads whole rows at a
// time, so a row's padding is always inside one chunk; hook, if not nil, is
// called with each chunk of whole rows and the index of its first row.
func (r *Reader) scanSection(s Section, buf []byte, hook func(chunk []byte, row int64) error) (crc uint32, padErr, err error) {
	var rowSize, stride int64
	if s.Kind.IsRows() && s.Kind.Known() {
		rowSize, stride = s.DType.RowSize(r.Dim), s.RowStride
		if n := max(1, int64(len(buf))/stride) * stride; n <= int64(len(buf)) {
			buf = buf[:n]
		} else {
			buf = make([]byte, n)
		}
	}
	for off := int64(0); off < s.Length; {
		chunk := buf[:min(int64(len(buf)), s.Length-off)]
		if err := readAt(r.r, chunk, s.Offset+off); err != nil {
			return 0, nil, fmt.Errorf("embstore: read %s section: %w", s.Kind, err)
		}
		crc = UpdateCRC(crc, chunk)
		for row := int64(0); rowSize < stride && padErr == nil && row < int64(len(chunk)); row += stride {
			if !allZero(chunk[row+rowSize : row+stride]) {
				idx := (off + row) / stride
				padErr = formatErr(ErrPaddingNonZero, s.Offset+off+row+rowSize, s.Kind.String()+" row padding", idx, "")
			}
		}
		if hook != nil {
			if err := hook(chunk, off/stride); err != nil {
				return 0, nil, err
			}
		}
		off += int64(len(chunk))
	}
	return crc, padErr, nil
}

// firstNonZeroAt returns the offset of the first non-zero byte in [from, to),
// or -1.
func (r *Reader) firstNonZeroAt(from, to int64, buf []byte) (int64, error) {
	for off := from; off < to; {
		chunk := buf[:min(int64(len(buf)), to-off)]
		if err := readAt(r.r, chunk, off); err != nil {
			return 0, fmt.Errorf("embstore: read padding: %w", err)
		}
		for i, c := range chunk {
			if c != 0 {
				return off + int64(i), nil
			}
		}
		off += int64(len(chunk))
	}
	return -1, nil
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// A File is a table file opened with Open: a Reader that owns its *os.File.
type File struct {
	*Reader
	f *os.File
}

// Open opens the named table file and validates it with NewReader. Errors
// that come from the file system are *fs.PathError; a file that is not a
// regular file (a directory, device or named pipe, which Open never blocks
// on) is refused with one wrapping ErrNotRegular. Format errors are wrapped
// with the file name.
func Open(name string) (*File, error) {
	f, st, err := regfile.Open(name)
	if err != nil {
		return nil, err
	}
	r, err := NewReader(f, st.Size())
	if err != nil {
		f.Close()
		return nil, errctx.In("embstore", name, err)
	}
	return &File{Reader: r, f: f}, nil
}

// Close closes the underlying file.
func (f *File) Close() error { return f.f.Close() }
