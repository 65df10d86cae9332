package server

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
)

// JSON numbers for float32 values.
//
// appendFloat32 writes a float32 exactly as encoding/json writes one (and
// so as JavaScript does, but for float32): the shortest decimal that reads
// back as the value, the closest of those to it, as
// strconv.AppendFloat(b, float64(v), 'f' or 'e', -1, 32) chooses it; laid
// out without an exponent for 1e-6 <= |v| < 1e21 and as d.ddde±x (no
// leading zero in the exponent) otherwise. Tests compare it byte for byte
// with that on a sample of values in every run and on every float32 with
// EMBSTORE_EXHAUSTIVE=1.
//
// The digits come from Junekey Jeon's Dragonbox ("Dragonbox: A New
// Floating-Point Binary-to-Decimal Conversion Algorithm", 2020), the
// algorithm strconv itself uses since Go 1.26, specialised here to float32
// and to one output layout: one 64x64-bit multiplication by a tabulated
// power of ten gives the candidate significand two digits past the
// shortest, one division by 100 (a multiplication) and a comparison decide
// the common case, and the digits are written with 8-byte stores. The
// loop's speed is bound by the length of each value's chain of dependent
// operations more than by their number (in measurements, shortening the
// chain paid; removing instructions off it did not), so the common case
// takes its digit pairs from the scaled value directly, each by its own
// division by a constant and a lookup in a 256-byte table, rather than one
// after the other (digits8, which the rare cases use). About 9.4 ns a
// value on the 2-vCPU VM, against 35 for strconv (BENCHMARKS.md); a JSON
// response of thousands of values is mostly this.

// ftoaSpace is how many bytes writeFloat32s may write past a number's
// start: the longest number is 22 bytes ("-100000000000000000000" is
// -1e20), and its 8-byte stores run up to 34 bytes ahead.
const ftoaSpace = 48

// float32JSONMax is the longest JSON number appendFloat32 writes.
const float32JSONMax = 22

// appendFloat32 appends v (finite: neither NaN nor an infinity) as a JSON
// number, as encoding/json writes a float32.
func appendFloat32(b []byte, v float32) []byte {
	b, _ = appendFloat32s(b, []float32{v})
	return b
}

// appendFloat32s appends vals as JSON numbers separated by commas, each
// as encoding/json writes a float32. It returns false, with b holding the
// values before it, at the first NaN or infinity.
//
// writeFloat32s writes the values in a loop that calls nothing, so that
// the compiler keeps more of its state in registers; it stops at the
// values it leaves to shortestDigits (zero, subnormals, powers of two, and
// the 2% or so whose decimal Dragonbox settles exactly at an end of the
// rounding interval), which it then writes as the first of the rest.
func appendFloat32s(b []byte, vals []float32) ([]byte, bool) {
	// Room for every value at its longest and a comma each, and the
	// scratch the 8-byte stores write past the last one.
	b = slices.Grow(b, len(vals)*(float32JSONMax+1)+ftoaSpace)
	n := len(b)
	out := b[:cap(b)]
	var first uint64
	for {
		var j int
		j, n = writeFloat32s(out, n, vals, first)
		if j == len(vals) {
			break
		}
		vals = vals[j:]
		var s, t uint32
		var e int
		switch abs := math.Float32bits(vals[0]) &^ (1 << 31); {
		case abs >= 0x7f800000:
			return out[:max(n-1, len(b))], false
		case abs != 0:
			s, t, e = shortestDigits(abs)
		}
		first = packDecimal(s, t, e)
	}
	return out[:max(n-1, len(b))], true
}

