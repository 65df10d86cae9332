package safetensors

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
)

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
