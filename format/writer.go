package format

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"

	"github.com/embstore/embstore/internal/floatconv"
)

// A Layout describes the table a Writer writes. The zero values of DType,
// TokenScale and Alignment mean F32, 1 and DefaultAlignment; ComputeDType
// 0 and F32 both mean plain f32 arithmetic (stored as 0). The fields after
// Alignment describe the optional sections of version 1.1: a table that has
// none is a version 1.0 file.
type Layout struct {
	Rows           int64   // token rows (vocabulary size), 1 to MaxRows; with RowsAtMost an upper bound
	Dim            int     // values per row, 1 to MaxDim
	DType          DType   // storage type of the token rows (and of the subword rows)
	Positions      int64   // rows of the positional table, 0 for none
	PositionOffset int64   // positional row of position 0
	TokenScale     float32 // factor applied to token rows on lookup
	ComputeDType   DType   // 0 or F32 (no rounding), F16 or BF16: see SPEC.md, compute_dtype
	Alignment      int64   // section alignment, a power of two in [64, 2^21]

	// RowsAtMost makes Rows an upper bound: the token table has as many rows
	// as are written before it ends (Writer.EndTokens, the first positional
	// or subword row, or Close), at least one. For sources whose row count is
	// known only at their end (GloVe has no header; word-vector imports drop
	// duplicate words). Space is reserved for Rows rows.
	RowsAtMost bool
	// Vocabulary adds a vocabulary section: the string of every token row,
	// given in row order with Writer.WriteStrings, and a hash index the
	// writer builds from them.
	Vocabulary bool
	// Norms adds a norms section, which the writer computes from the token
	// rows as they are written (4 bytes a row, held until Close).
	Norms bool
	// Subwords is the number of rows of a subwords section (fastText's
	// bucket count), 0 for none; the rows are written after the positional
	// rows, in DType. A subwords section needs Vocabulary, and the subword
	// scheme's n-gram lengths: 1 <= SubwordMinN <= SubwordMaxN <= MaxSubwordN.
	Subwords                 int64
	SubwordMinN, SubwordMaxN int
}

// SectionLengths are the lengths of the sections whose size depends on
// their content rather than on the layout: 0 for a section the table does
// not have.
type SectionLengths struct {
	Vocabulary int64 // VocabularyLength of its strings; needed when Layout.Vocabulary is set
	Tokenizer  int64 // the tokenizer section, as EncodeTokenizerSection returns it
	Metadata   int64 // the metadata document
}

// VocabularyLength returns the length of the vocabulary section of a table
// of rows rows, count of which have a string, of blobLength bytes in all.
func VocabularyLength(rows, count, blobLength int64) int64 {
	n, _ := vocabLength(rows, VocabSlots(count), blobLength)
	return n
}

// Header returns the header of a file with this layout and a metadata
// document of metadataLen bytes (0 for none), checking every field as a
// reader would. Section checksums are left zero. A layout with a
// vocabulary needs its length: see HeaderWith.
func (l Layout) Header(metadataLen int64) (*Header, error) {
	return l.HeaderWith(SectionLengths{Metadata: metadataLen})
}

// HeaderWith returns the header of a file with this layout and sections of
// the given lengths, checking every field as a reader would. Section
// checksums are left zero. With RowsAtMost, it is the header of a table of
// Rows rows.
func (l Layout) HeaderWith(n SectionLengths) (*Header, error) {
	if l.Vocabulary {
		if min := VocabularyLength(max(l.Rows, 0), 0, 0); n.Vocabulary < min {
			return nil, fmt.Errorf("%w: a vocabulary section of %d bytes; the vocabulary of %d rows needs at least %d",
				ErrBadVocabulary, n.Vocabulary, l.Rows, min)
		}
	} else if n.Vocabulary != 0 {
		return nil, fmt.Errorf("%w: a vocabulary section of %d bytes, but Layout.Vocabulary is not set", ErrBadVocabulary, n.Vocabulary)
	}
	return l.plan(n)
}

