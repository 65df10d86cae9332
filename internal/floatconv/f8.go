package floatconv

import (
	"math"
	"math/bits"
)

// F8E4M3BitsToF32 returns the float32 value of the float8_e4m3fn number with
// bit pattern b (1 sign, 4 exponent bits with bias 7, 3 mantissa bits, no
// infinities, NaN S.1111.111). The conversion is exact; the two NaN
// patterns 0x7F and 0xFF become the quiet NaNs 0x7FF00000 and 0xFFF00000, the
// bits PyTorch's fp8e4m3fn_to_fp32_value computes.
func F8E4M3BitsToF32(b uint8) float32 {
	return math.Float32frombits(f8e4m3ToF32Bits(b))
}

func f8e4m3ToF32Bits(b uint8) uint32 {
	sign := uint32(b&0x80) << 24
	exp := uint32(b>>3) & 0xf
	mant := uint32(b) & 0x7
	switch {
	case exp == 0xf && mant == 0x7:
		// The NaN pattern: PyTorch's shift-and-rebias leaves mantissa
		// 0x700000 under an all-ones exponent.
		return sign | 0x7ff00000
	case exp != 0:
		return sign | (exp+(127-7))<<23 | mant<<20
	case mant == 0:
		return sign
	default:
		// Subnormal: mant * 2^-9 with its top bit at position k.
		k := uint32(31 - bits.LeadingZeros32(mant))
		return sign | (k+(127-9))<<23 | (mant<<(23-k))&0x7fffff
	}
}

// F8E5M2BitsToF32 returns the float32 value of the float8_e5m2 number with
// bit pattern b (1 sign, 5 exponent bits with bias 15, 2 mantissa bits: the
// top byte of a binary16). The conversion is exact; a NaN keeps its sign and
// payload and comes out quiet, as in PyTorch.
func F8E5M2BitsToF32(b uint8) float32 {
	return math.Float32frombits(f16ToF32Bits(uint16(b) << 8))
}

// F32ToF8E4M3Bits returns the float8_e4m3fn bit pattern nearest to f,
// rounding ties to even, as PyTorch's fp8e4m3fn_from_fp32_value does. The
// format has no infinity: magnitudes that round past 448 (464 and up, ties
// going to even 448), infinities and NaNs all become NaN, 0x7F with f's sign.
func F32ToF8E4M3Bits(f float32) uint8 {
	x := math.Float32bits(f)
	sign := uint8(x>>24) & 0x80
	a := x & 0x7fffffff
	switch {
	case a >= 0x43f00000:
		// 480 and up, infinity and NaN.
		return sign | 0x7f
	case a >= 0x3c800000:
		// Normal (2^-6 and up): drop 20 mantissa bits, rounding to nearest
		// even, and rebias the exponent from 127 to 7. Magnitudes in
		// (464, 480) round up to the NaN pattern, as in PyTorch.
		r := a + 0x7ffff + (a>>20)&1
		return sign | uint8((r-(127-7)<<23)>>20)
	default:
		// Subnormal or zero: the unit is 2^-9. Adding 2^-9 * 2^23 = 2^14
		// in float32 rounds the magnitude to a multiple of 2^-9 (to nearest
		// even), exactly as PyTorch's denorm_mask addition does.
		const denorm = 141 << 23 // 2^14
		s := math.Float32frombits(a) + math.Float32frombits(denorm)
		return sign | uint8(math.Float32bits(s)-denorm)
	}
}

// F32ToF8E5M2Bits returns the float8_e5m2 bit pattern nearest to f, rounding
// ties to even, as PyTorch's fp8e5m2_from_fp32_value does: magnitudes from
// 61440 up (ties going to even infinity) become infinity, and NaN becomes
// 0x7F with f's sign.
func F32ToF8E5M2Bits(f float32) uint8 {
	x := math.Float32bits(f)
	sign := uint8(x>>24) & 0x80
	a := x & 0x7fffffff
	switch {
	case a > 0x7f800000:
		return sign | 0x7f
	case a >= 0x47800000:
		// 65536 and up, infinity.
		return sign | 0x7c
	case a >= 0x38800000:
		// Normal (2^-14 and up): drop 21 mantissa bits, rounding to nearest
		// even, and rebias the exponent from 127 to 15. A carry from 57344
		// and up yields the infinity pattern 0x7C.
		r := a + 0xfffff + (a>>21)&1
		return sign | uint8((r-(127-15)<<23)>>21)
	default:
		// Subnormal or zero: the unit is 2^-16; adding 2^7 in float32
		// rounds to a multiple of it, as PyTorch's denorm_mask does.
		const denorm = 134 << 23 // 2^7
		s := math.Float32frombits(a) + math.Float32frombits(denorm)
		return sign | uint8(math.Float32bits(s)-denorm)
	}
}
