package safetensors

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/embstore/embstore/internal/atomicfile"
	"github.com/embstore/embstore/internal/errctx"
)

// A WriteTensor describes one tensor to write with Write or WriteFile. Its
// bytes come from a callback, so that a tensor need not be held in memory.
type WriteTensor struct {
	Name  string  // non-empty UTF-8, unique, not "__metadata__"
	DType DType   // a Known dtype
	Shape []int64 // dimensions in [0, MaxSize], at most MaxRank of them

	// Data writes the tensor's bytes to w: exactly its byte length (element
	// count * element bits / 8), little-endian, in row-major order. It is
	// called once, in file order. It may be nil for a tensor of zero
	// bytes.
	Data func(w io.Writer) error
}

// writeBufferSize is the size of the buffer between Data callbacks and the
// destination.
const writeBufferSize = 1 << 20

// Write writes a safetensors file holding metadata (omitted if nil) and
// tensors to w, and returns the number of bytes written.
//
// The layout is the reference implementation's, so that it writes the same
// bytes for the same tensors: tensor data in order of decreasing dtype
// alignment (the reference's dtype order: U64, I64, F64, C64, F32, U32,
// I32, BF16, F16, U16, I16, F8_E8M0, F8_E4M3, F8_E5M2, I8, U8, F6_E3M2,
// F6_E2M3, F4, BOOL), then by name, which keeps every tensor aligned to its
// element size; a compact JSON header, escaped as serde_json escapes, with
// __metadata__ first and the tensors in that same order; the header padded
// with spaces to a multiple of 8 bytes. The one difference is that the keys
// of __metadata__ are sorted, where the reference writes them in its hash
// map's order, which varies.
//
// Everything is validated before the first byte is written. A Data callback
// that fails, or writes more or fewer bytes than its tensor holds, stops
// the write with an error; what was written so far is then not a valid
// file.
func Write(w io.Writer, metadata map[string]string, tensors []WriteTensor) (int64, error) {
	return write(w, "", metadata, tensors)
}

func write(w io.Writer, file string, metadata map[string]string, tensors []WriteTensor) (int64, error) {
	order, sizes, err := planWrite(file, metadata, tensors)
	if err != nil {
		return 0, err
	}
	header, err := encodeHeader(file, metadata, tensors, order, sizes)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, writeBufferSize)
	cw := &countingWriter{w: bw}
	var lenBuf [lengthSize]byte
	for i := range lenBuf {
		lenBuf[i] = byte(uint64(len(header)) >> (8 * i))
	}
	cw.Write(lenBuf[:])
	cw.Write(header)
	for _, i := range order {
		t := &tensors[i]
		if sizes[i] == 0 && t.Data == nil {
			continue
		}
		if t.Data == nil {
			return cw.n, &FormatError{File: file, Offset: -1, Tensor: t.Name, Err: ErrSizeMismatch, Detail: fmt.Sprintf("no Data callback for %d bytes", sizes[i])}
		}
		lw := &limitedWriter{w: cw, left: sizes[i]}
		err := t.Data(lw)
		switch {
		case lw.over:
			return cw.n, &FormatError{File: file, Offset: -1, Tensor: t.Name, Err: ErrSizeMismatch, Detail: fmt.Sprintf("Data wrote more than the tensor's %d bytes", sizes[i])}
		case err != nil:
			return cw.n, errctx.In("safetensors", "write tensor "+quote(t.Name), err)
		case lw.left != 0:
			return cw.n, &FormatError{File: file, Offset: -1, Tensor: t.Name, Err: ErrSizeMismatch, Detail: fmt.Sprintf("Data wrote %d bytes; the tensor holds %d", sizes[i]-lw.left, sizes[i])}
		}
		if cw.err != nil {
			break
		}
	}
	if cw.err == nil {
		cw.err = bw.Flush()
	}
	if cw.err != nil {
		var pe *fs.PathError
		if file != "" && errors.As(cw.err, &pe) { // the temporary file: name the destination
			return cw.n, fmt.Errorf("safetensors: write %s: %w", file, pe.Err)
		}
		return cw.n, fmt.Errorf("safetensors: write: %w", cw.err)
	}
	return cw.n, nil
}