// plan is HeaderWith without the check of the vocabulary's length: a
// layout's vocabulary takes the least room its rows allow (offsets and one
// index slot) until its strings are known.
func (l Layout) plan(n SectionLengths) (*Header, error) {
	if l.DType == 0 {
		l.DType = F32
	}
	if l.TokenScale == 0 {
		l.TokenScale = 1
	}
	if l.Alignment == 0 {
		l.Alignment = DefaultAlignment
	}
	if l.ComputeDType == F32 {
		l.ComputeDType = 0 // f32 arithmetic: no rounding
	}
	switch {
	case !l.DType.Valid():
		return nil, fmt.Errorf("%w: Layout.DType is %d", ErrBadDType, l.DType)
	case l.Rows < 1 || l.Rows > MaxRows:
		return nil, fmt.Errorf("%w: Layout.Rows is %d; want 1 to %d", ErrBadShape, l.Rows, int64(MaxRows))
	case l.Dim < 1 || l.Dim > MaxDim:
		return nil, fmt.Errorf("%w: Layout.Dim is %d; want 1 to %d", ErrBadShape, l.Dim, MaxDim)
	case l.Positions < 0 || l.Positions > MaxPositions:
		return nil, fmt.Errorf("%w: Layout.Positions is %d; want 0 to %d", ErrBadShape, l.Positions, MaxPositions)
	case l.PositionOffset < 0 || (l.PositionOffset > 0 && l.PositionOffset >= l.Positions):
		return nil, fmt.Errorf("%w: Layout.PositionOffset is %d with %d positions; want 0 to positions-1", ErrInconsistent, l.PositionOffset, l.Positions)
	case math.IsNaN(float64(l.TokenScale)) || math.IsInf(float64(l.TokenScale), 0):
		return nil, fmt.Errorf("%w: Layout.TokenScale is %v; want a finite factor", ErrBadScale, l.TokenScale)
	case l.ComputeDType != 0 && l.ComputeDType != F16 && l.ComputeDType != BF16:
		return nil, fmt.Errorf("%w: Layout.ComputeDType is %s; want F32 (or 0: no rounding), F16 or BF16", ErrBadDType, l.ComputeDType)
	case l.Alignment < MinAlignment || l.Alignment > MaxAlignment || l.Alignment&(l.Alignment-1) != 0:
		return nil, fmt.Errorf("%w: Layout.Alignment is %d; want a power of two from %d to %d", ErrBadAlignment, l.Alignment, MinAlignment, MaxAlignment)
	case n.Metadata < 0 || n.Metadata > MaxMetadataSize:
		return nil, fmt.Errorf("%w: %d bytes of metadata; at most %d", ErrBadMetadata, n.Metadata, MaxMetadataSize)
	case l.Subwords < 0 || l.Subwords > MaxRows:
		return nil, fmt.Errorf("%w: Layout.Subwords is %d; want 0 to %d", ErrBadShape, l.Subwords, int64(MaxRows))
	case l.Subwords > 0 && !l.Vocabulary:
		return nil, fmt.Errorf("%w: Layout.Subwords is %d without Layout.Vocabulary: subwords are looked up for words that are not in the vocabulary", ErrInconsistent, l.Subwords)
	case l.Subwords > 0 && (l.SubwordMinN < 1 || l.SubwordMinN > l.SubwordMaxN || l.SubwordMaxN > MaxSubwordN):
		return nil, fmt.Errorf("%w: Layout.SubwordMinN %d and SubwordMaxN %d; want 1 <= minn <= maxn <= %d", ErrInconsistent, l.SubwordMinN, l.SubwordMaxN, MaxSubwordN)
	case l.Subwords == 0 && (l.SubwordMinN != 0 || l.SubwordMaxN != 0):
		return nil, fmt.Errorf("%w: Layout.SubwordMinN %d and SubwordMaxN %d without Layout.Subwords", ErrInconsistent, l.SubwordMinN, l.SubwordMaxN)
	case n.Tokenizer < 0 || (n.Tokenizer > 0 && n.Tokenizer <= TokenizerHeader):
		return nil, fmt.Errorf("%w: a tokenizer section of %d bytes", ErrBadTokenizer, n.Tokenizer)
	}
	h := &Header{
		Major: Major,
		Rows:  l.Rows, Dim: l.Dim, DType: l.DType, RowStride: RowStride(l.DType, l.Dim),
		Alignment: l.Alignment, PositionOffset: l.PositionOffset,
		TokenScale: l.TokenScale, ComputeDType: l.ComputeDType,
	}
	// Rows, Dim, Positions and Subwords are within their limits, so none of
	// the row sections' products or sums can overflow an int64; the lengths
	// of the other sections are checked.
	off := alignUp(HeaderSize, l.Alignment)
	var overflow bool
	add := func(s Section) {
		s.Offset = off
		h.Sections = append(h.Sections, s)
		end, ok1 := checkedAdd(off, s.Length)
		next, ok2 := checkedAlignUp(end, l.Alignment)
		overflow = overflow || !ok1 || !ok2
		off = next
		if s.Kind.since11() {
			h.Minor = 1
		}
	}
	add(Section{Kind: SectionTokens, Flags: FlagRequired, Length: l.Rows * h.RowStride,
		Rows: l.Rows, RowStride: h.RowStride, DType: l.DType})
	if l.Positions > 0 {
		stride := RowStride(F32, l.Dim)
		add(Section{Kind: SectionPositions, Flags: FlagRequired, Length: l.Positions * stride,
			Rows: l.Positions, RowStride: stride, DType: F32})
	}
	if l.Subwords > 0 {
		add(Section{Kind: SectionSubwords, Length: l.Subwords * h.RowStride, Rows: l.Subwords, RowStride: h.RowStride, DType: l.DType})
	}
	if l.Norms {
		add(Section{Kind: SectionNorms, Length: 4 * l.Rows})
	}
	if l.Vocabulary {
		add(Section{Kind: SectionVocabulary, Length: max(n.Vocabulary, VocabularyLength(l.Rows, 0, 0))})
	}
	if n.Tokenizer > 0 {
		add(Section{Kind: SectionTokenizer, Length: n.Tokenizer})
	}
	if n.Metadata > 0 {
		add(Section{Kind: SectionMetadata, Length: n.Metadata})
	}
	if overflow {
		return nil, fmt.Errorf("%w: the sections add up to more than 2^63-1 bytes", ErrSectionBounds)
	}
	last := h.Sections[len(h.Sections)-1]
	h.FileSize = last.End()
	return h, nil
}