// float32Exps[be] is what writeFloat32s needs of the float32 exponent
// field be (the value is m * 2^e2, e2 = be - 150, with the implicit bit in
// m), in the bytes of a uint32, the lowest first: the index k - pow10Min
// of the power of ten 10^k that scales it as Dragonbox needs (k = 1 -
// floor(e2 log10 2)), the shift beta = e2 + floor(log2 10^k), 2^beta, and
// the width of the rounding interval at that scale, in [10, 100). It is 0
// for the fields of zero and the subnormals, the infinities and NaN.
// float32Pow10[be] is pow10Hi[k - pow10Min], read beside it rather than
// after it.
var float32Exps, float32Pow10 = func() (t [256]uint32, p [256]uint64) {
	for be := 1; be < 255; be++ {
		e2 := be - 150
		k := 1 - floorLog10Pow2(e2)
		beta := e2 + floorLog2Pow10(k)
		p[be] = pow10Hi[k-pow10Min]
		delta := p[be] >> (63 - beta)
		t[be] = uint32(k-pow10Min) | uint32(beta)<<8 | 1<<(16+beta) | uint32(delta)<<24
	}
	return t, p
}()

// digitPairValues[i] is i < 100 as two bytes, its tens and its units, in
// the order they are written (digits8's layout); indexes 100-127 are there
// so that masking an index with 127 proves it in range.
var digitPairValues = func() (t [128]uint16) {
	for i := range 100 {
		t[i] = uint16(i/10) | uint16(i%10)<<8
	}
	return t
}()

// writeFloat32s writes vals at out[n:] as JSON numbers, each followed by a
// comma, until it comes to a value (other than the first, when first is
// set) that is not a normal float32 or is a power of two, or whose
// decimal needs an end of the rounding interval settled exactly. It
// returns that value's index (or len(vals)) and the new length. first, if
// not 0, is the first value's decimal, packed by packDecimal. out has room
// for the values at their longest and ftoaSpace bytes of scratch.
func writeFloat32s(out []byte, n int, vals []float32, first uint64) (int, int) {
	for j, v := range vals {
		u := math.Float32bits(v)
		sign := u >> 31
		var s, t uint32
		var e int
		var dg uint64 // the digits of s, one a byte, the first lowest (digits8)
		if first != 0 {
			s, t, e = uint32(first), uint32(first>>32)&15, int(first>>40&255)-128
			dg = digits8(s)
			first = 0
		} else {
			x := float32Exps[u>>float32MantBits&0xff]
			mul := x >> 16 & 0xff
			if mul == 0 || u&(1<<float32MantBits-1) == 0 {
				return j, n
			}
			// Dragonbox: z is the upper end of the rounding
			// interval, (m + 1/2) 2^e2, scaled by 10^k so that it
			// has two digits more than the shortest may need.
			phi := float32Pow10[u>>float32MantBits&0xff]
			m := u&(1<<float32MantBits-1) | 1<<float32MantBits
			z64, _ := bits.Mul64(uint64(2*m+1)*uint64(mul), phi)
			z := uint32(z64)
			delta := x >> 24
			s = z / 100
			r := z - 100*s
			// The digits of s, two at a time, each pair from z
			// directly rather than from s: this chain of
			// dependent operations is what bounds the loop's
			// speed.
			z8, z6, z4 := z/1e8, z/1e6, z/1e4
			dg = uint64(digitPairValues[z8&127]) | uint64(digitPairValues[(z6-100*z8)&127])<<16 |
				uint64(digitPairValues[(z4-100*z6)&127])<<32 | uint64(digitPairValues[(s-100*z4)&127])<<48
			if r == delta || r == 0 {
				// An end of the interval may be the candidate.
				return j, n
			}
			// If s (two digits shorter than z) is in the interval
			// it is the shortest; else the shortest is one digit
			// shorter than z, the closest to the value, found from
			// the distance to the upper end.
			d := r + 5 - delta/2
			t = d * 205 >> 11 // d / 10, d < 128
			if r < delta {
				t = 0
			}
			if d == 10*t && r > delta {
				// The value is within rounding of a digit
				// boundary: settle it exactly, ties to even.
				parity, exact := fracParity(2*m, phi, uint(x>>8&0xff))
				if y := 10*s + t; parity != ((d-5)&1 != 0) || exact && y&1 != 0 {
					y--
					s, t = y/10, y%10
					dg = digits8(s)
				}
			}
			e = 1 - pow10Min - int(x&0xff)
		}
		out[n] = '-'
		n += int(sign)
		p := (*[ftoaSpace]byte)(out[n : n+ftoaSpace])
		if s == 0 {
			p[0] = '0'
			p[1] = ','
			n += 2
			continue
		}
		// The digits: the first one c, the others in w, the decimal
		// exponent x of c.
		lz8 := bits.TrailingZeros64(dg|1<<63) & 0x38 // 8 * the leading zero digits of s
		dg >>= lz8
		c := byte(dg) | '0'
		w := dg>>8 | uint64(t)<<(56-lz8)
		x := e + 8 - lz8>>3
		rest := (bits.Len64(w<<4|8) + 3) >> 3 // digits after c, less trailing zeros
		w |= asciiZeros
		switch {
		case uint(x+6) < 6:
			// 0.000ddd: -x-1 zeros after the point.
			put8(p, 0, zeroPoint)
			j := 1 - x
			p[j&7] = c
			put8(p, j+1, w)
			n += j + 1 + rest
		case x >= 0 && x < rest:
			// ddd.ddd: the point after x+1 digits.
			p[0] = c
			put8(p, 1, w)
			p[(1+x)&7] = '.'
			put8(p, 2+x, w>>((8*x)&63))
			n += rest + 2
		case x >= 0 && x < 21:
			// An integer: the digits, then zeros up to 10^x.
			p[0] = c
			put8(p, 1, w)
			put8(p, 1+rest, asciiZeros)
			put8(p, 9+rest, asciiZeros)
			put8(p, 17+rest, asciiZeros)
			n += x + 1
		default:
			// d.ddde±x
			p[0] = c
			j := 1
			if rest > 0 {
				p[1] = '.'
				put8(p, 2, w)
				j += 1 + rest
			}
			p[j&15] = 'e'
			p[(j+1)&15] = '+'
			if x < 0 {
				p[(j+1)&15] = '-'
				x = -x
			}
			if x < 10 {
				p[(j+2)&15] = byte('0' + x)
				j--
			} else {
				x &= 63
				p[(j+2)&15] = digitPairs[2*x]
				p[(j+3)&15] = digitPairs[2*x+1]
			}
			n += j + 4
		}
		out[n] = ','
		n++
	}
	return len(vals), n
}

