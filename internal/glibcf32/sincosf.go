package glibcf32

import "math"

// Constants and tables of glibc's sinf, cosf and sincosf:
// sysdeps/ieee754/flt-32/s_sincosf.h, sincosf_poly.h and s_sincosf_data.c
// (from Arm's optimized-routines math/sincosf.h and math/sincosf_data.c).
const (
	// hpiInv is 2/pi scaled by 2^24, so that the quadrant of x ends up in
	// bits 24..31 of int32(x*hpiInv) (glibc's build without
	// TOINT_INTRINSICS, which is the x86-64 one).
	hpiInv = 0x1.45F306DC9C883p+23
	// hpi is pi/2 rounded to double.
	hpi = 0x1.921FB54442D18p0
	// pi63 is 2*pi * 2^-64: it converts the 2.62 fixed-point fraction of a
	// turn left by reduceLarge into radians.
	pi63 = 0x1.921FB54442D18p-62
)

// Thresholds on abstop12 of the argument, the top 12 bits of its float32
// representation with the sign cleared, as the C code compares them.
const (
	topPio4 = 0x3f4 // abstop12(float32(pi/4)), bits 0x3f490fdb
	topTiny = 0x398 // abstop12(0x1p-12), bits 0x39800000
	top120  = 0x42f // abstop12(120), bits 0x42f00000
	topInf  = 0x7f8 // abstop12(+Inf), bits 0x7f800000
)

// sincosfCoeffs is one of glibc's two polynomial sets: cos(x) ~= c0 + c1 x^2
// + c2 x^4 + c3 x^6 + c4 x^8 and sin(x) ~= x + s1 x^3 + s2 x^5 + s3 x^7
// for |x| <= pi/4.
type sincosfCoeffs struct {
	c0, c1, c2, c3, c4 float64
	s1, s2, s3         float64
}

// sincosfTable is glibc's __sincosf_table. The second entry has the cosine
// polynomial negated, so that quadrants 2 and 3 get -cos for free.
var sincosfTable = [2]sincosfCoeffs{
	{
		c0: 0x1p0,
		c1: -0x1.ffffffd0c621cp-2,
		c2: 0x1.55553e1068f19p-5,
		c3: -0x1.6c087e89a359dp-10,
		c4: 0x1.99343027bf8c3p-16,
		s1: -0x1.555545995a603p-3,
		s2: 0x1.1107605230bc4p-7,
		s3: -0x1.994eb3774cf24p-13,
	},
	{
		c0: -0x1p0,
		c1: 0x1.ffffffd0c621cp-2,
		c2: -0x1.55553e1068f19p-5,
		c3: 0x1.6c087e89a359dp-10,
		c4: -0x1.99343027bf8c3p-16,
		s1: -0x1.555545995a603p-3,
		s2: 0x1.1107605230bc4p-7,
		s3: -0x1.994eb3774cf24p-13,
	},
}

// sincosfSign is the sign of the sine in quadrants 0..3 (the sign member of
// glibc's table, the same in both entries).
var sincosfSign = [4]float64{1, -1, -1, 1}

// invPio4 is 4/pi to 192 bits (glibc's __inv_pio4). Entry i holds bits
// 8i-24 .. 8i+8 of the fraction, so that any 96-bit window starting at a byte
// boundary can be read as three aligned words arr[0], arr[4], arr[8].
var invPio4 = [24]uint32{
	0xa2, 0xa2f9, 0xa2f983, 0xa2f9836e,
	0xf9836e4e, 0x836e4e44, 0x6e4e4415, 0x4e441529,
	0x441529fc, 0x1529fc27, 0x29fc2757, 0xfc2757d1,
	0x2757d1f5, 0x57d1f534, 0xd1f534dd, 0xf534ddc0,
	0x34ddc0db, 0xddc0db62, 0xc0db6295, 0xdb629599,
	0x6295993c, 0x95993c43, 0x993c4390, 0x3c439041,
}

// abstop12 returns the top 12 bits of the representation of x with the sign
// bit cleared.
func abstop12(x float32) uint32 {
	return math.Float32bits(x) >> 20 & 0x7ff
}

// widen returns float64(y) for a normal y, computed with integer operations.
//
// This is an optimisation for amd64, where the Go compiler converts with
// CVTSS2SD, which writes only the low half of its destination register and so
// waits for that register's previous value: in a loop of calls, each call
// would wait for the previous call's result. Moving the bits in from an
// integer register starts a fresh value.
func widen(y float32) float64 {
	b := uint64(math.Float32bits(y))
	sign := (b & 0x80000000) << 32
	expMant := (b & 0x7fffffff) << 29 // exponent field lands in bits 52..59
	return math.Float64frombits(sign | expMant + (1023-127)<<52)
}

// reduceFast reduces x, with |x| < 120, by a single fused multiply-subtract
// of a multiple of pi/2. It returns the remainder, in about [-pi/4, pi/4],
// and the quadrant n. pi/2 as a double is accurate to 55 bits and the worst
// cancellation happens near 6*pi/4, so the result is accurate for |x| < 120.
func reduceFast(x float64) (float64, int) {
	r := float64(x * hpiInv)
	n := (int32(r) + 0x800000) >> 24
	return math.FMA(-float64(n), hpi, x), int(n)
}

