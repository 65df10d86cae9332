package format

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"

	"github.com/embstore/embstore/internal/floatconv"
)

// A Layout describes the table a Writer writes. The zero values of DType,
// TokenScale and Alignment mean F32, 1 and DefaultAlignment; ComputeDType
// 0 and F32 both mean plain f32 arithmetic (stored as 0).
type Layout struct {
	Rows           int64   // token rows (vocabulary size), 1 to MaxRows
	Dim            int     // values per row, 1 to MaxDim
	DType          DType   // storage type of the token rows
	Positions      int64   // rows of the positional table, 0 for none
	PositionOffset int64   // positional row of position 0
	TokenScale     float32 // factor applied to token rows on lookup
	ComputeDType   DType   // 0 or F32 (no rounding), F16 or BF16: see SPEC.md, compute_dtype
	Alignment      int64   // section alignment, a power of two in [64, 2^21]
}

// Header returns the header of a file with this layout and a metadata
// document of metadataLen bytes (0 for none), checking every field as a
// reader would. Section checksums are left zero.
func (l Layout) Header(metadataLen int64) (*Header, error) {
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
	case metadataLen > MaxMetadataSize:
		return nil, fmt.Errorf("%w: %d bytes of metadata; at most %d", ErrBadMetadata, metadataLen, MaxMetadataSize)
	}
	h := &Header{
		Major: Major, Minor: Minor,
		Rows: l.Rows, Dim: l.Dim, DType: l.DType, RowStride: RowStride(l.DType, l.Dim),
		Alignment: l.Alignment, PositionOffset: l.PositionOffset,
		TokenScale: l.TokenScale, ComputeDType: l.ComputeDType,
	}
	// Rows, Dim and Positions are within their limits, so none of these
	// products or sums can overflow an int64.
	off := alignUp(HeaderSize, l.Alignment)
	add := func(s Section) {
		s.Offset = off
		h.Sections = append(h.Sections, s)
		off = alignUp(s.End(), l.Alignment)
	}
	add(Section{Kind: SectionTokens, Flags: FlagRequired, Length: l.Rows * h.RowStride,
		Rows: l.Rows, RowStride: h.RowStride, DType: l.DType})
	if l.Positions > 0 {
		stride := RowStride(F32, l.Dim)
		add(Section{Kind: SectionPositions, Flags: FlagRequired, Length: l.Positions * stride,
			Rows: l.Positions, RowStride: stride, DType: F32})
	}
	if metadataLen > 0 {
		add(Section{Kind: SectionMetadata, Length: metadataLen})
	}
	last := h.Sections[len(h.Sections)-1]
	h.FileSize = last.End()
	return h, nil
}

// Size returns the size of the file a Writer with this layout writes, given
// the length of its metadata document, or an error if the layout is invalid.
func (l Layout) Size(metadataLen int64) (int64, error) {
	h, err := l.Header(metadataLen)
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
// then (at Close) the metadata and the header. It holds one row in memory,
// never the table. A Writer is not safe for concurrent use.
type Writer struct {
	w      WriteTarget
	buf    *bufio.Writer
	layout Layout
	h      *Header // layout without metadata; offsets of tokens and positions are final
	row    []byte  // one encoded token row, padding included
	posRow []byte
	md     []byte

	tokensDone, positionsDone int64
	crc                       uint32 // CRC-32C of the section being written
	written                   int64  // bytes written so far, header placeholder included
	maxErr                    float64
	err                       error // sticky: the first error ends the Writer
	closed                    bool
	name                      string // the destination, for messages; "" for a plain Writer
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
	h, err := l.Header(0)
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
	tw.pad(h.Sections[0].Offset)
	tw.crc = 0
	return tw, tw.err
}

// Header returns the header the file will have, without its metadata
// section. Offsets of the token and positional sections are final.
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
		w.tokensDone++
	}
	w.tokensWritten()
	return w.err
}

// tokensWritten closes the token section once its last row is written: it
// records the section's checksum and pads up to the positional table.
func (w *Writer) tokensWritten() {
	if w.tokensDone == w.layout.Rows && w.err == nil {
		w.h.Sections[0].CRC = w.crc
		if w.layout.Positions > 0 {
			w.pad(w.h.Sections[1].Offset)
			w.crc = 0
		}
	}
}

// WritePositions appends positional rows, after all token rows have been
// written: vals holds a whole number of rows of Dim values each.
func (w *Writer) WritePositions(vals []float32) error {
	if w.err == nil && w.tokensDone < w.layout.Rows {
		return fmt.Errorf("embstore: positional rows written before the token table is complete (%d of %d rows)",
			w.tokensDone, w.layout.Rows)
	}
	if err := w.check(vals, w.positionsDone, w.layout.Positions, "positional"); err != nil {
		return err
	}
	for i := 0; i < len(vals) && w.err == nil; i += w.layout.Dim {
		floatconv.F32ToF32LE(w.posRow, vals[i:i+w.layout.Dim])
		w.write(w.posRow)
		w.positionsDone++
	}
	if w.positionsDone == w.layout.Positions && w.err == nil {
		w.h.Sections[1].CRC = w.crc
	}
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
// WriteTokens and the value stored, so far. It is 0 for f32, and for f16 and
// bf16 the rounding error; for int8 the quantisation error.
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

// Close writes the metadata and the header, after checking that every row
// was written. It does not close the underlying target. A second Close
// returns an error.
func (w *Writer) Close() error {
	if w.closed {
		return w.closedErr()
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	if w.tokensDone != w.layout.Rows || w.positionsDone != w.layout.Positions {
		w.err = fmt.Errorf("embstore: table incomplete: %d of %d token rows and %d of %d positional rows written",
			w.tokensDone, w.layout.Rows, w.positionsDone, w.layout.Positions)
		return w.err
	}
	h, err := w.layout.Header(int64(len(w.md)))
	if err != nil {
		w.err = err
		return err
	}
	for i := range w.h.Sections {
		h.Sections[i].CRC = w.h.Sections[i].CRC
	}
	if len(w.md) > 0 {
		md := &h.Sections[len(h.Sections)-1]
		w.pad(md.Offset)
		w.write(w.md)
		md.CRC = CRC(w.md)
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
		if n, err := w.w.WriteAt(hdr, 0); err != nil || n < len(hdr) {
			if err == nil {
				err = io.ErrShortWrite // a WriterAt that breaks its contract
			}
			w.err = w.ioErr("write header of", err)
		}
	}
	w.h = h
	return w.err
}
