package wordvec

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Sentinel errors: every problem with a source is a *FormatError wrapping
// one of them, so that callers can test for the kind with errors.Is.
var (
	// ErrUnknownFormat is returned when the content is none of the formats
	// this package reads, or is not the format the caller named.
	ErrUnknownFormat = errors.New("not a word-vector file")
	// ErrHeader is returned for a malformed "rows dim" header line.
	ErrHeader = errors.New("malformed header")
	// ErrLimit is returned when a count, a dimension or a length is over
	// the limits of this package (MaxRows, MaxDim, MaxWordBytes, the line
	// length limit) or is zero where it may not be.
	ErrLimit = errors.New("over a limit")
	// ErrFields is returned when a line does not hold a word and exactly
	// dim values.
	ErrFields = errors.New("wrong number of values")
	// ErrNumber is returned for a value that is not a decimal number.
	ErrNumber = errors.New("not a number")
	// ErrWord is returned for an empty word, a word holding a NUL byte, or
	// (by writers) a word the format cannot hold.
	ErrWord = errors.New("invalid word")
	// ErrUTF8 is returned for a word that is not valid UTF-8 when
	// Options.StrictUTF8 is set.
	ErrUTF8 = errors.New("word is not valid UTF-8")
	// ErrRowCount is returned when the header claims more or fewer rows
	// than the file holds.
	ErrRowCount = errors.New("row count differs from the header")
	// ErrTruncated is returned when binary data ends inside a row or a
	// structure.
	ErrTruncated = errors.New("truncated")
	// ErrFastText is returned for a fastText model whose structure is
	// inconsistent (counts, entry types, matrix shape).
	ErrFastText = errors.New("malformed fastText model")
	// ErrUnsupported is returned for valid input this package does not
	// read: quantised fastText models (.ftz), unknown fastText versions,
	// pruned dictionaries, compressions other than gzip, bzip2, zstd and
	// zip.
	ErrUnsupported = errors.New("unsupported")
	// ErrArchive is returned when a zip archive has no member to read, or
	// several and Options.Member does not choose one.
	ErrArchive = errors.New("zip archive")
	// ErrCompressed is returned when a compressed stream is corrupt.
	ErrCompressed = errors.New("corrupt compressed data")
	// ErrNoSubwords is returned when an out-of-vocabulary vector is asked of
	// a model without subword buckets (bucket 0).
	ErrNoSubwords = errors.New("no subword buckets")
)

// A FormatError reports a problem with a source: its format, where it is
// (a text line, a row, a byte offset into the decompressed stream) and what
// is wrong. Err is one of the sentinel errors above.
type FormatError struct {
	// Format is the format being read, or Auto while it is being detected.
	Format Format
	// Line is the 1-based line of a text file, 0 when not applicable.
	Line int64
	// Row is the 0-based row (of the rows in the file, before duplicates
	// are dropped), -1 when not applicable.
	Row int64
	// Offset is the byte offset in the decompressed stream, -1 when not
	// known.
	Offset int64
	// Err is the sentinel error saying what kind of problem this is.
	Err error
	// Msg says what is wrong, in words.
	Msg string
}

func (e *FormatError) Error() string {
	s := ""
	if e.Format != Auto {
		s = e.Format.String() + ": "
	}
	switch {
	case e.Line > 0:
		s += "line " + strconv.FormatInt(e.Line, 10) + ": "
	case e.Row >= 0:
		s += "row " + strconv.FormatInt(e.Row, 10) + ": "
	case e.Offset >= 0:
		s += "byte " + strconv.FormatInt(e.Offset, 10) + ": "
	}
	return s + e.Msg
}

// Unwrap returns the sentinel error.
func (e *FormatError) Unwrap() error { return e.Err }

func newErr(f Format, kind error, format string, args ...any) *FormatError {
	return &FormatError{Format: f, Row: -1, Offset: -1, Err: kind, Msg: fmt.Sprintf(format, args...)}
}

func lineErr(f Format, line int64, kind error, format string, args ...any) *FormatError {
	e := newErr(f, kind, format, args...)
	e.Line = line
	return e
}

func rowErr(f Format, row int64, kind error, format string, args ...any) *FormatError {
	e := newErr(f, kind, format, args...)
	e.Row = row
	return e
}

func offErr(f Format, off int64, kind error, format string, args ...any) *FormatError {
	e := newErr(f, kind, format, args...)
	e.Offset = off
	return e
}

// quote renders a word or field for an error message: Go-quoted, cut to a
// readable length.
func quote(b []byte) string {
	const max = 40
	if len(b) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(b[cut]) {
			cut--
		}
		return strconv.Quote(string(b[:cut])) + "..."
	}
	return strconv.Quote(string(b))
}
