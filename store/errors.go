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
	Arg   string // "ids", "rows", "offsets"; "id" or "row" for a single value
	Index int    // index into the argument slice; -1 when Arg is a single value
	Value int64  // the offending value
	Limit int64  // values must be in [0, Limit)
	What  string // what the values index, e.g. "token table"
}

func (e *IndexError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("embstore: %s %d is out of range [0, %d) of the %s", e.Arg, e.Value, e.Limit, e.What)
	}
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

// A FaultError reports a memory fault while a call used the mapped file.
// The process survives; what to do depends on Cause.
type FaultError struct {
	Addr  uintptr    // the address that faulted
	Cause FaultCause // what most likely caused the fault
	// OpenSize is the file's size at Open, Size its size when the fault was
	// examined (0 if unknown).
	OpenSize, Size int64
}

// A FaultCause says what most likely caused a FaultError.
type FaultCause int

// The causes of faults.
const (
	// FaultUnknown: the file could not be examined.
	FaultUnknown FaultCause = iota
	// FaultTruncated: another program truncated the file while it was
	// mapped, and the call read a page that is gone. Close and reopen the
	// table.
	FaultTruncated
	// FaultWrite: the file is whole, so the fault was a write into the
	// read-only mapping (a row returned by View was modified), or an I/O
	// error reading the file.
	FaultWrite
	// FaultOutside: the address is not in the table's mapping: a bad
	// pointer in a View callback, not a problem of the table.
	FaultOutside
)

func (e *FaultError) Error() string {
	at := fmt.Sprintf("embstore: memory fault at address %#x", e.Addr)
	switch e.Cause {
	case FaultTruncated:
		return fmt.Sprintf("%s: the table file was truncated while open (%d bytes, %d when opened); reopen it", at, e.Size, e.OpenSize)
	case FaultWrite:
		return at + ": a write into the read-only table mapping (rows from View must never be modified), or an I/O error reading the file"
	case FaultOutside:
		return at + ", outside the table's mapping (a bad pointer in a View callback)"
	}
	return at + ": the file was truncated or changed while open"
}

// An OptionError reports an Options field with a value Open cannot use.
type OptionError struct {
	Path   string // the file being opened
	Option string // the field, e.g. "LockHot"
	Value  any    // its value
	Reason string // what is wrong with it
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("embstore: open %s: Options.%s %v: %s", e.Path, e.Option, e.Value, e.Reason)
}
