package floatconv

import (
	"math"
	"testing"
)

// refWidenE4M3 decodes float8_e4m3fn from its definition: bias 7, no
// infinities, S.1111.111 is NaN.
func refWidenE4M3(b uint8) (float32, bool) {
	if b&0x7f == 0x7f {
		return float32(math.NaN()), true
	}
	exp := int(b>>3) & 0xf
	mant := int(b) & 7
	var f float32
	if exp == 0 {
		f = ldexp32(mant, -9)
	} else {
		f = ldexp32(mant|8, exp-10)
	}
	if b&0x80 != 0 {
		f = -f
	}
	return f, false
}

func TestF8E4M3ToF32AllPatterns(t *testing.T) {
	src := make([]byte, 256)
	for i := range src {
		src[i] = byte(i)
	}
	dst := make([]float32, 256)
	if n := F8E4M3ToF32(dst, src); n != 256 {
		t.Fatalf("F8E4M3ToF32 converted %d elements; want 256", n)
	}
	for i := range 256 {
		b := uint8(i)
		got := F8E4M3BitsToF32(b)
		if !sameBits(got, dst[i]) {
			t.Errorf("F8E4M3ToF32 slice gives %#08x for %#02x; scalar gives %#08x", math.Float32bits(dst[i]), b, math.Float32bits(got))
		}
		want, nan := refWidenE4M3(b)
		if nan {
			// PyTorch's fp8e4m3fn_to_fp32_value leaves these bits.
			wantBits := uint32(b&0x80)<<24 | 0x7ff00000
			if math.Float32bits(got) != wantBits {
				t.Errorf("F8E4M3BitsToF32(%#02x) = %#08x; want %#08x", b, math.Float32bits(got), wantBits)
			}
			if back := F32ToF8E4M3Bits(got); back != b {
				t.Errorf("F32ToF8E4M3Bits(NaN %#08x) = %#02x; want %#02x", math.Float32bits(got), back, b)
			}
			continue
		}
		if !sameBits(got, want) {
			t.Errorf("F8E4M3BitsToF32(%#02x) = %v; want %v", b, got, want)
		}
		if back := F32ToF8E4M3Bits(got); back != b {
			t.Errorf("F32ToF8E4M3Bits(F8E4M3BitsToF32(%#02x)) = %#02x", b, back)
		}
	}
	if got := F8E4M3BitsToF32(0x7e); got != 448 {
		t.Errorf("largest float8_e4m3fn = %v; want 448", got)
	}
	if got := F8E4M3BitsToF32(0x01); got != ldexp32(1, -9) {
		t.Errorf("smallest float8_e4m3fn subnormal = %v; want 2^-9", got)
	}
}

func TestF8E5M2ToF32AllPatterns(t *testing.T) {
	src := make([]byte, 256)
	for i := range src {
		src[i] = byte(i)
	}
	dst := make([]float32, 256)
	if n := F8E5M2ToF32(dst, src); n != 256 {
		t.Fatalf("F8E5M2ToF32 converted %d elements; want 256", n)
	}
	for i := range 256 {
		b := uint8(i)
		got := F8E5M2BitsToF32(b)
		if !sameBits(got, dst[i]) {
			t.Errorf("F8E5M2ToF32 slice gives %#08x for %#02x; scalar gives %#08x", math.Float32bits(dst[i]), b, math.Float32bits(got))
		}
		if !sameBits(got, F16BitsToF32(uint16(b)<<8)) {
			t.Errorf("F8E5M2BitsToF32(%#02x) = %v; want the binary16 %#04x", b, got, uint16(b)<<8)
		}
		want, nan := refWidenIEEE(uint32(b), 5, 2)
		if nan {
			if !math.IsNaN(float64(got)) || math.Float32bits(got)&0x400000 == 0 || math.Signbit(float64(got)) != (b&0x80 != 0) {
				t.Errorf("F8E5M2BitsToF32(%#02x) = %#08x; want a quiet NaN of the same sign", b, math.Float32bits(got))
			}
			if back := F32ToF8E5M2Bits(got); back != b&0x80|0x7f {
				t.Errorf("F32ToF8E5M2Bits(NaN %#08x) = %#02x; want %#02x", math.Float32bits(got), back, b&0x80|0x7f)
			}
			continue
		}
		if !sameBits(got, want) {
			t.Errorf("F8E5M2BitsToF32(%#02x) = %v; want %v", b, got, want)
		}
		if back := F32ToF8E5M2Bits(got); back != b {
			t.Errorf("F32ToF8E5M2Bits(F8E5M2BitsToF32(%#02x)) = %#02x", b, back)
		}
	}
	if got := F8E5M2BitsToF32(0x7b); got != 57344 {
		t.Errorf("largest float8_e5m2 = %v; want 57344", got)
	}
}

