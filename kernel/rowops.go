package kernel

import (
	"encoding/binary"
	"math"

	"github.com/embstore/embstore/format"
)

// addRow adds the len(out) little-endian float32 values at the start of row
// to out.
func addRow(out []float32, row []byte) {
	row = row[:4*len(out)]
	for i := range out {
		out[i] += math.Float32frombits(binary.LittleEndian.Uint32(row[4*i:]))
	}
}

// scaleRow multiplies out by s, rounding each product to the given dtype
// (F16 or BF16) when rounding is not 0.
func scaleRow(out []float32, s float32, rounding format.DType) {
	for i := range out {
		out[i] = format.RoundTo(out[i]*s, rounding)
	}
}
