// Package fma32 provides a correctly rounded float32 fused multiply-add in
// pure Go.
//
// Reproducing code that was compiled with FMA instructions (for example
// PyTorch's AVX2 kernels, where GCC contracted a*b+c into vfmadd) needs
// x*y+z rounded once to float32. Go has no float32 FMA: math.FMA works on
// float64, and float32(math.FMA(float64(x), float64(y), float64(z))) rounds
// twice, once to float64 and once to float32. That is wrong whenever the
// first rounding lands exactly on a float32 halfway point that the exact
// value was not on, e.g. x*y+z = 1 + 3*2^-24 - 2^-70.
//
// Double rounding can only go wrong when the float64 sum lands exactly on a
// float32 halfway point (or in the float32 subnormal range, whose grid is
// coarser), so FMA converts the float64 sum directly in all other cases. In
// those rare ones it computes the exact result like this:
//   - the product of two float32 values has at most 48 significant bits and
//     its exponent stays far inside the float64 range, so float64(x)*float64(y)
//     is exact;
//   - the sum p+z is rounded to float64 and its exact rounding error is
//     recovered with Knuth's TwoSum (no overflow is possible: |p| <= 2^256);
//   - when that error is not zero, the float64 sum is replaced by its
//     round-to-odd version (the neighbour of the exact sum whose last bit is
//     odd), which preserves the information "the exact value lies strictly
//     between two float64 values";
//   - round-to-odd at 53 bits followed by round-to-nearest-even at 24 bits (or
//     at the coarser subnormal float32 grid) equals a single
//     round-to-nearest-even of the exact value, because 53 >= 24+2.
//
// Special values follow IEEE 754 fusedMultiplyAdd: infinities and NaNs
// propagate as in p+z, exact zero results get the sign of the rounded
// addition of two zeros (or +0 for an exact cancellation), and overflow
// rounds to infinity.
package fma32

import "math"

// FMA returns x*y+z computed with a single rounding to float32 (round to
// nearest, ties to even), like C's fmaf and the vfmadd instructions.
func FMA(x, y, z float32) float32 {
	// The product is exact (24x24 bits, exponent within [-298, 256]); s is
	// the exact x*y+z rounded once, to float64.
	s := float64(float64(x)*float64(y)) + float64(z)
	// Rounding s to float32 can only go wrong when s itself lies exactly
	// halfway between two float32 values: for results in the normal
	// float32 range (and beyond, where the halfway point below 2^128
	// decides overflow) that is the bit pattern 1 followed by 28 zeros
	// below the float32 precision. Results below 2^-126 round on the
	// coarser subnormal grid; send them to the exact path too.
	if b := math.Float64bits(s); b&(1<<29-1) == 1<<28 || b&(0x7ff<<52) < (1023-126)<<52 {
		return exact(x, y, z)
	}
	return float32(s)
}

// exact returns x*y+z rounded once to float32, using the TwoSum error term
// of the float64 sum and round-to-odd. It is kept out of line to keep FMA's
// common path short.
//
//go:noinline
func exact(x, y, z float32) float32 {
	p := float64(float64(x) * float64(y)) // exact
	c := float64(z)
	s := p + c
	if s-s != 0 { // s is ±Inf or NaN: inputs were non-finite
		return float32(s)
	}
	// TwoSum: s + e == p + c exactly.
	pv := s - c
	cv := s - pv
	e := (p - pv) + (c - cv)
	if e != 0 {
		b := math.Float64bits(s)
		if b&1 == 0 {
			// s is even: the round-to-odd result is the other neighbour
			// of the exact sum, one ulp towards it.
			if (e > 0) == (s > 0) {
				b++
			} else {
				b--
			}
			s = math.Float64frombits(b)
		}
	}
	return float32(s)
}
