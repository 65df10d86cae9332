package kernel

import (
	"encoding/binary"
	"math"

	"github.com/embstore/embstore/format"
)

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
		out[i] = format.RoundTo(out[i]+format.RoundTo(p, c), c)
	}
}

// scaleRow multiplies out by s, rounding each product to the given dtype
// (F16 or BF16) when rounding is not 0.
func scaleRow(out []float32, s float32, rounding format.DType) {
	for i := range out {
		out[i] = format.RoundTo(out[i]*s, rounding)
	}
}