// planWrite validates the tensors and metadata, computes each tensor's byte
// length and returns the file order.
func planWrite(file string, metadata map[string]string, tensors []WriteTensor) (order []int, sizes []int64, err error) {
	fail := func(tensor, field string, err error, detail string) error {
		return &FormatError{File: file, Offset: -1, Tensor: tensor, Field: field, Err: err, Detail: detail}
	}
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, fail("", "__metadata__", ErrMetadata, "key or value "+quote(k)+" is not valid UTF-8")
		}
	}
	seen := make(map[string]bool, len(tensors))
	sizes = make([]int64, len(tensors))
	total := int64(0)
	for i, t := range tensors {
		switch {
		case t.Name == "" || t.Name == "__metadata__" || !utf8.ValidString(t.Name):
			return nil, nil, fail(t.Name, "", ErrTensorName, "names must be non-empty UTF-8 and not __metadata__")
		case seen[t.Name]:
			return nil, nil, fail(t.Name, "", ErrDuplicateKey, "two tensors have this name")
		case !t.DType.Known():
			return nil, nil, fail(t.Name, "dtype", ErrDType, quote(string(t.DType))+" is not a safetensors dtype")
		case len(t.Shape) > MaxRank:
			return nil, nil, fail(t.Name, "shape", ErrRank, fmt.Sprintf("%d dimensions, limit %d", len(t.Shape), MaxRank))
		}
		seen[t.Name] = true
		numel := uint64(1)
		for _, d := range t.Shape {
			if d < 0 || d > MaxSize {
				return nil, nil, fail(t.Name, "shape", ErrShape, fmt.Sprintf("dimension %d out of [0, 2^48-1]", d))
			}
			hi, lo := bits.Mul64(numel, uint64(d))
			if hi != 0 || lo > MaxSize {
				return nil, nil, fail(t.Name, "shape", ErrSizeOverflow, fmt.Sprintf("element count of %v exceeds 2^48-1", t.Shape))
			}
			numel = lo
		}
		nbits := numel * uint64(t.DType.Bits())
		if nbits%8 != 0 {
			return nil, nil, fail(t.Name, "shape", ErrSizeMismatch, fmt.Sprintf("%d elements of %s do not fill whole bytes", numel, t.DType))
		}
		sizes[i] = int64(nbits / 8)
		if sizes[i] > MaxSize-total {
			return nil, nil, fail(t.Name, "shape", ErrSizeOverflow, "tensor data exceeds 2^48-1 bytes in all")
		}
		total += sizes[i]
	}
	order = make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		ta, tb := &tensors[a], &tensors[b]
		return cmp.Or(cmp.Compare(dtypes[tb.DType].rank, dtypes[ta.DType].rank), cmp.Compare(ta.Name, tb.Name))
	})
	return order, sizes, nil
}

// encodeHeader builds the padded JSON header.
func encodeHeader(file string, metadata map[string]string, tensors []WriteTensor, order []int, sizes []int64) ([]byte, error) {
	b := []byte{'{'}
	if metadata != nil {
		b = appendJSONString(b, "__metadata__")
		b = append(b, ':', '{')
		for i, k := range slices.Sorted(maps.Keys(metadata)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, metadata[k])
		}
		b = append(b, '}')
	}
	off := int64(0)
	for n, i := range order {
		t := &tensors[i]
		if n > 0 || metadata != nil {
			b = append(b, ',')
		}
		b = appendJSONString(b, t.Name)
		b = append(b, `:{"dtype":`...)
		b = appendJSONString(b, string(t.DType))
		b = append(b, `,"shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, d, 10)
		}
		b = append(b, `],"data_offsets":[`...)
		b = strconv.AppendInt(b, off, 10)
		b = append(b, ',')
		off += sizes[i]
		b = strconv.AppendInt(b, off, 10)
		b = append(b, "]}"...)
	}
	b = append(b, '}')
	for len(b)%8 != 0 {
		b = append(b, ' ')
	}
	if len(b) > MaxHeaderSize {
		return nil, &FormatError{File: file, Offset: -1, Err: ErrHeaderTooLarge, Detail: fmt.Sprintf("the header would take %d bytes, limit %d", len(b), MaxHeaderSize)}
	}
	return b, nil
}

// appendJSONString appends s as a JSON string escaped as serde_json escapes
// it: quote, backslash and control characters only, with the short forms
// \b \t \n \f \r and lowercase \u00XX for the rest.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// countingWriter counts bytes and keeps the first error, so that the many
// small writes of the header need no checks.
type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

// Write writes p to the underlying writer unless an earlier write failed.
func (c *countingWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

// limitedWriter passes at most left bytes to w and records an attempt to
// write more.
type limitedWriter struct {
	w    io.Writer
	left int64
	over bool
}

var errTooMuchData = errors.New("more bytes than the tensor holds")

// Write passes p on if it fits in what is left, and fails otherwise.
func (l *limitedWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.left {
		l.over = true
		return 0, errTooMuchData
	}
	n, err := l.w.Write(p)
	l.left -= int64(n)
	return n, err
}

// WriteFile writes a safetensors file (see Write) to path atomically,
// replacing a file already there; see WriteFileWith.
func WriteFile(path string, metadata map[string]string, tensors []WriteTensor) error {
	return WriteFileWith(path, metadata, tensors, nil)
}

// WriteFileWith writes a safetensors file (see Write) to path through the
// atomic file writer every embstore writer uses (package atomicfile): a
// temporary file in the same directory, synced and renamed over path, so
// that on any error path is left as it was, and a file already at path is
// replaced, never truncated, so that readers that have it mapped keep their
// data. The destination rules of atomicfile apply: it must be a regular file
// or absent, symbolic links are followed, an existing file's mode is kept
// (a new file gets 0666 minus the umask), o.NoReplace refuses an existing
// file, o.Inputs the inputs, and the file's size is checked against the free
// space before the first byte is written. A nil o means the zero Options.
func WriteFileWith(path string, metadata map[string]string, tensors []WriteTensor, o *atomicfile.Options) (err error) {
	order, sizes, err := planWrite(path, metadata, tensors)
	if err != nil {
		return err
	}
	header, err := encodeHeader(path, metadata, tensors, order, sizes)
	if err != nil {
		return err
	}
	var opts atomicfile.Options
	if o != nil {
		opts = *o
	}
	opts.Size = lengthSize + int64(len(header))
	for _, n := range sizes {
		opts.Size += n
	}
	f, err := atomicfile.Create(path, &opts)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err = write(f, path, metadata, tensors); err != nil {
		return err
	}
	return f.Commit()
}
