package safetensors

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Sentinel errors, one per validation rule. The reader returns them wrapped
// in a *FormatError that says which file, where and what; test for them with
// errors.Is.
var (
	// ErrFileTooSmall is returned when a file is shorter than the 8-byte
	// header length that starts every safetensors file.
	ErrFileTooSmall = errors.New("safetensors: file too small")
	// ErrHeaderTooLarge is returned when the header length exceeds
	// MaxHeaderSize.
	ErrHeaderTooLarge = errors.New("safetensors: header length over the limit")
	// ErrHeaderLength is returned when the header length runs past the end
	// of the file.
	ErrHeaderLength = errors.New("safetensors: header length past end of file")
	// ErrHeaderStart is returned when the header does not begin with '{'
	// (this includes an empty header and leading whitespace).
	ErrHeaderStart = errors.New("safetensors: header does not begin with '{'")
	// ErrHeaderUTF8 is returned when the header is not valid UTF-8.
	ErrHeaderUTF8 = errors.New("safetensors: header is not valid UTF-8")
	// ErrHeaderSyntax is returned when the header is not well-formed JSON,
	// including a \u escape that leaves a UTF-16 surrogate unpaired.
	ErrHeaderSyntax = errors.New("safetensors: header is not valid JSON")
	// ErrHeaderTrailing is returned when anything but JSON whitespace
	// follows the header's top-level object inside the header.
	ErrHeaderTrailing = errors.New("safetensors: junk after the header's JSON object")
	// ErrDuplicateKey is returned when a JSON object repeats a key: a
	// tensor name, a __metadata__ key or a field of a tensor entry.
	ErrDuplicateKey = errors.New("safetensors: duplicate key")
	// ErrMetadata is returned when __metadata__ is not an object whose
	// values are all strings.
	ErrMetadata = errors.New("safetensors: __metadata__ is not a string-to-string object")
	// ErrTensorName is returned for an empty tensor name.
	ErrTensorName = errors.New("safetensors: invalid tensor name")
	// ErrTensorEntry is returned when a tensor's entry is not a JSON object.
	ErrTensorEntry = errors.New("safetensors: tensor entry is not an object")
	// ErrUnknownField is returned when a tensor entry has a field other
	// than dtype, shape and data_offsets.
	ErrUnknownField = errors.New("safetensors: unknown field in tensor entry")
	// ErrMissingField is returned when a tensor entry lacks dtype, shape or
	// data_offsets.
	ErrMissingField = errors.New("safetensors: tensor entry lacks a field")
	// ErrDType is returned when a dtype is not a string of 1 to 64 ASCII
	// letters, digits and underscores.
	ErrDType = errors.New("safetensors: malformed dtype")
	// ErrShape is returned when a shape is not an array of integers in
	// [0, MaxSize].
	ErrShape = errors.New("safetensors: invalid shape")
	// ErrRank is returned when a shape has more than MaxRank dimensions.
	ErrRank = errors.New("safetensors: too many dimensions")
	// ErrSizeOverflow is returned when a tensor's element count or byte
	// length, computed from its shape, exceeds MaxSize.
	ErrSizeOverflow = errors.New("safetensors: tensor size overflows")
	// ErrDataOffsets is returned when data_offsets is not a pair [begin,
	// end] of integers in [0, MaxSize] with begin <= end.
	ErrDataOffsets = errors.New("safetensors: invalid data_offsets")
	// ErrSizeMismatch is returned when end-begin differs from the byte
	// length that the dtype and shape give, or a packed sub-byte tensor
	// does not fill a whole number of bytes.
	ErrSizeMismatch = errors.New("safetensors: data_offsets do not match dtype and shape")
	// ErrTensorGap is returned when bytes between two tensors, or before
	// the first, belong to no tensor.
	ErrTensorGap = errors.New("safetensors: gap between tensors")
	// ErrTensorOverlap is returned when two tensors' byte ranges overlap,
	// or a zero-size tensor sits inside another tensor's bytes.
	ErrTensorOverlap = errors.New("safetensors: tensors overlap")
	// ErrDataTruncated is returned when a tensor's bytes run past the end
	// of the file.
	ErrDataTruncated = errors.New("safetensors: tensor data past end of file")
	// ErrTrailingData is returned when the file goes on after the last
	// tensor's bytes.
	ErrTrailingData = errors.New("safetensors: bytes after the last tensor")

	// ErrTensorNotFound is returned when a tensor name is not in the file
	// or checkpoint.
	ErrTensorNotFound = errors.New("safetensors: no such tensor")
	// ErrNotConvertible is returned when a tensor whose dtype is not a
	// float type (integer, BOOL, complex, packed, unknown) is read as
	// float32.
	ErrNotConvertible = errors.New("safetensors: dtype cannot be read as float32")
	// ErrNotMatrix is returned when a tensor read as rows is not 2-D, or a
	// requested reshape does not match its element count.
	ErrNotMatrix = errors.New("safetensors: tensor is not a matrix")
	// ErrReadFault is returned when a mapped file faults while being read,
	// which happens when it is truncated after it was opened.
	ErrReadFault = errors.New("safetensors: fault reading mapped file")

	// ErrIndex is returned when a sharded checkpoint's index is not a JSON
	// object with a non-empty string-to-string weight_map.
	ErrIndex = errors.New("safetensors: invalid checkpoint index")
	// ErrShardName is returned when an index names a shard that is not a
	// plain .safetensors file name in the index's own directory.
	ErrShardName = errors.New("safetensors: invalid shard file name")
	// ErrIndexMismatch is returned when an index and its shards disagree:
	// a mapped tensor missing from its shard, or a shard holding a tensor
	// the index does not map to it.
	ErrIndexMismatch = errors.New("safetensors: index does not match shards")
	// ErrNoCheckpoint is returned when a directory holds no weights file or
	// index that OpenCheckpoint can pick unambiguously.
	ErrNoCheckpoint = errors.New("safetensors: no safetensors checkpoint found")
	// ErrConfig is returned when config.json is not a JSON object or a
	// field the importer uses has the wrong type.
	ErrConfig = errors.New("safetensors: invalid config.json")
	// ErrJSONFile is returned when an index or config.json is too large,
	// not UTF-8, not well-formed JSON, nested too deeply or has a
	// duplicate key.
	ErrJSONFile = errors.New("safetensors: malformed JSON file")
)

