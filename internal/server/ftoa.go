package server

import (
	"math"
	"math/big"
	"math/bits"
)

// appendFloat32 appends the shortest decimal that reads back as v (any
// float32 but NaN and the infinities): the fewest significant digits, and of
// those the closest to v, as strconv.AppendFloat(b, float64(v), 'e', -1, 32)
// chooses them. Numbers from 1e-7 up to 1e21 are written without an
// exponent, others as d.ddde±x, as JavaScript writes numbers.
//
// It is Raffaello Giulietti's Schubfach algorithm ("The Schubfach way to
// render doubles", 2020) for binary32, written here from the paper: one
// 64x64-bit multiplication per bound instead of strconv's general path,
// several times faster, which matters when a response holds thousands of
// float32 values. Tests compare it with strconv on every float32 (in a long
// run, EMBSTORE_EXHAUSTIVE=1) and on a sample in every run.
func appendFloat32(b []byte, v float32) []byte {
	u := math.Float32bits(v)
	if u>>31 != 0 {
		b = append(b, '-')
		u &^= 1 << 31
	}
	if u == 0 {
		return append(b, '0')
	}
	f, e := float32Decimal(u)
	return appendDecimal(b, f, e)
}

const (
	f32QMin  = -149    // exponent of the subnormals: value = c * 2^q
	f32CMin  = 1 << 23 // smallest significand of a normal float32
	f32CTiny = 8       // subnormal significands below this are scaled by 10 first
	g1KMin   = -46     // range of k for which g1 is tabulated
	g1KMax   = 32
)

// g1 holds, for k in [g1KMin, g1KMax], the upper 63 bits of
// floor(10^-k * 2^(125 - flog2pow10(-k))) + 1, a number in [2^125, 2^126):
// 10^-k scaled to 126 bits and rounded up. Computed exactly at start-up.
var g1 = func() []uint64 {
	t := make([]uint64, g1KMax-g1KMin+1)
	lo, hi := new(big.Int).Lsh(big.NewInt(1), 125), new(big.Int).Lsh(big.NewInt(1), 126)
	for k := g1KMin; k <= g1KMax; k++ {
		shift := 125 - flog2pow10(-k)
		num, den := big.NewInt(1), big.NewInt(1)
		pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(k))), nil)
		if k <= 0 {
			num.Set(pow)
		} else {
			den.Set(pow)
		}
		if shift >= 0 {
			num.Lsh(num, uint(shift))
		} else {
			den.Lsh(den, uint(-shift))
		}
		beta := new(big.Int).Quo(num, den) // floor: both positive
		if beta.Cmp(lo) < 0 || beta.Cmp(hi) >= 0 {
			panic("server: Schubfach table: 10^-k out of range")
		}
		g := beta.Add(beta, big.NewInt(1))
		t[k-g1KMin] = g.Rsh(g, 63).Uint64()
	}
	return t
}()

func abs(k int) int {
	if k < 0 {
		return -k
	}
	return k
}

// flog10pow2 returns floor(e * log10(2)); flog10threeQuartersPow2
// floor(e * log10(2) + log10(3/4)); flog2pow10 floor(e * log2(10)). Exact
// for the small exponents of float32.
func flog10pow2(e int) int { return int(int64(e) * 661971961083 >> 41) }
func flog10threeQuartersPow2(e int) int {
	return int((int64(e)*661971961083 - 274743187321) >> 41)
}
func flog2pow10(e int) int { return int(int64(e) * 913124641741 >> 38) }

// float32Decimal returns the shortest decimal f*10^e in the rounding
// interval of the positive finite float32 with bits u.
func float32Decimal(u uint32) (uint64, int) {
	bq := int(u >> 23)
	t := uint64(u & (1<<23 - 1))
	if bq != 0 {
		return toDecimal32(bq-150, t|f32CMin, 0)
	}
	// Java scales the tiniest subnormals by 10 here (C_TINY), because its
	// Float.toString wants two digits; the shortest decimal needs no
	// scaling (the tests check every subnormal).
	return toDecimal32(f32QMin, t, 0)
}

