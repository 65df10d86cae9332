//go:build cgo

package torchinit

import (
	"math"
	"os"
	"strconv"
	"testing"

	"github.com/embstore/embstore/internal/testing/cref"
)

// The C library is this file's oracle, so it builds only with cgo. Without
// cgo, the small-tensor path is still checked against torch's own tables of
// 1 to 15 values (TestExtraReferences).

// TestSmallNormalMatchesLibm compares the small-tensor path with the same
// Box-Muller formula evaluated with the C library, which is what torch runs:
// the current ATen formula, log1p(-u2) with sin and cos of one argument
// (which GCC turns into one sincos call), must agree bit for bit in float64;
// the formula of torch 1.13 and earlier, log(1 - u2), differs in the last
// bit of the radius in a few percent of the draws, and the test checks that
// this never reaches the float32 samples on its draws. TORCHINIT_LIBM_PAIRS
// sets the number of pairs per parameter set (default 2^18).
func TestSmallNormalMatchesLibm(t *testing.T) {
	pairs := 1 << 18
	if s := os.Getenv("TORCHINIT_LIBM_PAIRS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("bad TORCHINIT_LIBM_PAIRS %q", s)
		}
		pairs = n
	}
	for _, c := range []struct {
		mean, std float64
		fused     bool
	}{
		{0, 1, true},
		{0, 1, false},
		{0.1, 0.3, true},
		{-2.5, 1e-3, false},
	} {
		g := NewGenerator(uint64(pairs) + 77)
		oracle := NewGenerator(uint64(pairs) + 77)
		affine := func(v float64) float64 {
			if c.fused {
				return math.FMA(v, c.std, c.mean)
			}
			return float64(v*c.std) + c.mean
		}
		var oldRadiusDiffs, bad int
		for i := range pairs {
			u1 := oracle.uniformDouble()
			u2 := oracle.uniformDouble()
			theta := float64(twoPi64 * u1)
			sin, cos := cref.Sincos(theta)
			r := math.Sqrt(float64(-2 * cref.Log1p(-u2)))
			r13 := math.Sqrt(float64(-2 * cref.Log(1-u2)))
			if r != r13 {
				oldRadiusDiffs++
			}
			first := g.normalDouble(c.mean, c.std, c.fused)
			second := g.normalDouble(c.mean, c.std, c.fused)
			for _, s := range []struct {
				got, want, old float64
			}{
				{first, affine(float64(r * cos)), affine(float64(r13 * cos))},
				{second, affine(float64(r * sin)), affine(float64(r13 * sin))},
			} {
				if math.Float64bits(s.got) != math.Float64bits(s.want) ||
					math.Float32bits(float32(s.got)) != math.Float32bits(float32(s.old)) {
					bad++
					if bad < 5 {
						t.Errorf("pair %d: sample %v, C library %v (torch 1.13's formula: float32 %v)",
							i, s.got, s.want, float32(s.old))
					}
				}
			}
		}
		if bad > 0 {
			t.Errorf("mean %g std %g fused %v: %d of %d samples differ", c.mean, c.std, c.fused, bad, 2*pairs)
		}
		t.Logf("mean %g std %g fused %v: %d pairs; log(1-u2) and log1p(-u2) radii differ in %d",
			c.mean, c.std, c.fused, pairs, oldRadiusDiffs)
	}
}
