package format

import "fmt"

// WriteTokenRows appends token rows exactly as they are stored: b holds a
// whole number of rows of the layout's row stride (RowStride(DType, Dim)),
// encoded in the layout's dtype, with zero padding after each row's values.
// It is the path for copying rows between tables of one layout without a
// conversion: int8 rows, or f16 NaN payloads, that would not survive a
// decode and re-encode keep their bytes. Rows with non-zero padding are
// refused, since a reader would reject the file. It can be mixed with
// WriteTokens.
func (w *Writer) WriteTokenRows(b []byte) error {
	if err := w.checkTokens(); err != nil {
		return err
	}
	if err := w.checkRaw(b, w.h.RowStride, w.layout.DType, w.tokensDone, w.layout.Rows, "token"); err != nil {
		return err
	}
	w.write(b)
	w.addNorms(b)
	w.tokensDone += int64(len(b)) / w.h.RowStride
	w.tokensWritten()
	return w.err
}

// WritePositionRows appends positional rows exactly as they are stored
// (f32, RowStride(F32, Dim) bytes a row, zero padding), after all token rows
// have been written; see WriteTokenRows.
func (w *Writer) WritePositionRows(b []byte) error {
	if err := w.beginRows(SectionPositions); err != nil {
		return err
	}
	if err := w.checkRaw(b, RowStride(F32, w.layout.Dim), F32, w.positionsDone, w.layout.Positions, "positional"); err != nil {
		return err
	}
	w.write(b)
	w.positionsDone += int64(len(b)) / RowStride(F32, w.layout.Dim)
	w.rowsWritten(SectionPositions, w.positionsDone, w.layout.Positions)
	return w.err
}

// WriteSubwordRows appends subword rows exactly as they are stored (the
// layout's dtype and row stride, zero padding), after the positional rows;
// see WriteTokenRows. It is how a copy of a table (a shard, a join) keeps
// the subword table's bytes.
func (w *Writer) WriteSubwordRows(b []byte) error {
	if err := w.beginRows(SectionSubwords); err != nil {
		return err
	}
	if err := w.checkRaw(b, w.h.RowStride, w.layout.DType, w.subwordsDone, w.layout.Subwords, "subword"); err != nil {
		return err
	}
	w.write(b)
	w.subwordsDone += int64(len(b)) / w.h.RowStride
	w.rowsWritten(SectionSubwords, w.subwordsDone, w.layout.Subwords)
	return w.err
}

// checkRaw checks b as whole stored rows of stride bytes of dtype d, at most
// total-done of them, each with zero padding.
func (w *Writer) checkRaw(b []byte, stride int64, d DType, done, total int64, what string) error {
	switch {
	case w.closed:
		return w.closedErr()
	case w.err != nil:
		return w.err
	case int64(len(b))%stride != 0:
		return fmt.Errorf("embstore: %d bytes is not a whole number of %d-byte %s rows", len(b), stride, what)
	case int64(len(b))/stride > total-done:
		return fmt.Errorf("embstore: %d %s rows written, the layout has %d", done+int64(len(b))/stride, what, total)
	}
	size := d.RowSize(w.layout.Dim)
	for off := int64(0); off < int64(len(b)); off += stride {
		if !allZero(b[off+size : off+stride]) {
			return fmt.Errorf("embstore: %s row %d has non-zero padding", what, done+off/stride)
		}
	}
	return nil
}
