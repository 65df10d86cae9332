package floatconv

import (
	"math"
	"math/bits"
)

// F16BitsToF32 returns the float32 value of the IEEE 754 binary16 number
// with bit pattern h. The conversion is exact; a NaN keeps its sign and
// payload and comes out quiet.
func F16BitsToF32(h uint16) float32 {
	return math.Float32frombits(f16ToF32Bits(h))
}

// f16ToF32Bits widens binary16 bits to binary32 bits.
func f16ToF32Bits(h uint16) uint32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f && mant == 0:
		return sign | 0x7f800000
	case exp == 0x1f:
		return sign | 0x7fc00000 | mant<<13
	case exp != 0:
		// Rebias the exponent from 15 to 127.
		return sign | (exp+(127-15))<<23 | mant<<13
	case mant == 0:
		return sign
	default:
		// Subnormal: mant * 2^-24 with its top bit at position k gives
		// 1.f * 2^(k-24), a normal float32.
		k := uint32(31 - bits.LeadingZeros32(mant))
		return sign | (k+(127-24))<<23 | (mant<<(23-k))&0x7fffff
	}
}

// F32ToF16Bits returns the IEEE 754 binary16 bit pattern nearest to f,
// rounding ties to even. Magnitudes of 65520 and above become infinity and
// every NaN becomes sign|0x7E00, as in PyTorch.
func F32ToF16Bits(f float32) uint16 {
	x := math.Float32bits(f)
	sign := uint16(x>>16) & 0x8000
	a := x & 0x7fffffff
	switch {
	case a > 0x7f800000:
		return sign | 0x7e00
	case a >= 0x477ff000:
		// 65520 is halfway between 65504, the largest binary16 value, and
		// the next step 65536: it and everything above round to infinity.
		return sign | 0x7c00
	case a >= 0x38800000:
		// Normal binary16 (2^-14 and up): drop 13 mantissa bits, rounding
		// to nearest even. A carry out of the mantissa bumps the exponent,
		// which is the right result.
		r := a + 0xfff + (a>>13)&1
		return sign | uint16((r-(127-15)<<23)>>13)
	case a >= 0x33000000:
		// Subnormal binary16 (2^-25 and up): make the implicit bit
		// explicit and shift so that the unit is 2^-24, rounding to
		// nearest even. Rounding up to 2^-14 yields the smallest normal.
		e := a >> 23 // 102..112
		m := a&0x7fffff | 0x800000
		shift := 126 - e // 14..24
		r := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	default:
		// Below 2^-25 (half the smallest subnormal) everything rounds to
		// zero; exactly 2^-25 is a tie that rounds to even zero too, and
		// it was caught by the case above, which handles it correctly.
		return sign
	}
}
