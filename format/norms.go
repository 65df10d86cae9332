package format

import (
	"encoding/binary"
	"math"

	"github.com/embstore/embstore/internal/floatconv"
)

// The norms section (kind 6, SPEC.md "Norms"): one little-endian f32 per
// token row, the Euclidean norm of the row as a lookup without positions
// returns it, so that cosine similarity needs no pass over the table first.

// canonicalNaN is the norm of a row that holds a NaN: a quiet NaN with no
// payload, so that the bits are defined.
const canonicalNaN = 0x7fc00000

// LookupValues decodes a stored row of dtype d into len(dst) float32 values
// as a lookup without positions returns them (SPEC.md, "Lookups"): each
// value rounded to compute (F16 or BF16; 0 is plain f32), then, if scale is
// not 1, multiplied by scale in f32 and rounded to compute again. It is the
// reference the kernel package reproduces.
func LookupValues(dst []float32, row []byte, d DType, scale float32, compute DType) {
	DecodeRow(dst, row, d)
	if compute != 0 {
		for i, v := range dst {
			dst[i] = computeRound(v, compute)
		}
	}
	if scale != 1 && scale != 0 {
		for i, v := range dst {
			dst[i] = computeRound(v*scale, compute)
		}
	}
}

// Norm returns the Euclidean norm of v as the norms section defines it: NaN
// (the quiet NaN 0x7fc00000) if a value is NaN, else +Inf if a value is
// infinite, else the square root of the sum of the squares, each square and
// each partial sum rounded to float64, summed in index order from +0, the
// square root taken in float64 and rounded once to float32.
func Norm(v []float32) float32 {
	s := 0.0
	inf := false
	for _, x := range v {
		f := float64(x)
		if math.IsNaN(f) {
			return math.Float32frombits(canonicalNaN)
		}
		if math.IsInf(f, 0) {
			inf = true
		}
		s += float64(f * f) // the conversion keeps the compiler from fusing a multiply-add
	}
	if inf {
		return float32(math.Inf(1))
	}
	return float32(math.Sqrt(s))
}

// rowNormer computes the norms of stored token rows of one table.
type rowNormer struct {
	dim     int
	dtype   DType
	scale   float32
	compute DType
	vals    []float32
}

func newRowNormer(h *Header) *rowNormer {
	return &rowNormer{dim: h.Dim, dtype: h.DType, scale: h.TokenScale, compute: h.ComputeDType, vals: make([]float32, h.Dim)}
}

// norm returns the norm of one stored row (at least its row size of bytes).
func (n *rowNormer) norm(row []byte) float32 {
	LookupValues(n.vals, row, n.dtype, n.scale, n.compute)
	return Norm(n.vals)
}

// normBits returns the norms section's encoding of norm v.
func normBits(v float32) uint32 { return math.Float32bits(v) }

// putNorms encodes norms little-endian into b (4 bytes each).
func putNorms(b []byte, norms []float32) {
	for i, v := range norms {
		binary.LittleEndian.PutUint32(b[4*i:], normBits(v))
	}
}

// computeRound rounds v to the compute dtype c (the specification's r,
// "Lookups"): to the nearest F16 or BF16 value, ties to even; any other c
// leaves v as it is. kernel.Round is the same function for the kernels;
// the format keeps its own so that LookupValues stays the reference they
// are checked against.
func computeRound(v float32, c DType) float32 {
	switch c {
	case F16:
		return floatconv.F16BitsToF32(floatconv.F32ToF16Bits(v))
	case BF16:
		return floatconv.BF16BitsToF32(floatconv.F32ToBF16Bits(v))
	}
	return v
}
