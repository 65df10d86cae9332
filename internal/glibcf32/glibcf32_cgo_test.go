//go:build cgo

package glibcf32

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/embstore/embstore/internal/testing/cref"
)

// The oracle in these tests is the C library's libm, called through cref.
// Results must agree bit for bit; NaN results only need to be NaN on both
// sides. On an x86-64 CPU without FMA and AVX2 the C library runs its sse2
// build, which differs from the reproduced fma build only on the inputs of
// TestFusionSensitiveInputs; none of them is among the inputs compared with
// the C library, so the tests pass there too.
//
// These comparisons need the C library, so they build only with cgo. Without
// it, the ports are still checked against torch itself: internal/torchinit's
// TestEveryUniformLanes hashes the scalar Box-Muller kernel (logf,
// sinf and cosf) on every input PyTorch can feed it.

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
