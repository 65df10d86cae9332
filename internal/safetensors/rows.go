package safetensors

import (
	"fmt"
	"io"
	"unsafe"
)

// ScratchSize is the largest buffer, in bytes, that a RowReader allocates
// to convert data through: a read of any size streams through it.
const ScratchSize = 1 << 20

// A RowReader reads a tensor as a matrix of float32 rows, converting from
// the tensor's dtype as PyTorch's .float() does (see package floatconv). Its
// memory use is bounded by ScratchSize whatever the tensor's size.
//
// A RowReader is not safe for concurrent use; open one per goroutine.
type RowReader struct {
	file       string
	tensor     string
	dtype      DType
	rows, cols int64
	r          io.ReaderAt
	off        int64 // file offset of the tensor's first byte
	elemSize   int64
	convert    func([]float32, []byte) int
	scratch    []byte
}

// Rows returns a RowReader over the named 2-D tensor. A tensor of another
// rank is refused with ErrNotMatrix (RowsAs reshapes explicitly), and one
// whose dtype is not F32, F16, BF16, F64, F8_E4M3 or F8_E5M2 with
// ErrNotConvertible.
func (f *File) Rows(name string) (*RowReader, error) {
	t, err := f.Tensor(name)
	if err != nil {
		return nil, err
	}
	if len(t.Shape) != 2 {
		return nil, &FormatError{File: f.Name, Offset: -1, Tensor: name, Field: "shape", Err: ErrNotMatrix,
			Detail: fmt.Sprintf("shape %v has %d dimensions, need 2", t.Shape, len(t.Shape))}
	}
	return f.rowReader(t, t.Shape[0], t.Shape[1])
}

// RowsAs returns a RowReader over the named tensor of any rank, viewed in
// row-major order as rows x cols; rows*cols must equal its element count. A
// 1-D tensor of n elements, for example, reads as one row with RowsAs(name,
// 1, n) or as n rows of one with RowsAs(name, n, 1).
func (f *File) RowsAs(name string, rows, cols int64) (*RowReader, error) {
	t, err := f.Tensor(name)
	if err != nil {
		return nil, err
	}
	if rows < 0 || cols < 0 || (cols != 0 && rows > t.NumElements/cols) || rows*cols != t.NumElements {
		return nil, &FormatError{File: f.Name, Offset: -1, Tensor: name, Field: "shape", Err: ErrNotMatrix,
			Detail: fmt.Sprintf("cannot view shape %v (%d elements) as %d x %d", t.Shape, t.NumElements, rows, cols)}
	}
	return f.rowReader(t, rows, cols)
}

func (f *File) rowReader(t *TensorInfo, rows, cols int64) (*RowReader, error) {
	c, ok := converters[t.DType]
	if !ok {
		return nil, &FormatError{File: f.Name, Offset: -1, Tensor: t.Name, Field: "dtype", Err: ErrNotConvertible, Detail: whyNotConvertible(t.DType)}
	}
	return &RowReader{
		file: f.Name, tensor: t.Name, dtype: t.DType,
		rows: rows, cols: cols,
		r: f.r, off: t.Offset, elemSize: int64(c.size), convert: c.fn,
	}, nil
}

// Rows returns the number of rows.
func (rr *RowReader) Rows() int64 { return rr.rows }

// Cols returns the number of float32 values in a row.
func (rr *RowReader) Cols() int64 { return rr.cols }

// DType returns the dtype the tensor is stored in.
func (rr *RowReader) DType() DType { return rr.dtype }

// ReadRows converts rows [r0, r0+n) into dst[:n*Cols()], row after row. It
// returns an error if the range is not within the tensor, if dst is too
// short, or if reading the file fails.
func (rr *RowReader) ReadRows(dst []float32, r0, n int64) error {
	if r0 < 0 || n < 0 || r0 > rr.rows || n > rr.rows-r0 {
		return fmt.Errorf("safetensors: tensor %s: rows [%d, %d) out of range [0, %d)", quote(rr.tensor), r0, r0+n, rr.rows)
	}
	count := n * rr.cols // at most NumElements, so no overflow
	if int64(len(dst)) < count {
		return fmt.Errorf("safetensors: tensor %s: %d rows of %d need %d values, dst holds %d", quote(rr.tensor), n, rr.cols, count, len(dst))
	}
	if count == 0 {
		return nil
	}
	dst = dst[:count]
	off := rr.off + r0*rr.cols*rr.elemSize
	if rr.dtype == F32 && nativeLittleEndian() {
		// The bytes are already float32 in host order: read them straight
		// into dst, which is aligned; nothing is cast from the file.
		if err := readFullAt(rr.r, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), len(dst)*4), off); err != nil {
			return rr.readError(r0, n, err)
		}
		return nil
	}
	if need := min(ScratchSize, count*rr.elemSize); int64(len(rr.scratch)) < need {
		rr.scratch = make([]byte, need)
	}
	chunk := int64(len(rr.scratch)) / rr.elemSize
	for len(dst) > 0 {
		k := min(chunk, int64(len(dst)))
		buf := rr.scratch[:k*rr.elemSize]
		if err := readFullAt(rr.r, buf, off); err != nil {
			return rr.readError(r0, n, err)
		}
		rr.convert(dst[:k], buf)
		dst = dst[k:]
		off += int64(len(buf))
	}
	return nil
}

func (rr *RowReader) readError(r0, n int64, err error) error {
	return readError(rr.file, fmt.Sprintf("tensor %s: reading rows [%d, %d)", quote(rr.tensor), r0, r0+n), err)
}

// nativeLittleEndian reports whether float32 values in memory have the byte
// order of safetensors data.
func nativeLittleEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}
