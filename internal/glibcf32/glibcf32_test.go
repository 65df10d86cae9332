package glibcf32

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/embstore/embstore/internal/cref"
)

// The oracle in these tests is the C library's libm, called through cref.
// Results must agree bit for bit; NaN results only need to be NaN on both
// sides. On an x86-64 CPU without FMA and AVX2 the C library runs its sse2
// build, which differs from the reproduced fma build only on the inputs of
// TestFusionSensitiveInputs; none of them is among the inputs compared with
// the C library, so the tests pass there too.

func sameFloat(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

// mismatches collects disagreements with the oracle and reports the first
// few of them.
type mismatches struct {
	mu    sync.Mutex
	n     int
	first []string
}

func (m *mismatches) add(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n++
	if len(m.first) < 10 {
		m.first = append(m.first, fmt.Sprintf(format, args...))
	}
}

func (m *mismatches) report(t *testing.T, what string, total int) {
	t.Helper()
	for _, s := range m.first {
		t.Error(s)
	}
	if m.n > 0 {
		t.Errorf("%s: %d of %d inputs differ from the C library", what, m.n, total)
	}
}

// unary is one of the ported functions with its C oracle.
type unary struct {
	name   string
	goFunc func(float32) float32
	cSlice func(in, out []float32)
}

var unaries = []unary{
	{"logf", Logf, cref.LogfSlice},
	{"sinf", Sinf, cref.SinfSlice},
	{"cosf", Cosf, cref.CosfSlice},
}

// compare checks f on in against the C library, using want (of len(in)) as
// scratch space for the C results.
func compare(f unary, in, want []float32, m *mismatches) {
	f.cSlice(in, want)
	for i, x := range in {
		if got := f.goFunc(x); !sameFloat(got, want[i]) {
			m.add("%s(%#08x = %g) = %#08x (%g), C gives %#08x (%g)", f.name,
				math.Float32bits(x), x, math.Float32bits(got), got,
				math.Float32bits(want[i]), want[i])
		}
	}
}

// compareSincosf checks Sincosf on in against the C library's sincosf.
func compareSincosf(in, wantSin, wantCos []float32, m *mismatches) {
	cref.SincosfSlice(in, wantSin, wantCos)
	for i, x := range in {
		s, c := Sincosf(x)
		if !sameFloat(s, wantSin[i]) || !sameFloat(c, wantCos[i]) {
			m.add("sincosf(%#08x = %g) = (%#08x, %#08x), C gives (%#08x, %#08x)",
				math.Float32bits(x), x, math.Float32bits(s), math.Float32bits(c),
				math.Float32bits(wantSin[i]), math.Float32bits(wantCos[i]))
		}
	}
}

// forChunks calls fn on consecutive chunks [lo, hi) of [0, n), spread over
// the available CPUs.
func forChunks(n, chunk int, fn func(lo, hi int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := range next {
				fn(lo, min(lo+chunk, n))
			}
		}()
	}
	for lo := 0; lo < n; lo += chunk {
		next <- lo
	}
	close(next)
	wg.Wait()
}

// pytorchSamples is the number of distinct uniform float32 samples PyTorch's
// normal sampler can feed to logf and to sinf/cosf: k * 2^-24 for k in
// [0, 2^24).
const pytorchSamples = 1 << 24

// TestLogfPyTorchDomain compares Logf with the C library on every
// u1 = 1 - k*2^-24, k in [0, 2^24): the values whose logarithm PyTorch's
// Box-Muller transform takes.
func TestLogfPyTorchDomain(t *testing.T) {
	var m mismatches
	forChunks(pytorchSamples, 1<<18, func(lo, hi int) {
		in := make([]float32, hi-lo)
		want := make([]float32, hi-lo)
		for i := range in {
			in[i] = float32(1) - float32(float32(lo+i)*0x1p-24)
		}
		compare(unaries[0], in, want, &m)
	})
	m.report(t, "logf on 1-k*2^-24", pytorchSamples)
}

// TestSinCosPyTorchDomain compares Sinf, Cosf and Sincosf with the C library
// on every theta = float32(2*pi*k*2^-24), k in [0, 2^24): the angles
// PyTorch's Box-Muller transform takes the sine and cosine of.
func TestSinCosPyTorchDomain(t *testing.T) {
	var ms [3]mismatches
	forChunks(pytorchSamples, 1<<18, func(lo, hi int) {
		in := make([]float32, hi-lo)
		want := make([]float32, hi-lo)
		want2 := make([]float32, hi-lo)
		for i := range in {
			in[i] = float32(2 * math.Pi * (float64(lo+i) * 0x1p-24))
		}
		compare(unaries[1], in, want, &ms[0])
		compare(unaries[2], in, want, &ms[1])
		compareSincosf(in, want, want2, &ms[2])
	})
	ms[0].report(t, "sinf on 2*pi*k*2^-24", pytorchSamples)
	ms[1].report(t, "cosf on 2*pi*k*2^-24", pytorchSamples)
	ms[2].report(t, "sincosf on 2*pi*k*2^-24", pytorchSamples)
}

