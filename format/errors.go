package format

import (
	"errors"
	"fmt"
)

// Sentinel errors, one per validation rule. Reader functions return them
// wrapped in a *FormatError that says where in the file the problem is; test
// for them with errors.Is.
var (
	// ErrTruncated is returned when the file is shorter than a header, or
	// shorter than a section it declares.
	ErrTruncated = errors.New("embstore: file truncated")
	// ErrBadMagic is returned when the file does not start with the
	// embstore magic: it is not an embstore table.
	ErrBadMagic = errors.New("embstore: not an embstore table (bad magic)")
	// ErrBadEndian is returned when the endianness marker is not 0x01020304
	// read little-endian.
	ErrBadEndian = errors.New("embstore: bad endianness marker")
	// ErrUnsupportedVersion is returned for a major version this reader does
	// not know.
	ErrUnsupportedVersion = errors.New("embstore: unsupported format version")
	// ErrHeaderChecksum is returned when the header's CRC-32C does not match
	// its contents.
	ErrHeaderChecksum = errors.New("embstore: header checksum mismatch")
	// ErrReservedNonZero is returned when a reserved header byte or an unused
	// section entry is not zero.
	ErrReservedNonZero = errors.New("embstore: reserved bytes are not zero")
	// ErrUnsupportedFeature is returned when the file sets a required feature
	// bit this reader does not know, or uses a dtype or section kind that this
	// reader cannot serve.
	ErrUnsupportedFeature = errors.New("embstore: file needs a feature this reader does not support")
	// ErrFileSize is returned when the header's file_size differs from the
	// size of the file as stored.
	ErrFileSize = errors.New("embstore: file size does not match header")
	// ErrBadDType is returned for a dtype code that is not defined, or a
	// compute_dtype other than 0, f16 or bf16.
	ErrBadDType = errors.New("embstore: invalid dtype")
	// ErrBadShape is returned when rows or dim is zero or over its limit.
	ErrBadShape = errors.New("embstore: invalid table shape")
	// ErrBadStride is returned when a row stride is not a multiple of 64,
	// smaller than a row or larger than allowed.
	ErrBadStride = errors.New("embstore: invalid row stride")
	// ErrBadAlignment is returned when the section alignment is not a power of
	// two in [64, 2^21].
	ErrBadAlignment = errors.New("embstore: invalid section alignment")
	// ErrBadSectionTable is returned when section_count is out of range or an
	// entry's kind, flags or row fields are invalid.
	ErrBadSectionTable = errors.New("embstore: invalid section table")
	// ErrSectionPlacement is returned when a section does not start where the
	// placement rules put it: a hole, an overlap, a misaligned or
	// out-of-order section.
	ErrSectionPlacement = errors.New("embstore: section misplaced")
	// ErrSectionBounds is returned when a section extends past the end of the
	// file, the last section does not end exactly at the end of the file, or
	// an offset computation overflows.
	ErrSectionBounds = errors.New("embstore: section out of bounds")
	// ErrDuplicateSection is returned when a section kind appears twice.
	ErrDuplicateSection = errors.New("embstore: duplicate section")
	// ErrMissingTokens is returned when the first section is not the token
	// table.
	ErrMissingTokens = errors.New("embstore: token table missing")
	// ErrInconsistent is returned when two fields that must agree do not: the
	// token section against the header, a positional table against dim, the
	// position offset against the positional table.
	ErrInconsistent = errors.New("embstore: inconsistent header fields")
	// ErrBadScale is returned when token_scale is not a finite, non-zero number.
	ErrBadScale = errors.New("embstore: invalid token scale")
	// ErrBadMetadata is returned when the metadata section is not a UTF-8 JSON
	// object within the limits, or has a duplicate key.
	ErrBadMetadata = errors.New("embstore: invalid metadata")
	// ErrChecksum is returned by verification when a section's CRC-32C does
	// not match its contents.
	ErrChecksum = errors.New("embstore: section checksum mismatch")
	// ErrPaddingNonZero is returned by verification when padding between
	// sections or inside rows is not zero.
	ErrPaddingNonZero = errors.New("embstore: padding bytes are not zero")
	// ErrBadVocabulary is returned when a vocabulary section breaks a rule:
	// its fixed fields (on open), or its offsets, strings and hash index
	// (by verification, or by a lookup that meets a corrupt entry).
	ErrBadVocabulary = errors.New("embstore: invalid vocabulary section")
	// ErrBadTokenizer is returned when a tokenizer section breaks a rule:
	// its fixed fields (on open), or a compressed document that does not
	// decompress to its declared length of valid JSON (verification, and
	// every decompression).
	ErrBadTokenizer = errors.New("embstore: invalid tokenizer section")
	// ErrBadNorms is returned when a norms section does not hold one f32 per
	// token row (on open), or holds a value other than the norm of its row
	// (verification).
	ErrBadNorms = errors.New("embstore: invalid norms section")
)

// ErrNotInVocabulary is returned by Vocabulary.ID for a string that no row
// has. It is a lookup's answer, not a rule of the format.
var ErrNotInVocabulary = errors.New("embstore: string not in the vocabulary")

// A FormatError reports a problem with a table file: which field or section,
// at which byte offset, with which value, and which rule it broke (Err, one of
// the sentinel errors above).
type FormatError struct {
	Offset int64  // byte offset of the offending field or data
	Field  string // name of the field or section, as in the specification
	Value  any    // the offending value, or nil
	Err    error  // the rule that was broken
	Detail string // optional explanation, e.g. the expected value
}

func (e *FormatError) Error() string {
	msg := e.Err.Error()
	s := fmt.Sprintf("%s: %s at byte %d", msg, e.Field, e.Offset)
	if e.Value != nil {
		s += fmt.Sprintf(" (value %v)", e.Value)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns the rule that was broken.
func (e *FormatError) Unwrap() error { return e.Err }

func formatErr(err error, off int64, field string, value any, detail string, args ...any) *FormatError {
	if len(args) > 0 {
		detail = fmt.Sprintf(detail, args...)
	}
	return &FormatError{Offset: off, Field: field, Value: value, Err: err, Detail: detail}
}
