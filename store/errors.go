package store

import (
	"errors"
	"fmt"
)

// ErrClosed is returned by every method of a Table after Close.
var ErrClosed = errors.New("embstore: table is closed")

// ErrNoPositions is returned by positional lookups on a table without a
// positional table.
var ErrNoPositions = errors.New("embstore: table has no positional table")

// ErrNoView is returned by View.Row when rows cannot be served as float32
// without conversion: the table is not stored as f32, or it has a token scale
// or a compute dtype.
var ErrNoView = errors.New("embstore: rows of this table cannot be viewed as float32 in place")

// An IndexError reports an index argument outside its table: which argument,
// the index inside it, the offending value and the valid range [0, Limit).
type IndexError struct {
	Arg   string // "ids", "positions", or "offsets"
	Index int    // index into the argument slice
	Value int64  // the offending value
	Limit int64  // values must be in [0, Limit)
	What  string // what the values index, e.g. "token table"
}

func (e *IndexError) Error() string {
	return fmt.Sprintf("embstore: %s[%d] = %d is out of range [0, %d) of the %s", e.Arg, e.Index, e.Value, e.Limit, e.What)
}

// A PositionError reports a positional lookup reaching past the positional
// table: position Position (start plus the index in the sequence) needs
// positional row Row, but the table has only Rows rows.
type PositionError struct {
	Position int64
	Row      int64
	Rows     int64
	Offset   int64 // the table's position offset: Row = Offset + Position
}

func (e *PositionError) Error() string {
	if e.Position < 0 {
		return fmt.Sprintf("embstore: position %d is negative", e.Position)
	}
	if e.Offset != 0 {
		return fmt.Sprintf("embstore: position %d (row %d with position offset %d) is out of range of the %d-row positional table",
			e.Position, e.Row, e.Offset, e.Rows)
	}
	return fmt.Sprintf("embstore: position %d is out of range of the %d-row positional table", e.Position, e.Rows)
}

// A FaultError reports a memory fault while reading the mapped file: the file
// was truncated or otherwise changed underneath the mapping. The process
// survives; the table should be closed and reopened.
type FaultError struct {
	Addr uintptr
}

func (e *FaultError) Error() string {
	return fmt.Sprintf("embstore: fault reading the mapped table at address %#x: the file was truncated or changed while open", e.Addr)
}