// checkNarrowF8E4M3 compares F32ToF8E4M3Bits with the float64 reference:
// round to nearest even on the 4-bit significand grid, and NaN (0x7F with
// the input's sign) for NaN, infinity and anything that rounds past 448.
func checkNarrowF8E4M3(x uint32) bool {
	f := math.Float32frombits(x)
	got := F32ToF8E4M3Bits(f)
	sign := uint8(x>>24) & 0x80
	if math.IsNaN(float64(f)) {
		return got == sign|0x7f
	}
	want := refNarrow(f, 4, -6, 448)
	if math.IsInf(want, 0) {
		return got == sign|0x7f
	}
	g := float64(F8E4M3BitsToF32(got))
	return g == want && math.Signbit(g) == math.Signbit(want)
}

// checkNarrowF8E5M2 compares F32ToF8E5M2Bits with the float64 reference:
// round to nearest even on the 3-bit significand grid, infinity past 57344,
// and 0x7F with the input's sign for NaN.
func checkNarrowF8E5M2(x uint32) bool {
	f := math.Float32frombits(x)
	got := F32ToF8E5M2Bits(f)
	if math.IsNaN(float64(f)) {
		return got == uint8(x>>24)&0x80|0x7f
	}
	want := refNarrow(f, 3, -14, 57344)
	g := float64(F8E5M2BitsToF32(got))
	return g == want && math.Signbit(g) == math.Signbit(want)
}

func TestNarrowF8Boundaries(t *testing.T) {
	fails := 0
	check := func(f float32) {
		x := math.Float32bits(f)
		for _, c := range []struct {
			name string
			ok   bool
		}{{"F32ToF8E4M3Bits", checkNarrowF8E4M3(x)}, {"F32ToF8E5M2Bits", checkNarrowF8E5M2(x)}} {
			if !c.ok && fails < 20 {
				fails++
				t.Errorf("%s(%v = %#08x) disagrees with the reference", c.name, f, x)
			}
		}
	}
	// Each value of either format, its neighbours in float32, and the
	// midpoints to the next value with their float32 neighbours.
	for _, widen := range []func(uint8) float32{F8E4M3BitsToF32, F8E5M2BitsToF32} {
		for b := range uint8(0x7f) {
			v, w := widen(b), widen(b+1)
			if math.IsNaN(float64(w)) || math.IsInf(float64(w), 0) {
				w = 2 * v // the next step past the top, 480 or 65536
				if b == 0x7e {
					w = 480
				}
				if b == 0x7b {
					w = 65536
				}
			}
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				continue
			}
			mid := float32((float64(v) + float64(w)) / 2)
			for _, f := range []float32{v, math.Nextafter32(v, 0), math.Nextafter32(v, 1e9), mid, math.Nextafter32(mid, 0), math.Nextafter32(mid, 1e9), w} {
				check(f)
				check(-f)
			}
		}
	}
	for _, f := range []float32{0, 448, 464, 465, 479.99, 480, 57344, 61440, 61439.996, 65536, 1e30,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), ldexp32(1, -10), ldexp32(3, -11), ldexp32(1, -17), ldexp32(3, -18)} {
		check(f)
		check(-f)
	}
	// The documented thresholds.
	if got := F32ToF8E4M3Bits(464); got != 0x7e {
		t.Errorf("F32ToF8E4M3Bits(464) = %#02x; want 0x7e (tie to even 448)", got)
	}
	if got := F32ToF8E4M3Bits(math.Nextafter32(464, 1e9)); got != 0x7f {
		t.Errorf("F32ToF8E4M3Bits(464+) = %#02x; want NaN 0x7f", got)
	}
	if got := F32ToF8E4M3Bits(float32(math.Inf(-1))); got != 0xff {
		t.Errorf("F32ToF8E4M3Bits(-Inf) = %#02x; want NaN 0xff", got)
	}
	if got := F32ToF8E5M2Bits(61440); got != 0x7c {
		t.Errorf("F32ToF8E5M2Bits(61440) = %#02x; want Inf 0x7c", got)
	}
	if got := F32ToF8E5M2Bits(math.Nextafter32(61440, 0)); got != 0x7b {
		t.Errorf("F32ToF8E5M2Bits(61440-) = %#02x; want 0x7b", got)
	}
}