// packDecimal packs (10 s + t) * 10^e (s < 10^8, t < 10; 0 when both are)
// for writeFloat32s; never 0.
func packDecimal(s, t uint32, e int) uint64 {
	return uint64(s) | uint64(t)<<32 | uint64(e+128)<<40 | 1<<63
}

// put8 stores the 8 bytes of v, the lowest first, at p[off:]; off is taken
// modulo 32, so that the store is within p without a bounds check (every
// offset writeFloat32s uses is below 32).
func put8(p *[ftoaSpace]byte, off int, v uint64) {
	o := off & 31
	binary.LittleEndian.PutUint64(p[o:o+8], v)
}

// shortestDigits is shortestFloat32 as appendFloat32s takes it: (10 s + t) *
// 10^e, with s >= 1.
func shortestDigits(u uint32) (s, t uint32, e int) {
	n, e := shortestFloat32(u)
	if n < 10 {
		return n, 0, e - 1
	}
	return n / 10, n % 10, e
}

// Dragonbox for binary32: κ = 1, so the candidate is computed to two more
// digits (a factor of 10^(κ+1) = 100) than the shortest may need.
const (
	float32MantBits = 23
	pow10Min        = -31 // the range of k for which pow10Hi is tabulated
)

// pow10Hi[k-pow10Min] is ceil(10^k * 2^(63 - floor(log2 10^k))), 10^k
// rounded up to 64 significant bits, for the k in [-31, 46] that float32
// needs. TestPow10Table recomputes it exactly.
var pow10Hi = [...]uint64{
	0x81ceb32c4b43fcf5, 0xa2425ff75e14fc32, 0xcad2f7f5359a3b3f, 0xfd87b5f28300ca0e,
	0x9e74d1b791e07e49, 0xc612062576589ddb, 0xf79687aed3eec552, 0x9abe14cd44753b53,
	0xc16d9a0095928a28, 0xf1c90080baf72cb2, 0x971da05074da7bef, 0xbce5086492111aeb,
	0xec1e4a7db69561a6, 0x9392ee8e921d5d08, 0xb877aa3236a4b44a, 0xe69594bec44de15c,
	0x901d7cf73ab0acda, 0xb424dc35095cd810, 0xe12e13424bb40e14, 0x8cbccc096f5088cc,
	0xafebff0bcb24aaff, 0xdbe6fecebdedd5bf, 0x89705f4136b4a598, 0xabcc77118461cefd,
	0xd6bf94d5e57a42bd, 0x8637bd05af6c69b6, 0xa7c5ac471b478424, 0xd1b71758e219652c,
	0x83126e978d4fdf3c, 0xa3d70a3d70a3d70b, 0xcccccccccccccccd, 0x8000000000000000,
	0xa000000000000000, 0xc800000000000000, 0xfa00000000000000, 0x9c40000000000000,
	0xc350000000000000, 0xf424000000000000, 0x9896800000000000, 0xbebc200000000000,
	0xee6b280000000000, 0x9502f90000000000, 0xba43b74000000000, 0xe8d4a51000000000,
	0x9184e72a00000000, 0xb5e620f480000000, 0xe35fa931a0000000, 0x8e1bc9bf04000000,
	0xb1a2bc2ec5000000, 0xde0b6b3a76400000, 0x8ac7230489e80000, 0xad78ebc5ac620000,
	0xd8d726b7177a8000, 0x878678326eac9000, 0xa968163f0a57b400, 0xd3c21bcecceda100,
	0x84595161401484a0, 0xa56fa5b99019a5c8, 0xcecb8f27f4200f3a, 0x813f3978f8940985,
	0xa18f07d736b90be6, 0xc9f2c9cd04674edf, 0xfc6f7c4045812297, 0x9dc5ada82b70b59e,
	0xc5371912364ce306, 0xf684df56c3e01bc7, 0x9a130b963a6c115d, 0xc097ce7bc90715b4,
	0xf0bdc21abb48db21, 0x96769950b50d88f5, 0xbc143fa4e250eb32, 0xeb194f8e1ae525fe,
	0x92efd1b8d0cf37bf, 0xb7abc627050305ae, 0xe596b7b0c643c71a, 0x8f7e32ce7bea5c70,
	0xb35dbf821ae4f38c, 0xe0352f62a19e306f,
}

