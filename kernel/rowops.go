package kernel

import (
	"encoding/binary"
	"math"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/floatconv"
)

// Round rounds v to the compute dtype c as lookups do (the format
// specification's r, "Lookups"): to the nearest F16 or BF16 value, ties to
// even, returned as a float32; for any other c (0, F32) v is returned
// unchanged.
func Round(v float32, c format.DType) float32 {
	switch c {
	case format.F16:
		return floatconv.F16BitsToF32(floatconv.F32ToF16Bits(v))
	case format.BF16:
		return floatconv.BF16BitsToF32(floatconv.F32ToBF16Bits(v))
	}
	return v
}

// AddPosition adds the values q of a positional row to a gathered row out,
// as a positional lookup does with compute dtype c: out[i] = r(out[i] +
// r(q[i])), r being Round; with c 0, a plain float32 add. Gather adds
// positional rows itself; this is for callers that fetch the two rows
// apart (the cluster client) and must give the same bits.
func AddPosition(out, q []float32, c format.DType) {
	q = q[:len(out)]
	if c == 0 {
		for i := range out {
			out[i] += q[i]
		}
		return
	}
	for i := range out {
		out[i] = Round(out[i]+Round(q[i], c), c)
	}
}

// addRow adds the len(out) little-endian float32 values at the start of row
// to out. With a compute dtype c (F16 or BF16) the row's value and the sum
// are each rounded to c.
func addRow(out []float32, row []byte, c format.DType) {
	row = row[:4*len(out)]
	if c == 0 {
		// Kept in this form: the amd64 kernels reproduce the operand order
		// gc compiles it to, which decides which NaN payload an add of two
		// NaNs returns.
		for i := range out {
			out[i] += math.Float32frombits(binary.LittleEndian.Uint32(row[4*i:]))
		}
		return
	}
	for i := range out {
		p := math.Float32frombits(binary.LittleEndian.Uint32(row[4*i:]))
		out[i] = Round(out[i]+Round(p, c), c)
	}
}

// scaleRow multiplies out by s, rounding each product to the given dtype
// (F16 or BF16) when rounding is not 0.
func scaleRow(out []float32, s float32, rounding format.DType) {
	for i := range out {
		out[i] = Round(out[i]*s, rounding)
	}
}
