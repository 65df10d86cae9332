package safetensors

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strconv"
)

// Limits applied to every file. They are checked before anything is
// allocated from a value read from the file.
const (
	// MaxHeaderSize is the largest header length accepted, in bytes: 100
	// MB, the limit of the reference implementation.
	MaxHeaderSize = 100_000_000
	// MaxRank is the largest number of dimensions a tensor may have.
	MaxRank = 64
	// MaxSize is the largest dimension, element count, byte length and
	// data offset accepted: 2^48-1, the size_t bound of the format's JSON
	// schema.
	MaxSize = 1<<48 - 1
	// maxDTypeLen bounds the length of a dtype string.
	maxDTypeLen = 64
)

// lengthSize is the size of the little-endian u64 header length that starts
// every file.
const lengthSize = 8

// A TensorInfo describes one tensor as the header declares it, after
// validation.
type TensorInfo struct {
	Name  string  // the tensor's key in the header
	DType DType   // element type, possibly one this package does not know
	Shape []int64 // dimensions, outermost first; empty for a scalar

	// Begin and End are the header's data_offsets: the tensor's bytes are
	// [Begin, End) counted from the end of the header.
	Begin, End int64
	// Offset is the file offset of the tensor's first byte.
	Offset int64
	// NumElements is the product of Shape.
	NumElements int64

	// keyOffset is the file offset of the tensor's name in the header,
	// used in error messages.
	keyOffset int64
}

// Size returns the tensor's length in bytes, End - Begin.
func (t *TensorInfo) Size() int64 { return t.End - t.Begin }

// A Header is the validated header of a safetensors file.
type Header struct {
	// Size is the size of the whole file in bytes.
	Size int64
	// HeaderSize is the length of the JSON header, padding included; the
	// tensor data starts at file offset 8 + HeaderSize.
	HeaderSize int64
	// Metadata is the header's __metadata__ object, or nil if it has none.
	Metadata map[string]string
	// Tensors lists every tensor in the order of its bytes in the file
	// (by Begin, then End, then name).
	Tensors []TensorInfo

	// index maps each tensor name to its position in Tensors.
	index map[string]int
}

// ParseHeader reads and validates the header of the safetensors file of the
// given size that r reads. It reads the 8-byte length and the header, never
// the tensor data; every rule in the package documentation is checked, and
// a violation is reported as a *FormatError.
func ParseHeader(r io.ReaderAt, size int64) (*Header, error) {
	return parseHeader(r, size, "")
}