// floorLog10Pow2 is floor(e * log10 2), floorLog10ThreeQuartersPow2
// floor(e * log10 2 - log10(4/3)), and floorLog2Pow10 floor(k * log2 10),
// exact for the exponents of float32 (TestFtoaLogs checks every one).
func floorLog10Pow2(e int) int              { return (e * 78913) >> 18 }
func floorLog10ThreeQuartersPow2(e int) int { return (e*631305 - 261663) >> 21 }
func floorLog2Pow10(k int) int              { return (k * 108853) >> 15 }

// shortestFloat32 returns the shortest decimal n * 10^e that reads back as
// the positive finite float32 with bits u, the closest to it of those (ties
// to an even n), as strconv chooses it. n has at most 9 digits and may end
// in zeros. appendFloat32s has the common case inline.
func shortestFloat32(u uint32) (n uint32, e int) {
	m := u & (1<<float32MantBits - 1)
	be := int(u >> float32MantBits)
	e2 := -149 // value = m * 2^e2
	if be != 0 {
		if m == 0 {
			return shortestPow2(be - 150)
		}
		m |= 1 << float32MantBits
		e2 = be - 150
	}
	k := 1 - floorLog10Pow2(e2)
	phi := pow10Hi[k-pow10Min]
	beta := uint(e2 + floorLog2Pow10(k))
	hi, lo := bits.Mul64(uint64(2*m+1)<<beta, phi)
	z := uint32(hi)
	delta := uint32(phi >> (63 - beta))
	s := z / 100
	return dragonbox32(m, e2, k, phi, beta, s, z-100*s, delta, lo>>32 == 0)
}

