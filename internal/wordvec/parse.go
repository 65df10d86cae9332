package wordvec

import (
	"math"
	"strconv"
	"unsafe"
)

// float64pow10 holds the powers of ten that float64 represents exactly.
var float64pow10 = [...]float64{
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
}

// float32Overflow is the smallest float64 magnitude that rounds to infinity
// as a float32: halfway between MaxFloat32 and 2^128 (the tie goes to the
// even neighbour, 2^128).
const float32Overflow = 0x1p128 - 0x1p103

const (
	quietNaN32 = 0x7fc00000
	signBit32  = 0x80000000
)

// ParseValue parses one value of a text file exactly as gensim does: gensim
// reads a value with numpy.float32(field), which is Python's float(field)
// (the decimal correctly rounded to float64) converted to float32 (rounded
// again, to nearest, ties to even). The double rounding is deliberate: a
// decimal just above a float32 midpoint that float64 rounds onto the midpoint
// ends on the even side, as in gensim, not on the side a single correct
// rounding would give.
//
// The syntax is Python's decimal syntax: an optional sign, digits with an
// optional point (at least one digit), an optional exponent; or "inf",
// "infinity" or "nan" in any case, with an optional sign. "-nan" gives the
// negative quiet NaN (0xffc00000) and "nan" the positive one (0x7fc00000),
// as numpy does. Out-of-range values become infinities or zeros, as in
// Python. What Python's float() accepts beyond that (surrounding whitespace,
// underscores between digits, non-ASCII digits) is refused.
func ParseValue(s []byte) (float32, bool) {
	if len(s) == 0 {
		return 0, false
	}
	i := 0
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		i = 1
	}
	var mant uint64
	nd, e10 := 0, 0
	digits, dot, trunc := false, false, false
	for ; i < len(s); i++ {
		c := s[i]
		if c-'0' < 10 {
			digits = true
			switch {
			case c == '0' && nd == 0:
				if dot {
					e10--
				}
			case nd < 19:
				mant = mant*10 + uint64(c-'0')
				nd++
				if dot {
					e10--
				}
			default:
				if c != '0' {
					trunc = true
				}
				if !dot {
					e10++
				}
			}
			continue
		}
		if c == '.' && !dot {
			dot = true
			continue
		}
		break
	}
	if !digits {
		if dot {
			return 0, false
		}
		return special(s[i:], neg)
	}
	if i < len(s) {
		if s[i] != 'e' && s[i] != 'E' {
			return 0, false
		}
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		if i == len(s) {
			return 0, false
		}
		exp := 0
		for ; i < len(s); i++ {
			c := s[i]
			if c-'0' >= 10 {
				return 0, false
			}
			if exp < 1e6 {
				exp = exp*10 + int(c-'0')
			}
		}
		if eneg {
			exp = -exp
		}
		e10 += exp
	}
	if !trunc && mant>>53 == 0 {
		// Clinger's fast path: the mantissa and the power of ten are exact
		// float64 values, so one multiplication or division rounds
		// correctly.
		f, ok := 0.0, true
		switch {
		case mant == 0:
		case e10 == 0:
			f = float64(mant)
		case e10 > 0 && e10 <= 22:
			f = float64(mant) * float64pow10[e10]
		case e10 < 0 && e10 >= -22:
			f = float64(mant) / float64pow10[-e10]
		default:
			ok = false
		}
		if ok {
			if neg {
				f = -f
			}
			return float32(f), true
		}
	}
	// The syntax has been checked: only decimal forms reach ParseFloat,
	// whose only possible error is then ErrRange with ±Inf or ±0, which is
	// Python's answer too.
	f, _ := strconv.ParseFloat(unsafe.String(unsafe.SliceData(s), len(s)), 64)
	return toFloat32(f), true
}

// toFloat32 rounds f to float32, to nearest, ties to even, overflowing to
// infinity. Go leaves the conversion of out-of-range values to the
// implementation, so overflow is decided here.
func toFloat32(f float64) float32 {
	if math.Abs(f) >= float32Overflow {
		if f > 0 {
			return float32(math.Inf(1))
		}
		return float32(math.Inf(-1))
	}
	return float32(f)
}

// special parses Python's inf, infinity and nan (any case) after a sign.
func special(s []byte, neg bool) (float32, bool) {
	switch {
	case foldEq(s, "inf"), foldEq(s, "infinity"):
		if neg {
			return float32(math.Inf(-1)), true
		}
		return float32(math.Inf(1)), true
	case foldEq(s, "nan"):
		b := uint32(quietNaN32)
		if neg {
			b |= signBit32
		}
		return math.Float32frombits(b), true
	}
	return 0, false
}

// foldEq reports whether s equals the lower-case ASCII word w, ignoring
// ASCII case.
func foldEq(s []byte, w string) bool {
	if len(s) != len(w) {
		return false
	}
	for i := range len(s) {
		if s[i]|0x20 != w[i] {
			return false
		}
	}
	return true
}