// Size returns the size of the file a Writer with this layout writes, given
// the length of its metadata document, or an error if the layout is invalid.
// A layout with a vocabulary needs its length: use HeaderWith.
func (l Layout) Size(metadataLen int64) (int64, error) {
	h, err := l.Header(metadataLen)
	if err != nil {
		return 0, err
	}
	return h.FileSize, nil
}

// reserveSize is the size CreateWith reserves: the file with Rows rows and
// every section whose size the layout gives (not the vocabulary's strings
// and index, the tokenizer or the metadata, which come later).
func (l Layout) reserveSize() (int64, error) {
	h, err := l.plan(SectionLengths{})
	if err != nil {
		return 0, err
	}
	return h.FileSize, nil
}

// WriteTarget is what a Writer writes to: a sequential stream for the
// sections and random access for the header, which is written last. An
// *os.File is one.
type WriteTarget interface {
	io.Writer
	io.WriterAt
}

// A Writer streams a table file: the token rows, then the positional rows,
// then the subword rows, then (at Close) the norms, vocabulary, tokenizer
// and metadata sections and the header. It holds one row in memory, never
// the table (and, for the sections written at Close, the strings given to
// WriteStrings and 4 bytes a row of norms). A Writer is not safe for
// concurrent use.
type Writer struct {
	w      WriteTarget
	buf    *bufio.Writer
	layout Layout
	h      *Header // the plan: offsets of the row sections are final once the token table ends
	row    []byte  // one encoded token row, padding included
	posRow []byte
	md     []byte
	tokSec []byte        // the tokenizer section, nil for none
	vocab  *vocabBuilder // nil without Layout.Vocabulary
	normer *rowNormer    // nil without Layout.Norms
	norms  []float32

	tokensDone, positionsDone, subwordsDone int64
	tokensEnded                             bool
	cur                                     SectionKind // the row section being written, 0 before the first row
	crc                                     uint32      // CRC-32C of the section being written
	written                                 int64       // bytes written so far, header placeholder included
	maxErr                                  float64
	err                                     error // sticky: the first error ends the Writer
	closed                                  bool
	finished                                bool // Finish succeeded: Close has nothing left to do
	closeCalled                             bool
	name                                    string // the destination, for messages; "" for a plain Writer
}

