package glibcf32

import (
	"math"
	"testing"
)

// The tests in this file need no C library; glibcf32_cgo_test.go compares
// the ports with the C library's libm bit for bit.

func sameFloat(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

// TestSpecialValues pins the documented results for special arguments,
// independently of the C library. Non-NaN results are compared bit for bit,
// which tells +0 from -0.
func TestSpecialValues(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	negZero := float32(math.Copysign(0, -1))
	tiny := math.Float32frombits(1)
	cases := []struct {
		name     string
		f        func(float32) float32
		in, want float32
		wantNaN  bool
	}{
		{"Logf", Logf, 1, 0, false},
		{"Logf", Logf, 0, -inf, false},
		{"Logf", Logf, negZero, -inf, false},
		{"Logf", Logf, inf, inf, false},
		{"Logf", Logf, -inf, 0, true},
		{"Logf", Logf, -1, 0, true},
		{"Logf", Logf, -tiny, 0, true},
		{"Logf", Logf, nan, 0, true},
		{"Sinf", Sinf, 0, 0, false},
		{"Sinf", Sinf, negZero, negZero, false},
		{"Sinf", Sinf, tiny, tiny, false},
		{"Sinf", Sinf, inf, 0, true},
		{"Sinf", Sinf, -inf, 0, true},
		{"Sinf", Sinf, nan, 0, true},
		{"Cosf", Cosf, 0, 1, false},
		{"Cosf", Cosf, negZero, 1, false},
		{"Cosf", Cosf, inf, 0, true},
		{"Cosf", Cosf, -inf, 0, true},
		{"Cosf", Cosf, nan, 0, true},
	}
	for _, c := range cases {
		got := c.f(c.in)
		switch {
		case c.wantNaN:
			if got == got {
				t.Errorf("%s(%g) = %g, want NaN", c.name, c.in, got)
			}
		case math.Float32bits(got) != math.Float32bits(c.want):
			t.Errorf("%s(%g) = %g (%#08x), want %g (%#08x)", c.name, c.in,
				got, math.Float32bits(got), c.want, math.Float32bits(c.want))
		}
	}
}

// fusionSensitive lists every positive float32 on which glibc's fma and sse2
// builds of sinf and cosf differ (found by comparing both over all 2^32
// inputs; logf never differs), with both builds' results. The negated inputs
// differ as well, with the sine negated.
var fusionSensitive = []struct {
	cos         bool
	x, fma, sse uint32
}{
	{false, 0x4255b0a9, 0xbc7d08a9, 0xbc7d08a8},
	{false, 0x42a35c07, 0xbadaa3b4, 0xbadaa3b5},
	{false, 0x42a35d44, 0x3a44b889, 0x3a44b888},
	{false, 0x42a97360, 0x3dc7b08a, 0x3dc7b089},
	{false, 0x42cf5854, 0x382ee64e, 0x382ee64f},
	{false, 0x42e87a55, 0xb5d2257c, 0xb5d2257b},
	{true, 0x418a3adb, 0xb7b4f770, 0xb7b4f76f},
	{true, 0x418a3adc, 0xb7a4f770, 0xb7a4f76f},
	{true, 0x418a3add, 0xb794f770, 0xb794f76f},
	{true, 0x418a3ade, 0xb784f770, 0xb784f76f},
	{true, 0x41bc76d9, 0xbb803f6b, 0xbb803f6a},
	{true, 0x4202eb4b, 0x3e821ce2, 0x3e821ce3},
	{true, 0x42687a55, 0xb552257c, 0xb552257b},
	{true, 0x4280ce28, 0x34fdd672, 0x34fdd671},
	{true, 0x42870e40, 0xbc866cc4, 0xbc866cc3},
	{true, 0x42c55faa, 0xbe8a34d1, 0xbe8a34d2},
	{true, 0x42d8d23e, 0xbcd25ea8, 0xbcd25ea7},
}

// TestFusionSensitiveInputs pins the fma build's results on the inputs where
// they depend on fused multiply-adds, whatever CPU and C library run the
// test.
func TestFusionSensitiveInputs(t *testing.T) {
	for _, c := range fusionSensitive {
		for _, neg := range []uint32{0, 0x80000000} {
			x := math.Float32frombits(c.x | neg)
			want := c.fma
			name, f := "Cosf", Cosf
			if !c.cos {
				name, f = "Sinf", Sinf
				want ^= neg // odd function
			}
			if got := math.Float32bits(f(x)); got != want {
				t.Errorf("%s(%#08x) = %#08x, want %#08x (the sse2 build's result is %#08x)",
					name, c.x|neg, got, want, c.sse^(want^c.fma))
			}
			s, co := Sincosf(x)
			if got := math.Float32bits(s); got != math.Float32bits(Sinf(x)) {
				t.Errorf("Sincosf(%#08x) sine %#08x, Sinf gives %#08x", c.x|neg, got, math.Float32bits(Sinf(x)))
			}
			if got := math.Float32bits(co); got != math.Float32bits(Cosf(x)) {
				t.Errorf("Sincosf(%#08x) cosine %#08x, Cosf gives %#08x", c.x|neg, got, math.Float32bits(Cosf(x)))
			}
		}
	}
}

// TestThresholds checks the hand-written abstop12 constants against the
// values the C code derives from its float constants.
func TestThresholds(t *testing.T) {
	for _, c := range []struct {
		name string
		got  uint32
		x    float32
	}{
		{"topPio4", topPio4, float32(math.Pi / 4)},
		{"topTiny", topTiny, 0x1p-12},
		{"top120", top120, 120},
		{"topInf", topInf, float32(math.Inf(1))},
	} {
		if want := abstop12(c.x); c.got != want {
			t.Errorf("%s = %#x, want abstop12(%g) = %#x", c.name, c.got, c.x, want)
		}
	}
}

var sink float32

// benchInputs are 4096 arguments from the PyTorch domains.
func benchInputs(f func(k int) float32) []float32 {
	in := make([]float32, 4096)
	for i := range in {
		in[i] = f(i * 4093)
	}
	return in
}

func benchmarkUnary(b *testing.B, f func(float32) float32, in []float32) {
	var s float32
	for i := 0; b.Loop(); i++ {
		s += f(in[i&(len(in)-1)])
	}
	sink = s
}

func logfInput(k int) float32 { return float32(1) - float32(float32(k)*0x1p-24) }

func thetaInput(k int) float32 { return float32(2 * math.Pi * (float64(k) * 0x1p-24)) }

func BenchmarkLogf(b *testing.B) { benchmarkUnary(b, Logf, benchInputs(logfInput)) }

func BenchmarkSinf(b *testing.B) { benchmarkUnary(b, Sinf, benchInputs(thetaInput)) }

func BenchmarkCosf(b *testing.B) { benchmarkUnary(b, Cosf, benchInputs(thetaInput)) }

func BenchmarkSincosf(b *testing.B) {
	in := benchInputs(thetaInput)
	var acc float32
	for i := 0; b.Loop(); i++ {
		s, c := Sincosf(in[i&(len(in)-1)])
		acc += s + c
	}
	sink = acc
}

// BenchmarkSinfLarge measures the integer range reduction path.
func BenchmarkSinfLarge(b *testing.B) {
	benchmarkUnary(b, Sinf, benchInputs(func(k int) float32 { return float32(k) * 1e4 }))
}
