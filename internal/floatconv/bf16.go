package floatconv

import "math"

// BF16BitsToF32 returns the float32 value of the bfloat16 number with bit
// pattern b: the same bits shifted into the top half of a float32. Every
// value, NaN payloads included, is kept exactly.
func BF16BitsToF32(b uint16) float32 {
	return math.Float32frombits(uint32(b) << 16)
}

// F32ToBF16Bits returns the bfloat16 bit pattern nearest to f, rounding ties
// to even; values that round past the largest finite bfloat16 become
// infinity, and every NaN becomes the quiet NaN 0x7FC0, as PyTorch's
// c10::BFloat16 does.
func F32ToBF16Bits(f float32) uint16 {
	x := math.Float32bits(f)
	if x&0x7fffffff > 0x7f800000 {
		return 0x7fc0
	}
	return uint16((x + 0x7fff + (x>>16)&1) >> 16)
}