// ioErr wraps an I/O error from the target. A FileWriter's target is a
// temporary file whose name means nothing to the user: the error names the
// destination instead.
func (w *Writer) ioErr(op string, err error) error {
	var pe *fs.PathError
	if w.name != "" && errors.As(err, &pe) {
		return fmt.Errorf("embstore: %s %s: %w", op, w.name, pe.Err)
	}
	return fmt.Errorf("embstore: %s table: %w", op, err)
}

// errWriterClosed is returned by a Writer's methods after Close.
var errWriterClosed = errors.New("embstore: writer already closed")

// errWriterAborted is returned by a FileWriter's methods after Abort.
var errWriterAborted = errors.New("embstore: table writer aborted")

// closedErr is what a call after Close (or a FileWriter's Abort) returns.
func (w *Writer) closedErr() error {
	if w.err == errWriterAborted {
		return w.err
	}
	return errWriterClosed
}

// abandon ends the Writer after its FileWriter's Abort: every later call
// fails.
func (w *Writer) abandon() {
	if !w.closed {
		w.closed = true
		w.err = errWriterAborted
	}
}

// NewWriter starts a table file with layout l on w. It writes a placeholder
// header at once; the real header is written by Close.
func NewWriter(w WriteTarget, l Layout) (*Writer, error) {
	h, err := l.plan(SectionLengths{})
	if err != nil {
		return nil, err
	}
	if l.DType == 0 {
		l.DType = F32
	}
	tw := &Writer{
		w: w, buf: bufio.NewWriterSize(w, 1<<20), layout: l, h: h,
		row: make([]byte, h.RowStride), posRow: make([]byte, RowStride(F32, l.Dim)),
	}
	if l.Vocabulary {
		tw.vocab = &vocabBuilder{}
	}
	if l.Norms {
		tw.normer = newRowNormer(h)
		if !l.RowsAtMost {
			tw.norms = make([]float32, 0, l.Rows)
		}
	}
	tw.pad(h.Sections[0].Offset)
	tw.crc = 0
	tw.cur = SectionTokens
	return tw, tw.err
}

// Header returns the header the file will have, without the sections
// written at Close. Offsets of the row sections (tokens, positions,
// subwords) are final, with RowsAtMost once the token table has ended.
func (w *Writer) Header() *Header { return w.h }

// pad writes zeros up to absolute offset off.
func (w *Writer) pad(off int64) {
	var zeros [4096]byte
	for w.err == nil && w.written < off {
		w.write(zeros[:min(int64(len(zeros)), off-w.written)])
	}
}

func (w *Writer) write(b []byte) {
	if w.err != nil {
		return
	}
	n, err := w.buf.Write(b)
	w.written += int64(n)
	w.crc = UpdateCRC(w.crc, b[:n])
	if err != nil {
		w.err = w.ioErr("write", err)
	}
}

// WriteTokens appends token rows: vals holds a whole number of rows of Dim
// values each. Rows are converted to the layout's dtype as they are written.
func (w *Writer) WriteTokens(vals []float32) error {
	if err := w.checkTokens(); err != nil {
		return err
	}
	if err := w.check(vals, w.tokensDone, w.layout.Rows, "token"); err != nil {
		return err
	}
	for i := 0; i < len(vals) && w.err == nil; i += w.layout.Dim {
		src := vals[i : i+w.layout.Dim]
		e, err := EncodeRow(w.row, src, w.layout.DType)
		if err != nil {
			w.err = fmt.Errorf("%w (token row %d)", err, w.tokensDone)
			break
		}
		w.maxErr = max(w.maxErr, e)
		w.write(w.row)
		w.addNorms(w.row)
		w.tokensDone++
	}
	w.tokensWritten()
	return w.err
}

// checkTokens refuses token rows once the token table has ended.
func (w *Writer) checkTokens() error {
	if w.err == nil && !w.closed && w.tokensEnded && w.layout.RowsAtMost {
		return fmt.Errorf("embstore: token rows written after the token table ended at %d rows", w.tokensDone)
	}
	return nil
}

// addNorms records the norms of the stored token rows in b, if the layout
// has norms.
func (w *Writer) addNorms(b []byte) {
	if w.normer == nil {
		return
	}
	for off := int64(0); off < int64(len(b)); off += w.h.RowStride {
		w.norms = append(w.norms, w.normer.norm(b[off:]))
	}
}