// reduceLarge reduces the float32 with bits xi (|x| >= 2, finite; the sign bit
// is ignored) modulo pi/2 with exact integer arithmetic: a 32x96-bit product
// with the window of 4/pi that matters for the exponent of x yields the
// fraction of x*4/pi as a 2.62-bit fixed-point number. It returns the
// remainder in radians, in about [-pi/4, pi/4], and the quadrant n in 0..3.
// The remainder has at most 29 leading zero bits after the point, so the
// double result is accurate to 33 bits.
func reduceLarge(xi uint32) (float64, int) {
	arr := invPio4[(xi>>26)&15:]
	shift := (xi >> 23) & 7

	m := (xi&0xffffff | 0x800000) << shift

	// Only the low 32 bits of m*arr[0] survive the shift below, as in C.
	res0 := uint64(m * arr[0])
	res1 := uint64(m) * uint64(arr[4])
	res2 := uint64(m) * uint64(arr[8])
	res0 = res2>>32 | res0<<32
	res0 += res1

	n := (res0 + 1<<61) >> 62
	res0 -= n << 62
	return float64(int64(res0)) * pi63, int(n)
}

// quadrantArgs turns the remainder x of a reduction and the quadrant q into
// the arguments of sinPoly and cosPoly: xs, x times the sign of the sine in
// quadrant q; x2 = x*x; and the coefficient set p, whose cosine polynomial
// carries the sign of the cosine in quadrant q. q must include the sign of
// the original argument (reduceLarge ignores it; reduceFast keeps it).
func quadrantArgs(x float64, q int) (xs, x2 float64, p *sincosfCoeffs) {
	return float64(x * sincosfSign[q&3]), float64(x * x), &sincosfTable[(q>>1)&1]
}

// reduceHuge reduces y, with |y| >= 120 finite, to the arguments of sinPoly
// and cosPoly (see quadrantArgs) and the quadrant n of the remainder. If n is
// even, the sine of y is sinPoly(xs, x2, p) and its cosine cosPoly(x2, p); if
// n is odd, the other way round.
func reduceHuge(y float32) (xs, x2 float64, p *sincosfCoeffs, n int) {
	xi := math.Float32bits(y)
	x, n := reduceLarge(xi)
	xs, x2, p = quadrantArgs(x, n+int(xi>>31))
	return xs, x2, p, n
}

// sinPoly evaluates the sine polynomial of p at x, with x2 = x*x (the even-n
// half of glibc's sinf_poly), fusing the multiply-adds as glibc's fma build
// does.
func sinPoly(x, x2 float64, p *sincosfCoeffs) float32 {
	x3 := float64(x * x2)
	s1 := math.FMA(x2, p.s3, p.s2)
	x7 := float64(x3 * x2)
	s := math.FMA(x3, p.s1, x)
	return float32(math.FMA(x7, s1, s))
}

// cosPoly evaluates the cosine polynomial of p at x, given x2 = x*x (the
// odd-n half of glibc's sinf_poly), fusing the multiply-adds as glibc's fma
// build does.
func cosPoly(x2 float64, p *sincosfCoeffs) float32 {
	x4 := float64(x2 * x2)
	c2 := math.FMA(x2, p.c4, p.c3)
	c1 := math.FMA(x2, p.c1, p.c0)
	x6 := float64(x4 * x2)
	c := math.FMA(x4, p.c2, c1)
	return float32(math.FMA(x6, c2, c))
}

// Sinf returns the sine of the radian argument y exactly as glibc's sinf does
// (its fma build; see the package documentation), for every float32 y. It
// returns y itself for |y| < 0x1p-12 and NaN for ±Inf and NaN.
func Sinf(y float32) float32 {
	top := abstop12(y)
	switch {
	case top < topTiny:
		return y
	case top < topPio4:
		x := widen(y)
		return sinPoly(x, float64(x*x), &sincosfTable[0])
	case top < top120:
		x, n := reduceFast(widen(y))
		xs, x2, p := quadrantArgs(x, n)
		if n&1 == 0 {
			return sinPoly(xs, x2, p)
		}
		return cosPoly(x2, p)
	case top < topInf:
		xs, x2, p, n := reduceHuge(y)
		if n&1 == 0 {
			return sinPoly(xs, x2, p)
		}
		return cosPoly(x2, p)
	}
	return invalidf(y)
}

// Cosf returns the cosine of the radian argument y exactly as glibc's cosf
// does (its fma build; see the package documentation), for every float32 y.
// It returns 1 for |y| < 0x1p-12 and NaN for ±Inf and NaN.
func Cosf(y float32) float32 {
	top := abstop12(y)
	switch {
	case top < topTiny:
		return 1
	case top < topPio4:
		x := widen(y)
		return cosPoly(float64(x*x), &sincosfTable[0])
	case top < top120:
		x, n := reduceFast(widen(y))
		xs, x2, p := quadrantArgs(x, n)
		if n&1 == 0 {
			return cosPoly(x2, p)
		}
		return sinPoly(xs, x2, p)
	case top < topInf:
		xs, x2, p, n := reduceHuge(y)
		if n&1 == 0 {
			return cosPoly(x2, p)
		}
		return sinPoly(xs, x2, p)
	}
	return invalidf(y)
}

// Sincosf returns Sinf(y) and Cosf(y), reducing y only once. Its results are
// those of glibc's sincosf, which agree bit for bit with its sinf and cosf.
func Sincosf(y float32) (sin, cos float32) {
	top := abstop12(y)
	switch {
	case top < topTiny:
		return y, 1
	case top < topPio4:
		x := widen(y)
		x2 := float64(x * x)
		p := &sincosfTable[0]
		return sinPoly(x, x2, p), cosPoly(x2, p)
	case top < topInf:
		var xs, x2 float64
		var p *sincosfCoeffs
		var n int
		if top < top120 {
			var x float64
			x, n = reduceFast(widen(y))
			xs, x2, p = quadrantArgs(x, n)
		} else {
			xs, x2, p, n = reduceHuge(y)
		}
		s, c := sinPoly(xs, x2, p), cosPoly(x2, p)
		if n&1 != 0 {
			s, c = c, s
		}
		return s, c
	}
	d := y - y
	return d, d
}
