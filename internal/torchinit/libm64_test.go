//go:build cgo

package torchinit

// The ports of glibc's double sincos and log1p are compared with the C
// library here, so this file builds only with cgo; without it the
// small-tensor references made by torch (TestExtraReferences) still check
// them on the values torch feeds them.

import (
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/embstore/embstore/internal/testing/cref"
)

// libmSamples returns the number of random inputs per libm comparison:
// TORCHINIT_LIBM_SAMPLES, or def.
func libmSamples(t *testing.T, def int) int {
	s := os.Getenv("TORCHINIT_LIBM_SAMPLES")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("bad TORCHINIT_LIBM_SAMPLES %q", s)
	}
	return n
}

func sameFloat64(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || (a != a && b != b)
}

// TestGlibcSincos compares the port with the C library's sincos (the one
// torch calls) bit for bit: on the arguments the small-tensor path produces,
// 2*pi*u for 53-bit uniforms u, on random arguments of either sign up to the
// supported bound, around every branch boundary and table cell, and on
// special values.
func TestGlibcSincos(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	n := libmSamples(t, 1<<20)
	var xs []float64
	for range n {
		u := float64(r.Uint64()&(1<<53-1)) * 0x1p-53
		xs = append(xs, float64(twoPi64*u))
	}
	for range n / 4 {
		// Random magnitudes over the whole supported range, both signs.
		x := math.Ldexp(1+r.Float64(), r.IntN(56)-29)
		if x >= 105414344 {
			x = r.Float64() * 105414344
		}
		if r.IntN(2) == 0 {
			x = -x
		}
		xs = append(xs, x)
	}
	limit := math.Float64frombits(0x419921FB << 32) // glibc's bound for the simple reduction
	for _, b := range []float64{0x1p-27, 0.126, 0.855469, 2.426265, limit, math.Pi / 4, math.Pi / 2, math.Pi, 2 * math.Pi} {
		for d := -64; d <= 64; d++ {
			xs = append(xs, math.Float64frombits(uint64(int64(math.Float64bits(b))+int64(d))))
		}
	}
	for i := 0; i <= 110; i++ {
		c := float64(i) / 128
		for _, d := range []float64{-1.0 / 256, -1e-12, 0, 1e-12, 1.0 / 256} {
			xs = append(xs, c+d, -(c + d))
		}
	}
	xs = append(xs, 0, math.Copysign(0, -1), 1e-300, 5e-324, math.Inf(1), math.Inf(-1), math.NaN())
	bad := 0
	for _, x := range xs {
		if math.Abs(x) >= limit {
			continue
		}
		s, c := glibcSincos(x)
		ws, wc := cref.Sincos(x)
		if !sameFloat64(s, ws) || !sameFloat64(c, wc) {
			if bad < 10 {
				t.Errorf("sincos(%v (%#016x)) = %v, %v; C library %v, %v", x, math.Float64bits(x), s, c, ws, wc)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d arguments differ", bad, len(xs))
	}
}

// TestGlibcLog1p compares the port with the C library's log1p bit for bit:
// on -u for 53-bit uniforms u (what the small-tensor path takes), on random
// arguments of every magnitude, around the branch boundaries, and on special
// values.
func TestGlibcLog1p(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	n := libmSamples(t, 1<<20)
	var xs []float64
	for range n {
		xs = append(xs, -float64(r.Uint64()&(1<<53-1))*0x1p-53)
	}
	for range n / 4 {
		x := math.Ldexp(1+r.Float64(), r.IntN(2100)-1075)
		if r.IntN(2) == 0 {
			x = -x
			if x < -1 {
				x = -r.Float64()
			}
		}
		xs = append(xs, x)
	}
	for _, b := range []float64{0x1p-54, 0x1p-29, 0.41422, -0.2929, 0x1p53, 1, -1, 0.5, -0.5} {
		for d := -64; d <= 64; d++ {
			xs = append(xs, math.Float64frombits(uint64(int64(math.Float64bits(b))+int64(d))))
		}
	}
	xs = append(xs, 0, math.Copysign(0, -1), -1, -2, math.MaxFloat64, math.Inf(1), math.Inf(-1), math.NaN(), 5e-324, -5e-324)
	bad := 0
	for _, x := range xs {
		if got, want := glibcLog1p(x), cref.Log1p(x); !sameFloat64(got, want) {
			if bad < 10 {
				t.Errorf("log1p(%v (%#016x)) = %v, C library %v", x, math.Float64bits(x), got, want)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d arguments differ", bad, len(xs))
	}
}
