package safetensors

import (
	"encoding/binary"
	"fmt"
	"io"
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