// A FormatError reports a problem with a file: which file, where, which
// tensor and field, and what was wrong. Err is one of the sentinel errors
// above; errors.Is sees it through Unwrap.
type FormatError struct {
	File   string // file name as opened; empty for NewFile
	Offset int64  // byte offset in the file the problem was found at; -1 if none
	Tensor string // tensor name; empty if the problem is not in one tensor
	Field  string // header field, such as "shape" or "__metadata__"; may be empty
	Detail string // what exactly was found; may be empty
	Err    error  // the rule that was broken
}

// Error formats the error as "safetensors: FILE: tensor "NAME": FIELD: what
// was wrong: detail (at byte N)", leaving out the parts that are empty.
func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("safetensors: ")
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Tensor != "" {
		b.WriteString("tensor ")
		b.WriteString(quote(e.Tensor))
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "safetensors: "))
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " (at byte %d)", e.Offset)
	}
	return b.String()
}

// Unwrap returns the sentinel error.
func (e *FormatError) Unwrap() error { return e.Err }

// maxQuote bounds how much of a name from a file goes into a message.
const maxQuote = 120

// quote quotes s for a message, shortening it if it is long and escaping
// anything unprintable.
func quote(s string) string {
	if len(s) <= maxQuote {
		return strconv.Quote(s)
	}
	cut := maxQuote
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + fmt.Sprintf("... (%d bytes)", len(s))
}
