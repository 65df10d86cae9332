package torchinit

import (
	"math"

	"github.com/embstore/embstore/internal/fma32"
)

// This file reproduces, one lane at a time, ATen's AVX2 Box-Muller kernel
// normal_fill_16_AVX2 (native/cpu/DistributionTemplates.h) and the Cephes
// derived log256_ps and sincos256_ps it calls (native/cpu/avx_mathfun.h).
//
// Every float32 operation rounds exactly as the compiled kernel does. The
// kernel's translation unit is built with -mfma and GCC's default
// -ffp-contract=fast, so GCC fused some multiply-adds of the source into
// vfmadd/vfmsub/vfnmadd instructions. Which ones were fused was read from
// the disassembly of a GCC 12 build of libtorch_cpu (torch 1.13); each fused
// operation below is an fma32.FMA call and each unfused product is wrapped in
// an explicit float32 conversion, which keeps the Go compiler from fusing it
// on its own (it does at GOAMD64=v3).
//
// Fused in the library (both inlined copies of the kernel, the main loop and
// the recomputed tail, agree):
//   - log256_ps: the eight Horner steps y = y*x + p1..p8; y*z + e*q1 (with
//     y*x and e*q1 multiplied separately before); y - z*0.5 (vfnmadd);
//     x + e*q2 (exact either way: e is a small integer and q2 has 9 bits).
//   - sincos256_ps: the three reduction steps x + y*(-DP1), + y*(-DP2),
//     + y*(-DP3); the first two steps of both polynomials; (y*z)*z - z*0.5
//     (vfmsub, the first product separate); y2*x + x for the sine.
//   - normal_fill_16_AVX2: n*std + mean, written as _mm256_fmadd_ps.
//
// Not fused: z = x*x, 4/pi*x, 2*pi*u2, -2*log(u1), radius*cos and radius*sin,
// the y*x before y*z in the logarithm, z*0.5, the sine's y2*z, and the
// additions y+1 and x+y.

// Constants of avx_mathfun.h, as the float32 bit patterns found in the
// library (decimal literals rounded to float32).
var (
	cMinNormPos = math.Float32frombits(0x00800000) // smallest normal float
	cSqrtHF     = math.Float32frombits(0x3f3504f3) // 0.707106781186547524
	cLogP0      = math.Float32frombits(0x3d9021bb) // 7.0376836292e-2
	cLogP1      = math.Float32frombits(0xbdebd1b8) // -1.1514610310e-1
	cLogP2      = math.Float32frombits(0x3def251a) // 1.1676998740e-1
	cLogP3      = math.Float32frombits(0xbdfe5d4f) // -1.2420140846e-1
	cLogP4      = math.Float32frombits(0x3e11e9bf) // 1.4249322787e-1
	cLogP5      = math.Float32frombits(0xbe2aae50) // -1.6668057665e-1
	cLogP6      = math.Float32frombits(0x3e4cceac) // 2.0000714765e-1
	cLogP7      = math.Float32frombits(0xbe7ffffc) // -2.4999993993e-1
	cLogP8      = math.Float32frombits(0x3eaaaaaa) // 3.3333331174e-1
	cLogQ1      = math.Float32frombits(0xb95e8083) // -2.12194440e-4
	cLogQ2      = math.Float32frombits(0x3f318000) // 0.693359375

	cMinusDP1 = math.Float32frombits(0xbf490000) // -0.78515625
	cMinusDP2 = math.Float32frombits(0xb97da000) // -2.4187564849853515625e-4
	cMinusDP3 = math.Float32frombits(0xb3222169) // -3.77489497744594108e-8
	cSinP0    = math.Float32frombits(0xb94ca1f9) // -1.9515295891e-4
	cSinP1    = math.Float32frombits(0x3c08839e) // 8.3321608736e-3
	cSinP2    = math.Float32frombits(0xbe2aaaa3) // -1.6666654611e-1
	cCosP0    = math.Float32frombits(0x37ccf5ce) // 2.443315711809948e-5
	cCosP1    = math.Float32frombits(0xbab6061a) // -1.388731625493765e-3
	cCosP2    = math.Float32frombits(0x3d2aaaa5) // 4.166664568298827e-2
	cFOPI     = math.Float32frombits(0x3fa2f983) // 1.27323954473516 (4/pi)

	// cTwoPi32 is _mm256_set1_ps(2.0f * c10::pi<double>): 2*pi rounded
	// to float32.
	cTwoPi32 = math.Float32frombits(0x40c90fdb)
)

// andMask returns x if keep, else +0: the effect of _mm256_and_ps with a
// comparison mask.
func andMask(x float32, keep bool) float32 {
	if keep {
		return x
	}
	return 0
}

// cvttps returns _mm256_cvttps_epi32 of one lane: truncation toward zero,
// and the "integer indefinite" 0x80000000 for NaN and out-of-range inputs.
func cvttps(x float32) int32 {
	if x != x || x >= 0x1p31 || x < -0x1p31 {
		return math.MinInt32
	}
	return int32(x)
}

