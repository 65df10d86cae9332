package format

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/embstore/embstore/internal/floatconv"
	"github.com/embstore/embstore/internal/fma32"
)

// DecodeRow converts one stored row of dtype d into len(dst) float32 values.
// row holds at least d.RowSize(len(dst)) bytes, and d is a valid dtype. It is
// the reference definition of every dtype's values; the kernel package's fast
// paths agree with it bit for bit.
func DecodeRow(dst []float32, row []byte, d DType) {
	switch d {
	case F32:
		floatconv.F32LEToF32(dst, row[:4*len(dst)])
	case F16:
		floatconv.F16ToF32(dst, row[:2*len(dst)])
	case BF16:
		floatconv.BF16ToF32(dst, row[:2*len(dst)])
	case Int8:
		scale, bias := Int8Params(row, len(dst))
		for i, q := range row[:len(dst)] {
			dst[i] = fma32.FMA(scale, float32(q), bias)
		}
	}
}

// Int8Params returns the scale and bias of an int8 row of dim values.
func Int8Params(row []byte, dim int) (scale, bias float32) {
	off := Int8ScaleOffset(dim)
	scale = math.Float32frombits(binary.LittleEndian.Uint32(row[off:]))
	bias = math.Float32frombits(binary.LittleEndian.Uint32(row[off+4:]))
	return scale, bias
}

// int8Epsilon keeps the inverse scale finite for a constant row, as in
// FBGEMM's FloatToFused8BitRowwiseQuantizedSBFloat, which torch's
// embedding_bag_byte_prepack uses.
const int8Epsilon = 1e-8

// EncodeRow stores len(src) float32 values as one row of dtype d in dst,
// which holds at least d.RowSize(len(src)) bytes; bytes of dst past the row
// size are not touched. It returns the largest absolute difference between a
// finite value of src and the value the row now holds (+Inf if a finite
// value overflowed to infinity).
//
// f16 and bf16 round to nearest even, as torch's .to() does. int8 quantises
// as FBGEMM's fused 8-bit row-wise format (torch's
// embedding_bag_byte_prepack): scale = (max-min)/255, bias = min, q =
// round-half-even((x-min) * 255/(max-min+1e-8)); it refuses rows holding NaN
// or an infinity, which it cannot represent. A constant row is exact; other
// values are within scale*(1/2 + 255e-8/(max-min)) of the input, plus float32
// rounding: half a quantisation step, slightly more for rows whose range is
// under about 1e-3, where FBGEMM's epsilon shows.
func EncodeRow(dst []byte, src []float32, d DType) (maxErr float64, err error) {
	switch d {
	case F32:
		floatconv.F32ToF32LE(dst, src)
		return 0, nil
	case F16:
		floatconv.F32ToF16(dst, src)
	case BF16:
		floatconv.F32ToBF16(dst, src)
	case Int8:
		if err := encodeInt8(dst, src); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("embstore: cannot encode dtype %s", d)
	}
	var back [256]float32
	for lo := 0; lo < len(src); lo += len(back) {
		n := min(len(back), len(src)-lo)
		decodeRange(back[:n], dst, d, lo, len(src))
		for i, v := range src[lo : lo+n] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				continue
			}
			if e := math.Abs(float64(back[i]) - float64(v)); e > maxErr || math.IsNaN(e) {
				maxErr = math.Inf(1)
				if !math.IsNaN(e) {
					maxErr = e
				}
			}
		}
	}
	return maxErr, nil
}

// decodeRange decodes values [lo, lo+len(dst)) of a stored row of dim values.
func decodeRange(dst []float32, row []byte, d DType, lo, dim int) {
	switch d {
	case F16:
		floatconv.F16ToF32(dst, row[2*lo:])
	case BF16:
		floatconv.BF16ToF32(dst, row[2*lo:])
	case Int8:
		scale, bias := Int8Params(row, dim)
		for i, q := range row[lo : lo+len(dst)] {
			dst[i] = fma32.FMA(scale, float32(q), bias)
		}
	}
}

func encodeInt8(dst []byte, src []float32) error {
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for i, v := range src {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("embstore: value %d is %v; int8 rows can only hold finite values", i, v)
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	rng := hi - lo
	if math.IsInf(float64(rng), 0) {
		return fmt.Errorf("embstore: row range [%v, %v] overflows float32; int8 cannot hold it", lo, hi)
	}
	scale := rng / 255
	inv := 255 / (rng + int8Epsilon)
	for i, v := range src {
		q := math.RoundToEven(float64(float32(v-lo) * inv))
		dst[i] = uint8(max(0, min(255, q)))
	}
	off := Int8ScaleOffset(len(src))
	clear(dst[len(src):off])
	binary.LittleEndian.PutUint32(dst[off:], math.Float32bits(scale))
	binary.LittleEndian.PutUint32(dst[off+4:], math.Float32bits(lo))
	return nil
}
