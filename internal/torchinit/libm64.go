package torchinit

import "math"

// This file ports the two double precision C library routines that ATen's
// normal_distribution<double> calls (core/DistributionsHelper.h):
// log1p(-u2) for the radius and sin(theta), cos(theta) for the samples. GCC
// merges the sin and cos of one argument into one sincos call, so it is
// glibc's sincos that torch runs. Go's math.Log1p, Sin and Cos use other
// algorithms; their float64 results differ from glibc's in the last bit often
// enough (sin and cos in about a quarter of the draws) that the float32
// samples occasionally differ too.
//
// The ports follow glibc 2.36 as x86-64 builds it: log1p
// (sysdeps/ieee754/dbl-64/s_log1p.c, fdlibm's) and sincos (s_sincos.c
// including s_sin.c, with the constants of usncs.h and the table of
// sincostab.c, from IBM's Accurate Mathematical Library). x86-64 glibc
// compiles both a second time with -mfma -mavx2 and selects that variant at
// run time on CPUs with FMA and AVX2, which includes every CPU on which torch
// takes its AVX2 path; that is the variant reproduced here. In it GCC
// contracted multiply-adds into FMA instructions wherever the product's only
// uses are additions in the same basic block; which ones exactly was read
// from the disassembly of Debian 12's libm.so.6, and each is a math.FMA
// below. Every other product carries an explicit float64 conversion so that
// the Go compiler does not fuse it.

// Constants of glibc's s_log1p.c.
const (
	ln2Hi = 6.93147180369123816490e-01 // 3fe62e42 fee00000
	ln2Lo = 1.90821492927058770002e-10 // 3dea39ef 35793c76
	lp1   = 6.666666666666735130e-01   // 3FE55555 55555593
	lp2   = 3.999999999940941908e-01   // 3FD99999 9997FA04
	lp3   = 2.857142874366239149e-01   // 3FD24924 94229359
	lp4   = 2.222219843214978396e-01   // 3FCC71C5 1D8E78AF
	lp5   = 1.818357216161805012e-01   // 3FC74664 96CB03DE
	lp6   = 1.531383769920937332e-01   // 3FC39A09 D078C69F
	lp7   = 1.479819860511658591e-01   // 3FC2F112 DF3E5244
)

func highWord(x float64) int32 { return int32(math.Float64bits(x) >> 32) }

func withHighWord(x float64, hi int32) float64 {
	return math.Float64frombits(uint64(uint32(hi))<<32 | math.Float64bits(x)&0xffffffff)
}

// glibcLog1p returns log(1+x) exactly as glibc's log1p computes it on CPUs
// with FMA.
func glibcLog1p(x float64) float64 {
	hx := highWord(x)
	ax := hx & 0x7fffffff
	var f, c float64
	var hu int32
	k := int32(1)
	if hx < 0x3FDA827A { // x < 0.41422
		if ax >= 0x3ff00000 { // x <= -1.0
			if x == -1 {
				return math.Inf(-1)
			}
			return math.NaN()
		}
		if ax < 0x3e200000 { // |x| < 2^-29
			if ax < 0x3c900000 { // |x| < 2^-54
				return x
			}
			return math.FMA(-float64(x*x), 0.5, x) // x - x*x*0.5
		}
		if hx > 0 || hx <= -0x402d413d { // -0.2929 < x < 0.41422 (hx <= (int32)0xbfd2bec3)
			k, f, hu = 0, x, 1
		}
	} else if hx >= 0x7ff00000 {
		return x + x
	}
	if k != 0 {
		var u float64
		if hx < 0x43400000 {
			u = 1 + x
			hu = highWord(u)
			k = (hu >> 20) - 1023
			if k > 0 { // correction term
				c = 1 - (u - x)
			} else {
				c = x - (u - 1)
			}
			c /= u
		} else {
			u = x
			hu = highWord(u)
			k = (hu >> 20) - 1023
			c = 0
		}
		hu &= 0x000fffff
		if hu < 0x6a09e {
			u = withHighWord(u, hu|0x3ff00000) // normalise u
		} else {
			k++
			u = withHighWord(u, hu|0x3fe00000) // normalise u/2
			hu = (0x00100000 - hu) >> 2
		}
		f = u - 1
	}
	fk := float64(k)
	hfsq := float64(float64(0.5*f) * f)
	if hu == 0 { // |f| < 2^-20
		if f == 0 {
			if k == 0 {
				return 0
			}
			c = math.FMA(fk, ln2Lo, c)
			return math.FMA(fk, ln2Hi, c)
		}
		r := float64(hfsq * math.FMA(-f, 0.66666666666666666, 1))
		if k == 0 {
			return f - r
		}
		return math.FMA(fk, ln2Hi, -((r - math.FMA(fk, ln2Lo, c)) - f))
	}
	s := f / (2 + f)
	z := float64(s * s)
	r2 := math.FMA(z, lp3, lp2)
	r3 := math.FMA(z, lp5, lp4)
	r4 := math.FMA(z, lp7, lp6)
	z2 := float64(z * z)
	z4 := float64(z2 * z2)
	z6 := float64(z2 * z4)
	// R = R1 + z2*R2 + z4*R3 + z6*R4 with R1 = z*Lp1: the first product
	// of each addition is fused.
	r := math.FMA(z6, r4, math.FMA(z4, r3, math.FMA(z, lp1, float64(z2*r2))))
	// s*(hfsq+R) has uses in two branches, so it is not fused.
	m := float64(s * (hfsq + r))
	if k == 0 {
		return f - (hfsq - m)
	}
	return math.FMA(fk, ln2Hi, -((hfsq - (m + math.FMA(fk, ln2Lo, c))) - f))
}

