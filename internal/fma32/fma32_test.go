package fma32

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// same reports whether a and b are the same float32: identical bits, or both
// NaN (NaN payloads are not specified by IEEE 754 for fma).
func same(a, b float32) bool {
	if a != a && b != b {
		return true
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

func f32(bits uint32) float32 { return math.Float32frombits(bits) }

// libcFmaf, when not nil, sets out[i] = fmaf(x[i], y[i], z[i]) with the C
// library. Builds with cgo set it (fmaf_cgo_test.go).
var libcFmaf func(x, y, z, out []float32)

// oracleStride is how often compare checks the math/big oracle against the
// C library when both are there: every 8th triple (the oracle is the slow
// part, and without cgo it checks every triple on its own).
const oracleStride = 8

// compare checks FMA, and its exact path on its own, on every triple:
// against the C library's fmaf with cgo (and the math/big oracle bigFMA
// against fmaf on every oracleStride-th triple), against bigFMA without.
// The triples are split over the available CPUs.
func compare(t *testing.T, name string, x, y, z []float32) {
	t.Helper()
	var libc []float32
	if libcFmaf != nil {
		libc = make([]float32, len(x))
		libcFmaf(x, y, z, libc)
	}
	var (
		mu     sync.Mutex
		bad    int
		report []string
	)
	note := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		if bad < 10 {
			report = append(report, s)
		}
		bad++
	}
	parallel(len(x), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			var want float32
			src := "oracle"
			switch {
			case libc == nil:
				want = bigFMA(x[i], y[i], z[i])
			case i%oracleStride == 0:
				want, src = libc[i], "C fmaf"
				if o := bigFMA(x[i], y[i], z[i]); !same(o, want) {
					note(fmt.Sprintf("%s: oracle(%g, %g, %g) = %g (%#08x), C fmaf = %g (%#08x)", name,
						x[i], y[i], z[i], o, math.Float32bits(o), want, math.Float32bits(want)))
				}
			default:
				want, src = libc[i], "C fmaf"
			}
			if got := FMA(x[i], y[i], z[i]); !same(got, want) {
				note(fmt.Sprintf("%s: FMA(%g, %g, %g) = %g (%#08x), %s = %g (%#08x)", name,
					x[i], y[i], z[i], got, math.Float32bits(got), src, want, math.Float32bits(want)))
			}
			if got := exact(x[i], y[i], z[i]); !same(got, want) {
				note(fmt.Sprintf("%s: exact(%g, %g, %g) = %g (%#08x), %s = %g (%#08x)", name,
					x[i], y[i], z[i], got, math.Float32bits(got), src, want, math.Float32bits(want)))
			}
		}
	})
	for _, s := range report {
		t.Error(s)
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d differ", name, bad, len(x))
	}
}

