// Package floatconv converts between float32 and the narrower floating-point
// formats found in model checkpoints: IEEE 754 binary16 (F16), bfloat16
// (BF16), the two 8-bit formats float8_e4m3fn (F8_E4M3) and float8_e5m2
// (F8_E5M2), and float64 (F64).
//
// Every conversion reproduces PyTorch's CPU conversion bit for bit, so that a
// table imported by embstore holds exactly the float32 values that
// tensor.float() gives in PyTorch:
//
//   - Widening (F16, BF16, F8 to float32) is exact. A NaN stays a NaN with
//     its sign and payload; F16 and F8_E5M2 NaNs come out quiet (the quiet bit
//     set), as PyTorch's fp16_ieee_to_fp32_value produces them on x86-64 and
//     AArch64, and BF16 NaNs keep every bit, as PyTorch's shift does.
//   - Narrowing float32 to F16 rounds to nearest, ties to even, overflows to
//     infinity and turns every NaN into sign|0x7E00, as
//     fp16_ieee_from_fp32_value (c10/util/Half.h) does.
//   - Narrowing float32 to BF16 adds 0x7FFF plus the lowest kept bit and
//     shifts, as c10::detail::round_to_nearest_even (c10/util/BFloat16.h)
//     does, overflowing to infinity; every NaN becomes 0x7FC0. PyTorch's
//     vectorised CPU copy kernel writes 0xFFFF for a NaN instead; both are
//     NaN and every other value agrees.
//   - Narrowing float32 to F8_E4M3 follows c10/util/Float8_e4m3fn.h: round to
//     nearest even, and every magnitude from 464 up (which rounds past the
//     largest finite value 448), infinity and NaN become NaN (S.1111.111),
//     because the format has no infinity.
//   - Narrowing float32 to F8_E5M2 follows c10/util/Float8_e5m2.h: round to
//     nearest even, magnitudes from 61440 up become infinity, NaN becomes
//     S.11111.11.
//   - F64 to float32 is Go's float32(x), which rounds to nearest even like
//     PyTorch's .float().
//
// The scalar functions (F16BitsToF32, F32ToF16Bits, ...) convert one value
// given as its bit pattern. The slice functions (F16ToF32, F32ToF16, ...)
// convert whole runs of little-endian bytes, the layout of safetensors data,
// and return the number of elements converted, like copy: the smaller of the
// two lengths counted in elements. Source bytes need no alignment.
package floatconv
