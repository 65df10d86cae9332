package glibcf32

import "math"

// Constants and tables of glibc's logf: sysdeps/ieee754/flt-32/e_logf.c and
// e_logf_data.c (from Arm's optimized-routines math/logf.c and
// math/logf_data.c), LOGF_TABLE_BITS = 4, LOGF_POLY_ORDER = 4.
const (
	logfTableBits = 4
	logfN         = 1 << logfTableBits
	// logfOff is subtracted from the bits of x so that the mantissa z lies in
	// [0x3f330000, 2*0x3f330000) as a float, about [0.7, 1.4).
	logfOff = 0x3f330000

	logfLn2 = 0x1.62e42fefa39efp-1
	// log1p(r) is approximated by r + A0 r^2 + A1 r^3 + A2 r^4 ... arranged
	// as in glibc: y = (A0 r2 + (A1 r + A2)) r2 + r.
	logfA0 = -0x1.00ea348b88334p-2
	logfA1 = 0x1.5575b0be00b6ap-2
	logfA2 = -0x1.ffffef20a4123p-2
)

// logfTab holds, for each of the logfN subintervals of the mantissa range,
// invc ~= 1/c and logc ~= log(c) for a point c near the subinterval's centre
// (glibc's __logf_data.tab).
var logfTab = [logfN]struct{ invc, logc float64 }{
	{0x1.661ec79f8f3bep+0, -0x1.57bf7808caadep-2},
	{0x1.571ed4aaf883dp+0, -0x1.2bef0a7c06ddbp-2},
	{0x1.49539f0f010bp+0, -0x1.01eae7f513a67p-2},
	{0x1.3c995b0b80385p+0, -0x1.b31d8a68224e9p-3},
	{0x1.30d190c8864a5p+0, -0x1.6574f0ac07758p-3},
	{0x1.25e227b0b8eap+0, -0x1.1aa2bc79c81p-3},
	{0x1.1bb4a4a1a343fp+0, -0x1.a4e76ce8c0e5ep-4},
	{0x1.12358f08ae5bap+0, -0x1.1973c5a611cccp-4},
	{0x1.0953f419900a7p+0, -0x1.252f438e10c1ep-5},
	{0x1p+0, 0x0p+0},
	{0x1.e608cfd9a47acp-1, 0x1.aa5aa5df25984p-5},
	{0x1.ca4b31f026aap-1, 0x1.c5e53aa362eb4p-4},
	{0x1.b2036576afce6p-1, 0x1.526e57720db08p-3},
	{0x1.9c2d163a1aa2dp-1, 0x1.bc2860d22477p-3},
	{0x1.886e6037841edp-1, 0x1.1058bc8a07ee1p-2},
	{0x1.767dcf5534862p-1, 0x1.4043057b6ee09p-2},
}

// Logf returns the natural logarithm of x exactly as glibc's logf does (its
// fma build; see the package documentation). Like glibc it returns -Inf for
// ±0, +Inf for +Inf, NaN for negative x and NaN, and +0 for 1.
func Logf(x float32) float32 {
	ix := math.Float32bits(x)
	if ix == 0x3f800000 {
		// glibc returns +0 for 1 explicitly so that the sign of the zero
		// does not depend on the rounding mode.
		return 0
	}
	if ix-0x00800000 >= 0x7f800000-0x00800000 {
		// x is below the smallest normal, or is Inf or NaN.
		switch {
		case ix*2 == 0:
			return float32(math.Inf(-1))
		case ix == 0x7f800000:
			return x
		case ix&0x80000000 != 0 || ix*2 >= 0xff000000:
			return invalidf(x)
		}
		// x is a positive subnormal: scale it into the normal range (exact)
		// and take the scaling back out of the exponent.
		ix = math.Float32bits(x*0x1p23) - 23<<23
	}

	// x = 2^k z with z in [logfOff, 2*logfOff) exactly. The range of z is
	// split into logfN subintervals; the ith contains z and c is near its
	// centre.
	tmp := ix - logfOff
	i := (tmp >> (23 - logfTableBits)) % logfN
	k := int32(tmp) >> 23 // arithmetic shift
	iz := ix - tmp&(0x1ff<<23)
	t := &logfTab[i]
	z := float64(math.Float32frombits(iz))

	// log(x) = log1p(z/c - 1) + log(c) + k*Ln2.
	r := math.FMA(z, t.invc, -1)
	y0 := math.FMA(float64(k), logfLn2, t.logc)

	r2 := float64(r * r)
	y := math.FMA(logfA1, r, logfA2)
	y = math.FMA(logfA0, r2, y)
	y = math.FMA(y, r2, y0+r)
	return float32(y)
}
