package fma32

import (
	"math"
	"math/big"
	"testing"
)

// bigFMA is the tests' oracle: x*y+z computed exactly with math/big and
// rounded once to float32 (to nearest, ties to even), with IEEE 754's rules
// for infinities, NaNs and signed zeros. It shares nothing with FMA's
// float64 arithmetic, and needs no C library.
//
// The exact value needs at most 426 bits: the product of two float32 values
// has 48 significant bits and its lowest bit is at least 2^-298, and every
// finite operand is below 2^128. With 1024 bits of precision, the product
// and the sum are exact, and big.Float's Float32 rounds the exact sum to
// the nearest float32, subnormals included.
func bigFMA(x, y, z float32) float32 {
	nan := float32(math.NaN())
	fx, fy, fz := float64(x), float64(y), float64(z)
	negProduct := math.Signbit(fx) != math.Signbit(fy)
	switch {
	case x != x || y != y || z != z:
		return nan
	case math.IsInf(fx, 0) || math.IsInf(fy, 0):
		if fx == 0 || fy == 0 {
			return nan // 0 * Inf
		}
		if math.IsInf(fz, 0) && math.Signbit(fz) != negProduct {
			return nan // Inf - Inf
		}
		return float32(math.Copysign(math.Inf(1), boolSign(negProduct)))
	case math.IsInf(fz, 0):
		return z
	case fx == 0 || fy == 0:
		if fz != 0 {
			return z
		}
		// (±0) + (±0): -0 only if both are -0.
		return float32(math.Copysign(0, boolSign(negProduct && math.Signbit(fz))))
	}
	const prec = 1024
	p := new(big.Float).SetPrec(prec).SetFloat64(fx)
	p.Mul(p, new(big.Float).SetPrec(prec).SetFloat64(fy))
	s := new(big.Float).SetPrec(prec).Add(p, new(big.Float).SetPrec(prec).SetFloat64(fz))
	if s.Sign() == 0 {
		return 0 // an exact cancellation is +0 when rounding to nearest
	}
	f, _ := s.Float32()
	return f
}

func boolSign(neg bool) float64 {
	if neg {
		return -1
	}
	return 1
}

// TestOracle pins bigFMA on cases whose results are known without it.
func TestOracle(t *testing.T) {
	inf := float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	tiny := f32(1) // smallest subnormal
	for _, c := range []struct {
		x, y, z, want float32
	}{
		{2, 3, 4, 10},
		{0x1p-24 * (1 + 0x1p-23), 1 - 0x1p-23, 1 + 0x1p-23, 1 + 0x1p-23}, // the double-rounding trap
		{1 + 0x1p-23, 1 + 0x1p-23, -1, 0x1p-22 + 0x1p-46},                // the product's low bits survive
		{3, 5, -15, 0}, // exact cancellation: +0
		{-3, 5, 15, 0}, // +0 too
		{negZero, 1, negZero, negZero},
		{negZero, 1, 0, 0},
		{0, -1, negZero, negZero},
		{tiny, 0.5, 0, 0},        // halfway to the smallest subnormal: ties to even, 0
		{tiny, 0.75, 0, tiny},    // above halfway
		{-tiny, 0.5, 0, negZero}, // the sign of an underflow survives
		{tiny, 1.5, 0, 2 * tiny}, // 1.5 ulps: ties to even, 2
		{math.MaxFloat32, 2, -math.MaxFloat32, math.MaxFloat32},
		{math.MaxFloat32, 1 + 0x1p-23, 0, inf}, // overflow
		{0x1p64, 0x1p64, -inf, -inf},
		{inf, -1, 5, -inf},
	} {
		if got := bigFMA(c.x, c.y, c.z); !same(got, c.want) {
			t.Errorf("bigFMA(%g, %g, %g) = %g (%#08x), want %g (%#08x)", c.x, c.y, c.z,
				got, math.Float32bits(got), c.want, math.Float32bits(c.want))
		}
	}
	for _, c := range [][3]float32{{inf, 0, 1}, {0, -inf, 1}, {inf, 1, -inf}, {1, float32(math.NaN()), 1}} {
		if got := bigFMA(c[0], c[1], c[2]); got == got {
			t.Errorf("bigFMA(%g, %g, %g) = %g, want NaN", c[0], c[1], c[2], got)
		}
	}
}
