package server

// The float32 formatter the server used before ftoa.go's Dragonbox (a
// Schubfach port, with its own layout: no exponent from 1e-7 up to 1e21),
// kept to be measured beside it (BenchmarkFloat32) and as a second,
// independent source of shortest digits in TestAppendFloat32.

import (
	"math"
	"math/big"
	"math/bits"
)

// schubfachAppendFloat32 appends the shortest decimal that reads back as v (any
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
func schubfachAppendFloat32(b []byte, v float32) []byte {
	u := math.Float32bits(v)
	if u>>31 != 0 {
		b = append(b, '-')
		u &^= 1 << 31
	}
	if u == 0 {
		return append(b, '0')
	}
	f, e := schubfachDecimal(u)
	return schubfachLayout(b, f, e)
}

const (
	sfQMin   = -149    // exponent of the subnormals: value = c * 2^q
	sfCMin   = 1 << 23 // smallest significand of a normal float32
	sfCTiny  = 8       // subnormal significands below this are scaled by 10 first
	sfG1KMin = -46     // range of k for which sfG1 is tabulated
	sfG1KMax = 32
)

// sfG1 holds, for k in [sfG1KMin, sfG1KMax], the upper 63 bits of
// floor(10^-k * 2^(125 - sfFlog2pow10(-k))) + 1, a number in [2^125, 2^126):
// 10^-k scaled to 126 bits and rounded up. Computed exactly at start-up.
var sfG1 = func() []uint64 {
	t := make([]uint64, sfG1KMax-sfG1KMin+1)
	lo, hi := new(big.Int).Lsh(big.NewInt(1), 125), new(big.Int).Lsh(big.NewInt(1), 126)
	for k := sfG1KMin; k <= sfG1KMax; k++ {
		shift := 125 - sfFlog2pow10(-k)
		num, den := big.NewInt(1), big.NewInt(1)
		pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(sfAbs(k))), nil)
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
		t[k-sfG1KMin] = g.Rsh(g, 63).Uint64()
	}
	return t
}()

func sfAbs(k int) int {
	if k < 0 {
		return -k
	}
	return k
}

// sfFlog10pow2 returns floor(e * log10(2)); sfFlog10threeQuartersPow2
// floor(e * log10(2) + log10(3/4)); sfFlog2pow10 floor(e * log2(10)). Exact
// for the small exponents of float32.
func sfFlog10pow2(e int) int { return int(int64(e) * 661971961083 >> 41) }
func sfFlog10threeQuartersPow2(e int) int {
	return int((int64(e)*661971961083 - 274743187321) >> 41)
}
func sfFlog2pow10(e int) int { return int(int64(e) * 913124641741 >> 38) }

// schubfachDecimal returns the shortest decimal f*10^e in the rounding
// interval of the positive finite float32 with bits u.
func schubfachDecimal(u uint32) (uint64, int) {
	bq := int(u >> 23)
	t := uint64(u & (1<<23 - 1))
	if bq != 0 {
		return schubfachToDecimal(bq-150, t|sfCMin, 0)
	}
	// Java scales the tiniest subnormals by 10 here (C_TINY), because its
	// Float.toString wants two digits; the shortest decimal needs no
	// scaling (the tests check every subnormal).
	return schubfachToDecimal(sfQMin, t, 0)
}

// schubfachToDecimal is Schubfach for the value c*2^q: it finds the decimals with
// one and with two fewer digits than needed around v, and keeps the one in
// the rounding interval (closed when c is even, as round-half-even parsing
// maps its ends to v), the closest when both are.
func schubfachToDecimal(q int, c uint64, dk int) (uint64, int) {
	out := c & 1
	cb := c << 2
	cbr := cb + 2
	var cbl uint64
	var k int
	if c != sfCMin || q == sfQMin {
		cbl = cb - 2
		k = sfFlog10pow2(q)
	} else {
		// The gap below a power of two is half the gap above.
		cbl = cb - 1
		k = sfFlog10threeQuartersPow2(q)
	}
	h := uint(q + sfFlog2pow10(-k) + 33)
	g := sfG1[k-sfG1KMin] + 1
	vb := schubfachRoundOdd(g, cb<<h)
	vbl := schubfachRoundOdd(g, cbl<<h)
	vbr := schubfachRoundOdd(g, cbr<<h)
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

// schubfachRoundOdd returns the high part of g*cp shifted down 31 bits, with its
// lowest bit set if any bit shifted out was: rounding to odd.
func schubfachRoundOdd(g, cp uint64) uint64 {
	x1, _ := bits.Mul64(g, cp)
	vbp := x1 >> 31
	if x1&(1<<31-1) != 0 {
		vbp |= 1
	}
	return vbp
}

// schubfachLayout appends f*10^e (f > 0) without trailing zeros in f.
func schubfachLayout(b []byte, f uint64, e int) []byte {
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
