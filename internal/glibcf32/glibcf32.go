// Package glibcf32 is a pure Go port of the GNU C Library's single-precision
// logf, sinf, cosf and sincosf, reproducing glibc's results bit for bit.
//
// PyTorch's scalar CPU kernels draw normal samples through the C library's
// float logf, cosf and sinf. Those are not correctly rounded, so
// float32(math.Log(float64(x))) and friends differ from them on a sizeable
// fraction of inputs; embstore needs glibc's exact bits to reproduce seeded
// PyTorch initialisation.
//
// The algorithms and tables come from glibc's sysdeps/ieee754/flt-32 sources
// (e_logf.c, e_logf_data.c, s_sinf.c, s_cosf.c, s_sincosf.c, s_sincosf.h,
// sincosf_poly.h, s_sincosf_data.c), which glibc took from Arm's
// optimized-routines project (math/logf.c, math/sinf.c, math/cosf.c,
// math/sincosf.h, math/sincosf_data.c). They evaluate small polynomials in
// double precision after a table-driven reduction.
//
// # Which glibc build is reproduced
//
// On x86-64, glibc compiles these files twice and picks one at load time: an
// "fma" build, compiled with FMA and AVX2 enabled so that the C compiler
// contracts every a*b+c of the source into a fused multiply-add, used on CPUs
// that have FMA and AVX2 (every x86-64 CPU since Haswell and Zen), and an
// "sse2" build without fusion for older CPUs. This package reproduces the fma
// build: every multiply-add that it fuses is written here as math.FMA, and
// every other product is rounded on its own, so the results do not depend on
// GOAMD64 or on whether the Go compiler fuses operations.
//
// The two builds differ on very few inputs. Across all 2^32 float32 values
// logf gives the same bits in both, and sinf and cosf differ on 12 and 22
// arguments respectively, all with 17 < |x| < 117, where the fused
// x - n*pi/2 of the fast range reduction keeps bits that the unfused one
// loses (the test file lists them). In particular both builds agree on
// PyTorch's domains, logf on (0, 1] and sinf and cosf on [0, 2*pi).
//
// The functions agree with glibc on every float32 input, including zeros,
// subnormals, infinities, NaNs and huge arguments to sinf and cosf (glibc's
// exact integer range reduction by a 192-bit 4/pi is ported too); this was
// checked against glibc 2.36 on all 2^32 inputs, and the tests check
// PyTorch's domains exhaustively and a few million other inputs. Results that
// are NaN are NaN here as well; their payload and sign follow the hardware's
// NaN rules and are not part of the contract. Floating-point exceptions and
// errno, which glibc also sets, have no Go counterpart and are not modelled.
package glibcf32

// invalidf returns the NaN that glibc's __math_invalidf returns for x:
// (x-x)/(x-x), a quiet NaN for an infinite, negative or NaN argument.
func invalidf(x float32) float32 {
	d := x - x
	return d / d
}