// log256 is one lane of log256_ps: the natural logarithm by Cephes'
// logf algorithm (frexp, a degree-8 polynomial, reconstruction), NaN for
// x <= 0.
func log256(x float32) float32 {
	invalid := x <= 0 // _CMP_LE_OS: false for NaN
	if !(x > cMinNormPos) {
		x = cMinNormPos // _mm256_max_ps(x, min_norm_pos), which also maps NaN to min_norm_pos
	}
	bits := math.Float32bits(x)
	imm0 := int32(bits >> 23)
	x = math.Float32frombits(bits&^0x7f800000 | 0x3f000000) // mantissa in [0.5, 1)
	imm0 -= 0x7f
	e := float32(imm0)
	e = e + 1

	mask := x < cSqrtHF
	tmp := andMask(x, mask)
	x = x - 1
	e = e - andMask(1, mask)
	x = x + tmp

	z := float32(x * x)

	// Horner steps y = y*x + p_k, all fused.
	y := cLogP0
	y = fma32.FMA(y, x, cLogP1)
	y = fma32.FMA(y, x, cLogP2)
	y = fma32.FMA(y, x, cLogP3)
	y = fma32.FMA(y, x, cLogP4)
	y = fma32.FMA(y, x, cLogP5)
	y = fma32.FMA(y, x, cLogP6)
	y = fma32.FMA(y, x, cLogP7)
	y = fma32.FMA(y, x, cLogP8)
	y = float32(y * x)

	tmp = float32(e * cLogQ1)   // separate multiply ...
	y = fma32.FMA(y, z, tmp)    // ... then y*z + tmp fused
	y = fma32.FMA(z, -0.5, y)   // y - z*0.5 fused (vfnmadd)
	x = x + y                   // plain add
	x = fma32.FMA(e, cLogQ2, x) // x + e*q2 fused
	if invalid {
		return math.Float32frombits(0xffffffff) // x | all-ones mask: a NaN
	}
	return x
}

// sincos256 is one lane of sincos256_ps: sine and cosine by Cephes' sinf and
// cosf (reduction by pi/4 in three parts, two polynomials, sign fix-ups).
func sincos256(x float32) (sin, cos float32) {
	bits := math.Float32bits(x)
	signSin := bits & 0x80000000
	x = math.Float32frombits(bits &^ 0x80000000)

	y := float32(x * cFOPI)
	j := cvttps(y)
	j = (j + 1) &^ 1 // j = (j+1) & ~1
	y = float32(j)
	swapSin := uint32(j&4) << 29
	polyMask := j&2 == 0 // true: the sine takes the sine polynomial

	// Extended precision modular arithmetic: x = ((x - y*DP1) - y*DP2) - y*DP3,
	// each step fused.
	x = fma32.FMA(y, cMinusDP1, x)
	x = fma32.FMA(y, cMinusDP2, x)
	x = fma32.FMA(y, cMinusDP3, x)

	signCos := uint32(^(j-2)&4) << 29
	signSin ^= swapSin

	z := float32(x * x)

	// Cosine polynomial.
	yc := fma32.FMA(cCosP0, z, cCosP1)
	yc = fma32.FMA(yc, z, cCosP2)
	tmp := float32(z * 0.5)
	yc = float32(yc * z)
	yc = fma32.FMA(yc, z, -tmp) // y*z - tmp fused (vfmsub)
	yc = yc + 1

	// Sine polynomial.
	ys := fma32.FMA(cSinP0, z, cSinP1)
	ys = fma32.FMA(ys, z, cSinP2)
	ys = float32(ys * z)
	ys = fma32.FMA(ys, x, x)

	// Select: the masked parts are exact (value or +0), the sums too, but
	// they decide signed zeros, so they are kept as in the kernel.
	ysin2 := andMask(ys, polyMask)
	ysin1 := andMask(yc, !polyMask)
	ys = ys - ysin2
	yc = yc - ysin1
	s := ysin1 + ysin2
	c := yc + ys

	sin = math.Float32frombits(math.Float32bits(s) ^ signSin)
	cos = math.Float32frombits(math.Float32bits(c) ^ signCos)
	return sin, cos
}

// normal16AVX2 is normal_fill_16_AVX2: d holds 16 uniforms in [0, 1); lanes
// j and j+8 become the cosine and sine samples of one Box-Muller pair,
// scaled by std and shifted by mean in one fused multiply-add.
func normal16AVX2(d *[16]float32, mean, std float32) {
	for j := range 8 {
		u1 := 1 - d[j]
		u2 := d[j+8]
		radius := float32(math.Sqrt(float64(float32(-2 * log256(u1)))))
		theta := float32(cTwoPi32 * u2)
		s, c := sincos256(theta)
		n1 := float32(radius * c)
		n2 := float32(radius * s)
		d[j] = fma32.FMA(n1, std, mean)
		d[j+8] = fma32.FMA(n2, std, mean)
	}
}