// tokensWritten ends the token section once its last row is written (a
// table of a known number of rows).
func (w *Writer) tokensWritten() {
	if !w.layout.RowsAtMost && w.tokensDone == w.layout.Rows && w.err == nil {
		w.endTokens()
	}
}

// endTokens ends the token section at the rows written: it records the
// section's checksum and, with RowsAtMost, places the sections that follow.
func (w *Writer) endTokens() {
	if w.tokensEnded || w.err != nil {
		return
	}
	w.tokensEnded = true
	if w.layout.RowsAtMost {
		l := w.layout
		l.Rows = w.tokensDone
		h, err := l.plan(SectionLengths{})
		if err != nil {
			w.err = err
			return
		}
		w.h = h
	}
	w.h.Sections[0].CRC = w.crc
	w.cur = 0
}

// EndTokens ends the token table of a layout with RowsAtMost at the rows
// written so far (at least one): the table has that many rows, and the
// positional and subword rows may follow. Writing a positional or subword
// row, or Close, ends it too. For a layout without RowsAtMost it only
// checks that every token row has been written.
func (w *Writer) EndTokens() error {
	switch {
	case w.closed:
		return w.closedErr()
	case w.err != nil:
		return w.err
	case w.tokensEnded:
		return nil
	case !w.layout.RowsAtMost:
		return fmt.Errorf("embstore: the token table has %d of %d rows", w.tokensDone, w.layout.Rows)
	case w.tokensDone == 0:
		return errors.New("embstore: a table needs at least one token row")
	}
	w.endTokens()
	return w.err
}

// beginRows starts the row section of kind k (positions or subwords) at
// its first row: it ends the token table if it may (RowsAtMost), checks
// that the sections before k are complete, and pads up to k's offset.
func (w *Writer) beginRows(k SectionKind) error {
	if w.closed || w.err != nil || w.cur == k {
		return nil // check reports it
	}
	if !w.tokensEnded {
		if !w.layout.RowsAtMost {
			return fmt.Errorf("embstore: %s rows written before the token table is complete (%d of %d rows)",
				rowsName[k], w.tokensDone, w.layout.Rows)
		}
		if err := w.EndTokens(); err != nil {
			return err
		}
	}
	if k == SectionSubwords && w.positionsDone < w.layout.Positions {
		return fmt.Errorf("embstore: subword rows written before the positional table is complete (%d of %d rows)",
			w.positionsDone, w.layout.Positions)
	}
	if k == SectionPositions && w.subwordsDone > 0 {
		return errors.New("embstore: positional rows written after subword rows")
	}
	s, _ := w.h.Section(k)
	w.pad(s.Offset)
	w.crc = 0
	w.cur = k
	return w.err
}

// rowsName names the rows of a row section in messages.
var rowsName = map[SectionKind]string{SectionTokens: "token", SectionPositions: "positional", SectionSubwords: "subword"}

// rowsWritten records the checksum of row section k once its last row is
// written.
func (w *Writer) rowsWritten(k SectionKind, done, total int64) {
	if done == total && w.err == nil {
		for i := range w.h.Sections {
			if w.h.Sections[i].Kind == k {
				w.h.Sections[i].CRC = w.crc
			}
		}
		w.cur = 0
	}
}

// WritePositions appends positional rows, after all token rows have been
// written: vals holds a whole number of rows of Dim values each.
func (w *Writer) WritePositions(vals []float32) error {
	if err := w.beginRows(SectionPositions); err != nil {
		return err
	}
	if err := w.check(vals, w.positionsDone, w.layout.Positions, "positional"); err != nil {
		return err
	}
	for i := 0; i < len(vals) && w.err == nil; i += w.layout.Dim {
		floatconv.F32ToF32LE(w.posRow, vals[i:i+w.layout.Dim])
		w.write(w.posRow)
		w.positionsDone++
	}
	w.rowsWritten(SectionPositions, w.positionsDone, w.layout.Positions)
	return w.err
}

func (w *Writer) check(vals []float32, done, total int64, what string) error {
	switch {
	case w.closed:
		return w.closedErr()
	case w.err != nil:
		return w.err
	case len(vals)%w.layout.Dim != 0:
		return fmt.Errorf("embstore: %d values is not a whole number of %d-value rows", len(vals), w.layout.Dim)
	case int64(len(vals)/w.layout.Dim) > total-done:
		return fmt.Errorf("embstore: %d %s rows written, the layout has %d", done+int64(len(vals)/w.layout.Dim), what, total)
	}
	return nil
}