// toDecimal32 is Schubfach for the value c*2^q: it finds the decimals with
// one and with two fewer digits than needed around v, and keeps the one in
// the rounding interval (closed when c is even, as round-half-even parsing
// maps its ends to v), the closest when both are.
func toDecimal32(q int, c uint64, dk int) (uint64, int) {
	out := c & 1
	cb := c << 2
	cbr := cb + 2
	var cbl uint64
	var k int
	if c != f32CMin || q == f32QMin {
		cbl = cb - 2
		k = flog10pow2(q)
	} else {
		// The gap below a power of two is half the gap above.
		cbl = cb - 1
		k = flog10threeQuartersPow2(q)
	}
	h := uint(q + flog2pow10(-k) + 33)
	g := g1[k-g1KMin] + 1
	vb := roundOdd(g, cb<<h)
	vbl := roundOdd(g, cbl<<h)
	vbr := roundOdd(g, cbr<<h)
	s := vb >> 2
	// A decimal one digit shorter (a multiple of 10 at this scale) is in
	// the interval at most once, as the interval is narrower than 10^(k+1).
	// Java asks for s >= 100 here, for the two digits its toString wants;
	// the shortest decimal takes one digit when it fits.
	if s >= 10 {
		sp10 := s / 10 * 10
		tp10 := sp10 + 10
		upin := vbl+out <= sp10<<2
		wpin := tp10<<2+out <= vbr
		if upin != wpin {
			if upin {
				return sp10, k
			}
			return tp10, k
		}
	}
	t := s + 1
	uin := vbl+out <= s<<2
	win := t<<2+out <= vbr
	if uin != win {
		if uin {
			return s, k + dk
		}
		return t, k + dk
	}
	cmp := int64(vb) - int64((s+t)<<1)
	if cmp < 0 || cmp == 0 && s&1 == 0 {
		return s, k + dk
	}
	return t, k + dk
}

// roundOdd returns the high part of g*cp shifted down 31 bits, with its
// lowest bit set if any bit shifted out was: rounding to odd.
func roundOdd(g, cp uint64) uint64 {
	x1, _ := bits.Mul64(g, cp)
	vbp := x1 >> 31
	if x1&(1<<31-1) != 0 {
		vbp |= 1
	}
	return vbp
}

const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// appendDecimal appends f*10^e (f > 0) without trailing zeros in f.
func appendDecimal(b []byte, f uint64, e int) []byte {
	for f%10 == 0 {
		f /= 10
		e++
	}
	var d [20]byte
	i := len(d)
	for f >= 100 {
		q := f / 100
		r := f - q*100
		i -= 2
		d[i], d[i+1] = digitPairs[2*r], digitPairs[2*r+1]
		f = q
	}
	if f >= 10 {
		i -= 2
		d[i], d[i+1] = digitPairs[2*f], digitPairs[2*f+1]
	} else {
		i--
		d[i] = byte('0' + f)
	}
	digits := d[i:]
	n := len(digits)
	x := e + n - 1 // the exponent in d.ddd x 10^x
	switch {
	case x < -7 || x >= 21:
		b = append(b, digits[0])
		if n > 1 {
			b = append(b, '.')
			b = append(b, digits[1:]...)
		}
		b = append(b, 'e')
		if x < 0 {
			b = append(b, '-')
			x = -x
		} else {
			b = append(b, '+')
		}
		if x >= 10 {
			return append(b, byte('0'+x/10), byte('0'+x%10))
		}
		return append(b, byte('0'+x))
	case e >= 0: // an integer
		b = append(b, digits...)
		for range e {
			b = append(b, '0')
		}
		return b
	case x >= 0: // digits on both sides of the point
		b = append(b, digits[:x+1]...)
		b = append(b, '.')
		return append(b, digits[x+1:]...)
	default: // 0.000ddd
		b = append(b, '0', '.')
		for range -x - 1 {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
}