// parallel calls fn on consecutive ranges [lo, hi) covering [0, n), spread
// over GOMAXPROCS goroutines.
func parallel(n int, fn func(lo, hi int)) {
	const chunk = 1 << 14
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
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

// specials are values every edge-case test combines: zeros, the smallest and
// largest subnormals and normals, infinities, NaN, and a few ordinary numbers.
var specials = []float32{
	0, f32(0x80000000), // ±0
	f32(0x00000001), f32(0x80000001), // ±smallest subnormal
	f32(0x007fffff), f32(0x807fffff), // ±largest subnormal
	f32(0x00800000), f32(0x80800000), // ±smallest normal
	math.MaxFloat32, -math.MaxFloat32,
	float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
	1, -1, 0.5, 2, 3, 1.5, 0.1, -0.1,
	1 + 0x1p-23, 1 - 0x1p-24, 0x1p-24, 0x1p-12, 0x1p64, 0x1p-64, 0x1p127, 0x1p-126,
}

func TestSpecialCombinations(t *testing.T) {
	var x, y, z []float32
	for _, a := range specials {
		for _, b := range specials {
			for _, c := range specials {
				x, y, z = append(x, a), append(y, b), append(z, c)
			}
		}
	}
	compare(t, "specials", x, y, z)
}

// TestDoubleRoundingTrap checks the case that defeats
// float32(math.FMA(...)): the float64 rounding of the exact value lands on
// a float32 halfway point.
func TestDoubleRoundingTrap(t *testing.T) {
	x, y, z := float32(0x1p-24*(1+0x1p-23)), float32(1-0x1p-23), float32(1+0x1p-23)
	// Exact: 1 + 3*2^-24 - 2^-70, just below the halfway point.
	want := float32(1 + 0x1p-23)
	if got := FMA(x, y, z); got != want {
		t.Errorf("FMA = %b, want %b", math.Float32bits(got), math.Float32bits(want))
	}
	if naive := float32(math.FMA(float64(x), float64(y), float64(z))); naive == want {
		t.Errorf("the trap is no trap: double rounding gave the right answer")
	}
	compare(t, "trap", []float32{x}, []float32{y}, []float32{z})
}

// TestRandomBits: uniformly random bit patterns, so every exponent, sign,
// subnormals, infinities and NaNs occur.
func TestRandomBits(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 4 << 20
	x, y, z := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range n {
		x[i], y[i], z[i] = f32(r.Uint32()), f32(r.Uint32()), f32(r.Uint32())
	}
	compare(t, "random bits", x, y, z)
}

// randNear returns a random float32 with exponent in [lo, hi] and a random
// sign and significand.
func randNear(r *rand.Rand, lo, hi int) float32 {
	e := lo + r.IntN(hi-lo+1)
	bits := uint32(e+127)<<23 | r.Uint32()&0x807fffff
	return f32(bits)
}

// TestRandomComparable: operands whose product and addend have comparable
// magnitudes, so that rounding, cancellation and carries really happen.
func TestRandomComparable(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 4 << 20
	x, y, z := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range n {
		ex := r.IntN(60) - 30
		ey := r.IntN(60) - 30
		x[i] = randNear(r, ex, ex)
		y[i] = randNear(r, ey, ey)
		ez := ex + ey + r.IntN(60) - 30
		z[i] = randNear(r, ez, ez)
	}
	compare(t, "comparable", x, y, z)
}

// TestCancellation: z close to -x*y, so most leading bits cancel and the
// result depends on the low product bits only.
func TestCancellation(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const n = 4 << 20
	x, y, z := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range n {
		x[i] = randNear(r, -20, 20)
		y[i] = randNear(r, -20, 20)
		p := float32(x[i] * y[i])
		z[i] = -f32(math.Float32bits(p) + uint32(r.IntN(9)) - 4)
		if r.IntN(4) == 0 {
			z[i] = -p
		}
	}
	compare(t, "cancellation", x, y, z)
}

// TestTies: the exact result lies on, or within a hair of, a float32
// halfway point: x*y is about half an ulp of z.
func TestTies(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const n = 4 << 20
	x, y, z := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range n {
		z[i] = randNear(r, -100, 100)
		halfUlp := math.Ldexp(1, int(math.Float32bits(z[i])>>23&0xff)-127-24)
		// x = ±halfUlp * (1 + a*2^-23), y = 1 + b*2^-23 with small a, b of
		// either sign: x*y = ±halfUlp*(1 + (a+b)*2^-23 + a*b*2^-46).
		a, b := r.IntN(5)-2, r.IntN(5)-2
		x[i] = float32(halfUlp * (1 + float64(a)*0x1p-23))
		if r.IntN(2) == 0 {
			x[i] = -x[i]
		}
		y[i] = float32(1 + float64(b)*0x1p-23)
	}
	compare(t, "ties", x, y, z)
}

// TestSubnormalResults: results in and around the float32 subnormal range,
// where the rounding grid is coarser than 24 bits.
func TestSubnormalResults(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const n = 4 << 20
	x, y, z := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range n {
		// Product exponent between -150 and -120.
		ex := r.IntN(100) - 126
		ey := -150 - ex + r.IntN(31)
		x[i] = randNear(r, ex, ex)
		y[i] = randNear(r, ey, ey)
		switch r.IntN(3) {
		case 0:
			z[i] = f32(r.Uint32() & 0x80ffffff) // subnormal or tiny normal
		case 1:
			z[i] = 0
		default:
			z[i] = randNear(r, -127, -100)
		}
	}
	compare(t, "subnormal", x, y, z)
}

// TestOverflow: results around MaxFloat32, where rounding decides between
// MaxFloat32 and infinity.
func TestOverflow(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const n = 1 << 20
	x, y, z := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range n {
		ex := r.IntN(127)
		x[i] = randNear(r, ex, ex)
		y[i] = randNear(r, 127-ex, 127-ex)
		switch r.IntN(3) {
		case 0:
			z[i] = math.MaxFloat32
		case 1:
			z[i] = -math.MaxFloat32
		default:
			z[i] = randNear(r, 100, 127)
		}
	}
	compare(t, "overflow", x, y, z)
}

func BenchmarkFMA(b *testing.B) {
	x, y, z := float32(1.0000001), float32(0.9999999), float32(-1)
	var s float32
	for b.Loop() {
		s += FMA(x, y, z)
		x += 1e-7
	}
	_ = s
}
