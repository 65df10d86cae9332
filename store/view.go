package store

import (
	"encoding/binary"
	"unsafe"

	"github.com/embstore/embstore/format"
)

// A View gives zero-copy access to the rows of an f32 table inside a call to
// Table.View. The slices it returns alias the mapped file: they are valid
// only until the function passed to Table.View returns, and must never be
// modified (the mapping is read-only: writing faults). Keeping a row past
// that point is a use after unmap. On platforms without a usable mapping
// (see the package documentation) the rows are copies.
type View struct {
	t *Table
}

// View calls fn with a View of the table. The table cannot be closed while fn
// runs (Close waits for it), so rows obtained from the View stay valid until
// fn returns. A memory fault inside fn, from reading a file that was
// truncated underneath the mapping, is returned as a *FaultError.
func (t *Table) View(fn func(v View) error) error {
	return t.read(func() error { return fn(View{t}) })
}

// Row returns token row id as float32 values, without copying. It returns
// ErrNoView if the table is not stored as f32, has a token scale or a compute
// dtype (its lookups are not the stored values) or the machine is
// big-endian, and an *IndexError if id is out of
// range.
func (v View) Row(id int64) ([]float32, error) {
	t := v.t
	if t.hdr.DType != format.F32 || t.hdr.TokenScale != 1 || t.hdr.ComputeDType != 0 || !nativeLittleEndian {
		return nil, ErrNoView
	}
	if uint64(id) >= uint64(t.hdr.Rows) {
		return nil, &IndexError{Arg: "id", Index: -1, Value: id, Limit: t.hdr.Rows, What: "token table"}
	}
	return v.rowAt(t.tokData, t.hdr.RowStride, id, t.hdr.Tokens().Offset)
}

// PositionRow returns row r of the positional table (a raw row number: the
// position offset is not applied) without copying. It returns ErrNoView on
// big-endian machines.
func (v View) PositionRow(r int64) ([]float32, error) {
	t := v.t
	if t.bounds.Positions == 0 {
		return nil, ErrNoPositions
	}
	if uint64(r) >= uint64(t.bounds.Positions) {
		return nil, &IndexError{Arg: "row", Index: -1, Value: r, Limit: t.bounds.Positions, What: "positional table"}
	}
	if !nativeLittleEndian {
		return nil, ErrNoView
	}
	s, _ := t.hdr.Section(format.SectionPositions)
	return v.rowAt(t.posData, s.RowStride, r, s.Offset)
}

// nativeLittleEndian reports whether float32 values in memory have the file's
// byte order, so that stored f32 rows can be viewed in place.
var nativeLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// rowAt returns row i of a section whose bytes are data (mapped) or which
// starts at offset off in the file (copy-out).
func (v View) rowAt(data []byte, stride, i, off int64) ([]float32, error) {
	dim := v.t.hdr.Dim
	if data != nil {
		// Sections start on a 64-byte boundary of a page-aligned mapping and
		// strides are multiples of 64, so the pointer is aligned for float32.
		p := unsafe.Pointer(&data[i*stride])
		return unsafe.Slice((*float32)(p), dim), nil
	}
	row := make([]float32, dim)
	buf := make([]byte, 4*dim)
	if _, err := v.t.ra.ReadAt(buf, off+i*stride); err != nil {
		return nil, err
	}
	format.DecodeRow(row, buf, format.F32)
	return row, nil
}