// MaxError returns the largest absolute difference between a value given to
// WriteTokens (or WriteSubwords) and the value stored, so far. It is 0 for
// f32, and for f16 and bf16 the rounding error; for int8 the quantisation
// error.
func (w *Writer) MaxError() float64 { return w.maxErr }

// SetMetadata sets the metadata document written by Close. It must pass
// ValidateMetadata.
func (w *Writer) SetMetadata(md []byte) error {
	if w.closed {
		return w.closedErr()
	}
	if err := ValidateMetadata(md); err != nil {
		return fmt.Errorf("%w: %v", ErrBadMetadata, err)
	}
	w.md = append([]byte(nil), md...)
	return nil
}

// Close finishes the file (see Finish). It does not close the underlying
// target. A second Close returns an error; Close after a successful Finish
// returns nil.
func (w *Writer) Close() error {
	if w.closeCalled {
		return w.closedErr()
	}
	w.closeCalled = true
	if w.finished {
		return nil
	}
	_, err := w.Finish()
	return err
}

// Finish ends every section (the token table too, with RowsAtMost), after
// checking that every row and string was written, writes the norms,
// vocabulary, tokenizer and metadata sections and the header, and returns
// the header written: what a copy of a table checks against its original
// before it commits. It does not close the underlying target.
func (w *Writer) Finish() (*Header, error) {
	if w.closed {
		return nil, w.closedErr()
	}
	w.closed = true
	if w.err != nil {
		return nil, w.err
	}
	if !w.tokensEnded && w.layout.RowsAtMost && w.tokensDone > 0 {
		w.endTokens()
	}
	if !w.tokensEnded || w.positionsDone != w.layout.Positions || w.subwordsDone != w.layout.Subwords {
		total := w.layout.Rows
		if w.layout.RowsAtMost {
			total = max(1, w.tokensDone)
		}
		w.err = fmt.Errorf("embstore: table incomplete: %d of %d token rows, %d of %d positional rows and %d of %d subword rows written",
			w.tokensDone, total, w.positionsDone, w.layout.Positions, w.subwordsDone, w.layout.Subwords)
		return nil, w.err
	}
	final := w.layout
	final.Rows, final.RowsAtMost = w.tokensDone, false
	lengths := SectionLengths{Tokenizer: int64(len(w.tokSec)), Metadata: int64(len(w.md))}
	var vs *vocabSection
	if w.vocab != nil {
		if vs, w.err = w.vocab.build(final); w.err != nil {
			return nil, w.err
		}
		lengths.Vocabulary = vs.length
	}
	h, err := final.HeaderWith(lengths)
	if err != nil {
		w.err = err
		return nil, err
	}
	for i := range h.Sections {
		if s, ok := w.h.Section(h.Sections[i].Kind); ok && s.Kind.IsRows() {
			h.Sections[i].CRC = s.CRC
		}
	}
	for i := range h.Sections {
		s := &h.Sections[i]
		if s.Kind.IsRows() {
			continue
		}
		w.pad(s.Offset)
		w.crc = 0
		switch s.Kind {
		case SectionNorms:
			w.writeNorms()
		case SectionVocabulary:
			vs.writeTo(w)
		case SectionTokenizer:
			w.write(w.tokSec)
		case SectionMetadata:
			w.write(w.md)
		}
		s.CRC = w.crc
	}
	if w.err == nil && w.written != h.FileSize {
		w.err = fmt.Errorf("embstore: internal error: wrote %d bytes, layout says %d", w.written, h.FileSize)
	}
	if w.err == nil {
		if err := w.buf.Flush(); err != nil {
			w.err = w.ioErr("write", err)
		}
	}
	if w.err == nil {
		hdr := h.Encode()
		h.CRC = binary.LittleEndian.Uint32(hdr[offHeaderCRC:])
		if n, err := w.w.WriteAt(hdr, 0); err != nil || n < len(hdr) {
			if err == nil {
				err = io.ErrShortWrite // a WriterAt that breaks its contract
			}
			w.err = w.ioErr("write header of", err)
		}
	}
	w.h = h
	if w.err != nil {
		return nil, w.err
	}
	w.finished = true
	return h, nil
}