// Constants of glibc's usncs.h and s_sin.c.
const (
	sinS1 = -0x1.5555555555555p-3
	sinS2 = 0x1.1111111110ECEp-7
	sinS3 = -0x1.A01A019DB08B8p-13
	sinS4 = 0x1.71DE27B9A7ED9p-19
	sinS5 = -0x1.ADDFFC2FCDF59p-26
	big   = 0x1.8000000000000p45
	hp0   = 0x1.921FB54442D18p0
	hp1   = 0x1.1A62633145C07p-54
	mp1   = 0x1.921FB58000000p0
	mp2   = -0x1.DDE973C000000p-27
	pp3   = -0x1.CB3B398000000p-55
	pp4   = -0x1.d747f23e32ed7p-83
	hpinv = 0x1.45F306DC9C883p-1
	toint = 0x1.8000000000000p52

	sn3 = -1.66666666666664880952546298448555e-01
	sn5 = 8.33333214285722277379541354343671e-03
	cs2 = 4.99999999999999999999950396842453e-01
	cs4 = -4.16666666666664434524222570944589e-02
	cs6 = 1.38888874007937613028114285595617e-03
)

// sincosTable returns sin and cos of the multiple of 1/128 nearest to |x|
// as double-double pairs, and |x| minus that multiple.
func sincosTable(ax float64) (rest, sn, ssn, cs, ccs float64) {
	u := big + ax
	k := int(uint32(math.Float64bits(u))) << 2 // round(|x| * 128) * 4
	rest = ax - (u - big)
	return rest, math.Float64frombits(sincostab[k]), math.Float64frombits(sincostab[k+1]),
		math.Float64frombits(sincostab[k+2]), math.Float64frombits(sincostab[k+3])
}

// taylorSin is s_sin.c's TAYLOR_SIN: sin(x + dx) for |x| < 0.126, xx = x*x.
func taylorSin(xx, x, dx float64) float64 {
	p := math.FMA(sinS5, xx, sinS4)
	p = math.FMA(p, xx, sinS3)
	p = math.FMA(p, xx, sinS2)
	p = math.FMA(p, xx, sinS1)
	t := math.FMA(math.FMA(p, x, -float64(0.5*dx)), xx, dx)
	return x + t
}

// doSin is s_sin.c's do_sin: sin(x + dx), |x| < 0.855469.
func doSin(x, dx float64) float64 {
	xold := x
	if math.Abs(x) < 0.126 {
		return taylorSin(float64(x*x), x, dx)
	}
	if x <= 0 {
		dx = -dx
	}
	x, sn, ssn, cs, ccs := sincosTable(math.Abs(x))
	xx := float64(x * x)
	s := x + math.FMA(float64(x*xx), math.FMA(xx, sn5, sn3), dx)
	c := math.FMA(x, dx, float64(xx*math.FMA(xx, math.FMA(xx, cs6, cs4), cs2)))
	cor := math.FMA(cs, s, math.FMA(-sn, c, math.FMA(s, ccs, ssn)))
	return math.Copysign(sn+cor, xold)
}

// doCos is s_sin.c's do_cos: cos(x + dx), |x| < 0.855469.
func doCos(x, dx float64) float64 {
	if x < 0 {
		dx = -dx
	}
	x, sn, ssn, cs, ccs := sincosTable(math.Abs(x))
	x += dx
	xx := float64(x * x)
	s := math.FMA(float64(x*xx), math.FMA(xx, sn5, sn3), x)
	c := float64(xx * math.FMA(xx, math.FMA(xx, cs6, cs4), cs2))
	cor := math.FMA(-sn, s, math.FMA(-cs, c, math.FMA(-s, ssn, ccs)))
	return cs + cor
}

// reduceSincos is s_sin.c's reduce_sincos: x = n*pi/2 + (a + da) for
// |x| < 105414350, with n the quadrant.
func reduceSincos(x float64) (n int, a, da float64) {
	t := math.FMA(x, hpinv, toint)
	xn := t - toint
	n = int(math.Float64bits(t) & 3)
	y := math.FMA(-xn, mp2, math.FMA(-xn, mp1, x))
	t2 := math.FMA(-xn, pp3, y)
	db := math.FMA(-xn, pp3, y-t2)
	b := math.FMA(-xn, pp4, t2)
	db += math.FMA(-xn, pp4, t2-b)
	return n, b, db
}

// glibcSincos returns sin(x) and cos(x) exactly as glibc's sincos computes
// them on CPUs with FMA, for |x| < 105414350 (beyond, glibc switches to a
// multi-precision reduction that torch's arguments, in [0, 2*pi), never
// need), and NaN for infinities and NaN.
func glibcSincos(x float64) (sin, cos float64) {
	k := highWord(x) & 0x7fffffff
	switch {
	case k < 0x3e400000: // |x| < 2^-27
		return x, 1
	case k < 0x3feb6000: // |x| < 0.855469
		return doSin(x, 0), doCos(x, 0)
	case k < 0x400368fd: // |x| < 2.426265
		y := hp0 - math.Abs(x)
		a := y + hp1
		da := (y - a) + hp1
		return math.Copysign(doCos(a, da), x), doSin(a, da)
	case k < 0x419921FB: // |x| < 105414350
		n, a, da := reduceSincos(x)
		if n == 1 || n == 2 {
			a, da = -a, -da
		}
		s, c := doSin(a, da), doCos(a, da)
		if n&2 != 0 {
			c = -c
		}
		if n&1 != 0 {
			return c, s
		}
		return s, c
	case k < 0x7ff00000:
		panic("torchinit: sincos argument beyond the supported range")
	}
	return math.NaN(), math.NaN()
}