// dragonbox32 finishes shortestFloat32 for significand m (the implicit bit
// included) and exponent e2, from z = 100 s + r, delta and whether z is
// exact, computed with k, phi and beta.
func dragonbox32(m uint32, e2, k int, phi uint64, beta uint, s, r, delta uint32, zExact bool) (uint32, int) {
	even := m&1 == 0
	if r < delta {
		// s is in the interval, unless it is its upper end, excluded
		// for odd m.
		if r != 0 || !zExact || even {
			return s, -k + 2
		}
		s--
		r = 100
	} else if r == delta {
		// s may be the lower end: in the interval if that end is
		// included (even m) or below it.
		parity, exact := fracParity(2*m-1, phi, beta)
		if parity || exact && even {
			return s, -k + 2
		}
	}
	// One digit shorter than z: the closest to the value.
	d := r + 5 - delta/2
	t := d / 10
	y := 10*s + t
	if d-10*t == 0 {
		// The value is within rounding of a digit boundary: settle it
		// exactly, ties to even.
		parity, exact := fracParity(2*m, phi, beta)
		if parity != ((d-5)&1 != 0) || exact && y&1 != 0 {
			y--
		}
	}
	return y, -k + 1
}

// fracParity returns, for x * 2^(e2-1) * 10^k scaled through phi and beta,
// the parity of its integer part and whether it is an integer.
func fracParity(x uint32, phi uint64, beta uint) (parity, exact bool) {
	r := uint64(x) * phi
	return (r>>(64-beta))&1 != 0, uint32(r>>(32-beta)) == 0
}

// shortestPow2 is shortestFloat32 for 2^e2 * 2^23, a normal float32 whose
// significand is a power of two: the interval below it is half as wide as
// the one above.
func shortestPow2(e2 int) (uint32, int) {
	k := -floorLog10ThreeQuartersPow2(e2)
	phi := pow10Hi[k-pow10Min]
	beta := uint(e2 + floorLog2Pow10(k))
	xi := uint32((phi - phi>>(float32MantBits+2)) >> (64 - float32MantBits - 1 - beta))
	zi := uint32((phi + phi>>(float32MantBits+1)) >> (64 - float32MantBits - 1 - beta))
	if e2 != 2 && e2 != 3 {
		xi++ // the lower end is not an integer, so excluded
	}
	if q := zi / 10; xi <= q*10 {
		return q, -k + 1
	}
	// The upper-rounded middle of the interval. Dragonbox rounds a tie
	// here down to an even digit at one exponent (2^-12 for float32);
	// strconv's float32 port tests the float64 exponent there (-77),
	// which no float32 has, and so rounds 2^-12 up, to 0.00024414063.
	// Both read back as 2^-12; this matches strconv.
	y := uint32(phi>>(64-float32MantBits-2-beta)+1) / 2
	if y < xi {
		y++
	}
	return y, -k
}

// Digits are made eight at a time as the bytes of a uint64, the first
// digit in the lowest byte, so that a little-endian 8-byte store writes
// them in order.
const (
	asciiZeros = 0x3030303030303030 // "00000000"
	zeroPoint  = 0x3030303030302e30 // "0.000000"
)

// digits8 returns the 8 decimal digits of x < 10^8 (with leading zeros) as
// the bytes 0-9 of a uint64, the first digit in the lowest byte.
func digits8(x uint32) uint64 {
	hi := uint32(uint64(x) * 109951163 >> 40) // x / 10000
	v := uint64(hi) | uint64(x-hi*10000)<<32  // two lanes of 4 digits
	q := (v * 10486 >> 20) & 0x0000007f0000007f
	v = q | (v-q*100)<<16 // four lanes of 2 digits
	q = (v * 103 >> 10) & 0x000f000f000f000f
	return q | (v-q*10)<<8 // eight lanes of 1 digit
}

// digitPairs holds "00" to "99".
const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"