// specialInputs returns edge cases for all three functions: signed zeros,
// subnormals, the smallest and largest normals, infinities, quiet and
// signalling NaNs, both sides of every threshold of the C code, the
// neighbourhoods of multiples of pi/2 (where range reduction cancels most),
// and every power of two.
func specialInputs() []float32 {
	bits := []uint32{
		0x00000000, 0x00000001, 0x00000002, 0x000fffff, 0x00400000,
		0x007ffffe, 0x007fffff, 0x00800000, 0x00800001,
		0x3f7fffff, 0x3f800000, 0x3f800001,
		0x7f7fffff, 0x7f800000, 0x7f800001, 0x7fa00000, 0x7fc00000,
		0x7fc00001, 0x7fffffff,
	}
	// Thresholds of the C code: logf's table offset and 2^-126; sinf's
	// 2^-126, 2^-12, pi/4, 2 (the smallest argument of reduce_large) and
	// 120; and the quadrant boundaries' neighbours in the fast reduction.
	for _, b := range []uint32{
		0x3f330000, 0x3fb30000, 0x39800000, 0x3f400000, 0x3f490fdb,
		0x3f4fffff, 0x3f500000, 0x40000000, 0x42f00000, 0x42efffff,
		0x4b000000, 0x4b800000, 0x5f000000,
	} {
		for d := uint32(0); d <= 4; d++ {
			bits = append(bits, b+d, b-d)
		}
	}
	for e := uint32(0); e < 255; e++ {
		bits = append(bits, e<<23, e<<23|0x7fffff)
	}
	var in []float32
	for _, b := range bits {
		in = append(in, math.Float32frombits(b), math.Float32frombits(b|0x80000000))
	}
	for k := 1; k < 1<<21; k += 97 {
		for _, scale := range []float64{1, 1 << 20, 1 << 40, 1 << 80} {
			x := math.Float32bits(float32(float64(k) * scale * math.Pi / 2))
			for d := uint32(0); d <= 2; d++ {
				in = append(in, math.Float32frombits(x+d), math.Float32frombits(x-d))
			}
		}
	}
	return in
}

// TestSpecialInputs compares all functions with the C library on
// specialInputs.
func TestSpecialInputs(t *testing.T) {
	in := specialInputs()
	want := make([]float32, len(in))
	want2 := make([]float32, len(in))
	for _, f := range unaries {
		var m mismatches
		compare(f, in, want, &m)
		m.report(t, f.name+" on special inputs", len(in))
	}
	var m mismatches
	compareSincosf(in, want, want2, &m)
	m.report(t, "sincosf on special inputs", len(in))
}

// TestRandomBits compares all functions with the C library on a few million
// float32 values with uniformly random bit patterns, covering every exponent,
// both signs, subnormals and NaNs in proportion to their number.
func TestRandomBits(t *testing.T) {
	const n = 1 << 22
	in := make([]float32, n)
	r := rand.New(rand.NewPCG(0x676c6962, 0x63663332))
	for i := range in {
		in[i] = math.Float32frombits(r.Uint32())
	}
	for _, f := range unaries {
		var m mismatches
		forChunks(n, 1<<18, func(lo, hi int) {
			compare(f, in[lo:hi], make([]float32, hi-lo), &m)
		})
		m.report(t, f.name+" on random bits", n)
	}
	var m mismatches
	forChunks(n, 1<<18, func(lo, hi int) {
		compareSincosf(in[lo:hi], make([]float32, hi-lo), make([]float32, hi-lo), &m)
	})
	m.report(t, "sincosf on random bits", n)
}

// TestScalarOracle cross-checks a few values through cref's one-value entry
// points, so that the slice oracles are not the only path exercised.
func TestScalarOracle(t *testing.T) {
	for _, x := range []float32{0.1, 0.5, 0.75, 1.5, 3, 100, 1e10, -2.5} {
		if got, want := Sinf(x), cref.Sinf(x); !sameFloat(got, want) {
			t.Errorf("Sinf(%g) = %g, C gives %g", x, got, want)
		}
		if got, want := Cosf(x), cref.Cosf(x); !sameFloat(got, want) {
			t.Errorf("Cosf(%g) = %g, C gives %g", x, got, want)
		}
		s, c := Sincosf(x)
		ws, wc := cref.Sincosf(x)
		if !sameFloat(s, ws) || !sameFloat(c, wc) {
			t.Errorf("Sincosf(%g) = (%g, %g), C gives (%g, %g)", x, s, c, ws, wc)
		}
		if got, want := Logf(x), cref.Logf(x); !sameFloat(got, want) {
			t.Errorf("Logf(%g) = %g, C gives %g", x, got, want)
		}
	}
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