func TestSliceLengths(t *testing.T) {
	// The slice functions convert the smaller of the two lengths, counted
	// in elements, and leave the rest of dst alone.
	dst := []float32{9, 9, 9}
	if n := F16ToF32(dst, []byte{0, 0x3c, 0, 0x40, 0}); n != 2 || dst[0] != 1 || dst[1] != 2 || dst[2] != 9 {
		t.Errorf("F16ToF32 with a 5-byte source = %d, %v; want 2, [1 2 9]", n, dst)
	}
	if n := BF16ToF32(dst[:1], []byte{0x80, 0x3f, 0, 0x40}); n != 1 || dst[0] != 1 {
		t.Errorf("BF16ToF32 into 1 element = %d, %v", n, dst)
	}
	if n := F64ToF32(dst, make([]byte, 7)); n != 0 {
		t.Errorf("F64ToF32 with a 7-byte source = %d; want 0", n)
	}
	if n := F32LEToF32(nil, []byte{1, 2, 3, 4}); n != 0 {
		t.Errorf("F32LEToF32 into nil = %d; want 0", n)
	}
	out := make([]byte, 7)
	if n := F32ToF32LE(out, []float32{1, 2}); n != 1 || out[3] != 0x3f || out[4] != 0 {
		t.Errorf("F32ToF32LE into 7 bytes = %d, % x", n, out)
	}
	if n := F32ToF16(out, []float32{1, 2, 3, 4}); n != 3 {
		t.Errorf("F32ToF16 into 7 bytes = %d; want 3", n)
	}
	if n := F32ToBF16(out[:2], []float32{1, 2}); n != 1 {
		t.Errorf("F32ToBF16 into 2 bytes = %d; want 1", n)
	}
	if n := F32ToF8E4M3(out, []float32{1}); n != 1 || out[0] != 0x38 {
		t.Errorf("F32ToF8E4M3(1) = %d, %#02x; want 1, 0x38", n, out[0])
	}
	if n := F32ToF8E5M2(out, []float32{1}); n != 1 || out[0] != 0x3c {
		t.Errorf("F32ToF8E5M2(1) = %d, %#02x; want 1, 0x3c", n, out[0])
	}
	if n := F8E4M3ToF32(dst, []byte{0x38}); n != 1 || dst[0] != 1 {
		t.Errorf("F8E4M3ToF32(0x38) = %d, %v", n, dst[0])
	}
	if n := F8E5M2ToF32(dst, []byte{0x3c}); n != 1 || dst[0] != 1 {
		t.Errorf("F8E5M2ToF32(0x3c) = %d, %v", n, dst[0])
	}
}

func TestSliceRoundTrips(t *testing.T) {
	// Random float32s through every narrowing slice function and back match
	// the scalar functions; F32 and F64 copies are exact.
	rng := splitmix64(7)
	src := make([]float32, 4097)
	for i := range src {
		src[i] = math.Float32frombits(uint32(rng.next()))
	}
	b := make([]byte, 8*len(src))
	got := make([]float32, len(src))

	F32ToF32LE(b, src)
	F32LEToF32(got, b)
	for i := range src {
		if !sameBits(got[i], src[i]) {
			t.Fatalf("F32 round trip changed %#08x to %#08x", math.Float32bits(src[i]), math.Float32bits(got[i]))
		}
	}
	for i, f := range src {
		putF64(b[8*i:], float64(f))
	}
	F64ToF32(got, b)
	for i := range src {
		if !sameBits(got[i], src[i]) && !(math.IsNaN(float64(src[i])) && math.IsNaN(float64(got[i]))) {
			t.Fatalf("F64 round trip changed %#08x to %#08x", math.Float32bits(src[i]), math.Float32bits(got[i]))
		}
	}
	type pair struct {
		name   string
		narrow func([]byte, []float32) int
		widen  func([]float32, []byte) int
		scalar func(float32) float32
	}
	for _, p := range []pair{
		{"F16", F32ToF16, F16ToF32, func(f float32) float32 { return F16BitsToF32(F32ToF16Bits(f)) }},
		{"BF16", F32ToBF16, BF16ToF32, func(f float32) float32 { return BF16BitsToF32(F32ToBF16Bits(f)) }},
		{"F8E4M3", F32ToF8E4M3, F8E4M3ToF32, func(f float32) float32 { return F8E4M3BitsToF32(F32ToF8E4M3Bits(f)) }},
		{"F8E5M2", F32ToF8E5M2, F8E5M2ToF32, func(f float32) float32 { return F8E5M2BitsToF32(F32ToF8E5M2Bits(f)) }},
	} {
		if n := p.narrow(b, src); n != len(src) {
			t.Fatalf("%s narrowing converted %d of %d", p.name, n, len(src))
		}
		if n := p.widen(got, b); n != len(src) {
			t.Fatalf("%s widening converted %d of %d", p.name, n, len(src))
		}
		for i, f := range src {
			if want := p.scalar(f); !sameBits(got[i], want) {
				t.Fatalf("%s slice round trip of %#08x = %#08x; scalar gives %#08x", p.name, math.Float32bits(f), math.Float32bits(got[i]), math.Float32bits(want))
			}
		}
	}
}

func putF64(b []byte, f float64) {
	u := math.Float64bits(f)
	for i := range 8 {
		b[i] = byte(u >> (8 * i))
	}
}