func parseHeader(r io.ReaderAt, size int64, file string) (*Header, error) {
	fail := func(off int64, err error, detail string) error {
		return &FormatError{File: file, Offset: off, Err: err, Detail: detail}
	}
	if size < lengthSize {
		return nil, fail(0, ErrFileTooSmall, fmt.Sprintf("%d bytes, need at least 8", max(size, 0)))
	}
	var lenBuf [lengthSize]byte
	if err := readFullAt(r, lenBuf[:], 0); err != nil {
		return nil, readError(file, "reading header length", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize {
		return nil, fail(0, ErrHeaderTooLarge, fmt.Sprintf("%d bytes, limit %d (is this a safetensors file?)", n, MaxHeaderSize))
	}
	if n > uint64(size-lengthSize) {
		return nil, fail(0, ErrHeaderLength, fmt.Sprintf("header of %d bytes, but only %d bytes follow the length", n, size-lengthSize))
	}
	buf := make([]byte, n)
	if err := readFullAt(r, buf, lengthSize); err != nil {
		return nil, readError(file, "reading header", err)
	}
	p := &headerParser{file: file, buf: buf}
	h, err := p.parse()
	if err != nil {
		return nil, err
	}
	h.Size = size
	h.HeaderSize = int64(n)
	if err := h.layOut(file); err != nil {
		return nil, err
	}
	return h, nil
}

// readFullAt reads exactly len(p) bytes at off. Following the io.ReaderAt
// contract, a read that fills p is a success even if it also returns
// io.EOF.
func readFullAt(r io.ReaderAt, p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// readError reports an I/O error while reading a file.
func readError(file, what string, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if file == "" {
		return fmt.Errorf("safetensors: %s: %w", what, err)
	}
	return fmt.Errorf("safetensors: %s: %s: %w", file, what, err)
}

// nonNegInt accepts a JSON number token that is a plain non-negative
// integer no larger than MaxSize, and otherwise says what is wrong with tok.
func nonNegInt(tok json.Token) (int64, string) {
	num, ok := tok.(json.Number)
	if !ok {
		return 0, "is " + describe(tok) + ", not an integer"
	}
	return nonNegIntText(string(num))
}

// nonNegIntText accepts the text of a JSON number that is a plain
// non-negative integer no larger than MaxSize, and otherwise says what is
// wrong with it.
func nonNegIntText(s string) (int64, string) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, "is " + quote(s) + ", not a non-negative integer"
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > MaxSize {
		return 0, "is " + quote(s) + ", over the limit 2^48-1"
	}
	return int64(v), ""
}

// describe names a JSON token's kind for an error message.
func describe(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return "a " + string(v)
	case string:
		return "a string"
	case json.Number:
		return "the number " + quote(string(v))
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}

// layOut computes every tensor's element count and byte length with
// overflow-checked arithmetic, checks them against data_offsets, and checks
// that the tensors tile the data exactly: sorted by offset, contiguous from
// 0, no gap, no overlap, the last ending at the end of the file.
func (h *Header) layOut(file string) error {
	dataStart := lengthSize + h.HeaderSize
	dataSize := h.Size - dataStart
	for i := range h.Tensors {
		t := &h.Tensors[i]
		fail := func(field string, err error, detail string) error {
			return &FormatError{File: file, Offset: t.keyOffset, Tensor: t.Name, Field: field, Err: err, Detail: detail}
		}
		numel := uint64(1)
		for _, d := range t.Shape {
			hi, lo := bits.Mul64(numel, uint64(d))
			if hi != 0 || lo > MaxSize {
				return fail("shape", ErrSizeOverflow, fmt.Sprintf("element count of shape %v exceeds 2^48-1", t.Shape))
			}
			numel = lo
		}
		t.NumElements = int64(numel)
		t.Offset = dataStart + t.Begin
		if !t.DType.Known() {
			// The element size of an unknown dtype is unknown: its bytes
			// are kept in the layout below but cannot be checked against
			// the shape. Reading such a tensor is refused.
			continue
		}
		nbits := numel * uint64(t.DType.Bits()) // < 2^48 * 64, no overflow
		if nbits%8 != 0 {
			return fail("shape", ErrSizeMismatch, fmt.Sprintf("%d elements of %d-bit %s do not fill whole bytes", numel, t.DType.Bits(), t.DType))
		}
		if nbits/8 > MaxSize {
			return fail("shape", ErrSizeOverflow, fmt.Sprintf("byte length of %v %s exceeds 2^48-1", t.Shape, t.DType))
		}
		if nbytes := int64(nbits / 8); t.Size() != nbytes {
			return fail("data_offsets", ErrSizeMismatch, fmt.Sprintf("[%d, %d] spans %d bytes; %s %v needs %d", t.Begin, t.End, t.Size(), t.DType, t.Shape, nbytes))
		}
	}
	byOffset := func(a, b TensorInfo) int {
		return cmp.Or(cmp.Compare(a.Begin, b.Begin), cmp.Compare(a.End, b.End), cmp.Compare(a.Name, b.Name))
	}
	if !slices.IsSortedFunc(h.Tensors, byOffset) { // writers list tensors in file order, mostly
		slices.SortFunc(h.Tensors, byOffset)
		for i, t := range h.Tensors {
			h.index[t.Name] = i
		}
	}
	pos := int64(0)
	prev := ""
	for i := range h.Tensors {
		t := &h.Tensors[i]
		fail := func(err error, detail string) error {
			return &FormatError{File: file, Offset: t.keyOffset, Tensor: t.Name, Field: "data_offsets", Err: err, Detail: detail}
		}
		switch {
		case t.Begin > pos && prev == "":
			return fail(ErrTensorGap, fmt.Sprintf("starts at %d; the first tensor must start at 0", t.Begin))
		case t.Begin > pos:
			return fail(ErrTensorGap, fmt.Sprintf("starts at %d but %s ends at %d", t.Begin, quote(prev), pos))
		case t.Begin < pos:
			return fail(ErrTensorOverlap, fmt.Sprintf("[%d, %d] starts inside %s, which ends at %d", t.Begin, t.End, quote(prev), pos))
		case t.End > dataSize:
			return fail(ErrDataTruncated, fmt.Sprintf("ends at %d, but the file holds %d bytes of data", t.End, dataSize))
		}
		pos = t.End
		prev = t.Name
	}
	if pos < dataSize {
		detail := fmt.Sprintf("%d bytes follow the last tensor, which ends at data offset %d", dataSize-pos, pos)
		if len(h.Tensors) == 0 {
			detail = fmt.Sprintf("%d bytes follow a header that declares no tensors", dataSize)
		}
		return &FormatError{File: file, Offset: dataStart + pos, Err: ErrTrailingData, Detail: detail}
	}
	return nil
}
