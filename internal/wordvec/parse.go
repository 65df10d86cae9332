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
	v, n, ok := scanValue(s)
	return v, ok && n == len(s)
}

// scanValue parses the value at the start of s, which ends at the first
// space or at the end of s, and returns it and its length. It is ParseValue
// for a field not yet cut out of its line.
func scanValue(s []byte) (float32, int, bool) {
	n := len(s)
	if n == 0 {
		return 0, 0, false
	}
	i := 0
	neg := false
	switch s[0] {
	case '-':
		neg, i = true, 1
	case '+':
		i = 1
	}
	start := i
	var mant uint64
	for i < n {
		d := s[i] - '0'
		if d > 9 {
			break
		}
		mant = mant*10 + uint64(d)
		i++
	}
	digits := i - start
	e10 := 0
	if i < n && s[i] == '.' {
		i++
		frac := i
		for i < n {
			d := s[i] - '0'
			if d > 9 {
				break
			}
			mant = mant*10 + uint64(d)
			i++
		}
		digits += i - frac
		e10 = frac - i
	}
	if digits == 0 {
		if i > start {
			return 0, 0, false // a point without digits
		}
		end := i
		for end < n && s[end] != ' ' {
			end++
		}
		v, ok := special(s[start:end], neg)
		return v, end, ok
	}
	if i < n && s[i] != ' ' {
		if s[i] != 'e' && s[i] != 'E' {
			return 0, 0, false
		}
		i++
		eneg := false
		if i < n && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		first := i
		exp := 0
		for i < n {
			d := s[i] - '0'
			if d > 9 {
				break
			}
			if exp < 1e6 {
				exp = exp*10 + int(d)
			}
			i++
		}
		if i == first || i < n && s[i] != ' ' {
			return 0, 0, false
		}
		if eneg {
			exp = -exp
		}
		e10 += exp
	}
	if digits <= 19 && mant>>53 == 0 {
		// Clinger's fast path: the mantissa (at most 19 digits, so it did
		// not overflow) and the power of ten are exact float64 values, so
		// one multiplication or division rounds correctly.
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
			return float32(f), i, true
		}
	}
	// The syntax has been checked: only decimal forms reach ParseFloat,
	// whose only possible error is then ErrRange with ±Inf or ±0, which is
	// Python's answer too.
	f, _ := strconv.ParseFloat(unsafe.String(unsafe.SliceData(s), i), 64)
	return toFloat32(f), i, true
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
