package torchinit

import (
	"math"
)

// Generator is the state of PyTorch's CPU generator (at::CPUGeneratorImpl,
// CPUGeneratorImpl.cpp) as far as float32 initialisation uses it: the
// Mersenne Twister engine and the cached second sample of the double
// precision Box-Muller transform.
//
// A Generator is not safe for concurrent use. Tensors created from it draw
// from it as they are filled, so only one may be in progress at a time.
type Generator struct {
	mt mt19937

	// normal_distribution<double> produces two samples and keeps the
	// second here for the next call (next_double_normal_sample_).
	cachedNormal    float64
	hasCachedNormal bool

	// active is the tensor currently drawing from the generator, if any.
	active *Tensor
}

// NewGenerator returns the generator that torch.manual_seed(seed) produces.
// Like at::mt19937, it uses only the low 32 bits of the seed; torch records
// the full 64-bit value, but the stream depends on the low 32 bits alone.
func NewGenerator(seed uint64) *Generator {
	g := &Generator{}
	g.mt.seed(uint32(seed))
	return g
}

// random returns one 32-bit output (CPUGeneratorImpl::random).
func (g *Generator) random() uint32 { return g.mt.uint32() }

// random64 returns two outputs combined, the first one high
// (CPUGeneratorImpl::random64).
func (g *Generator) random64() uint64 {
	hi := g.mt.uint32()
	lo := g.mt.uint32()
	return uint64(hi)<<32 | uint64(lo)
}

// uniformFloat returns at::uniform_real_distribution<float>(0, 1) of the
// next output (see uniform24). The kernels convert outputs in bulk instead.
func (g *Generator) uniformFloat() float32 { return uniform24(g.random()) }

// uniformDouble returns at::uniform_real_distribution<double>(0, 1): the low
// 53 bits of random64 times 2^-53, exact in float64.
func (g *Generator) uniformDouble() float64 {
	return float64(g.random64()&(1<<53-1)) * 0x1p-53
}

// twoPi64 is 2.0 * c10::pi<double>: the double nearest to pi, doubled.
const twoPi64 float64 = 2 * math.Pi

// normalDouble returns one sample of at::normal_distribution<double>(mean,
// std) (DistributionsHelper.h): Box-Muller on two double uniforms, returning
// the cosine sample and caching the sine sample in the generator for the
// next call. fused reports whether the final val*std+mean is one fused
// multiply-add (as in ATen's AVX2 build) or a multiply and an add.
//
// The radius is sqrt(-2 * log1p(-u2)) as in current ATen; torch 1.13 and
// earlier wrote log(1 - u2), the logarithm of the same (exactly computed)
// number, whose float64 result differs in the last bit now and then but, as
// far as the tests have sampled, never reaches the float32 samples. Torch
// calls the C library's log1p and (merged by GCC) sincos, and so does this,
// through bit-exact ports of glibc's (libm64.go): Go's own math.Log1p, Sin
// and Cos differ from glibc's in the last bit often enough to change a
// float32 sample about once in ten million.
func (g *Generator) normalDouble(mean, std float64, fused bool) float64 {
	var v float64
	if g.hasCachedNormal {
		v = g.cachedNormal
		g.hasCachedNormal = false
	} else {
		u1 := g.uniformDouble()
		u2 := g.uniformDouble()
		r := math.Sqrt(float64(-2 * glibcLog1p(-u2)))
		theta := float64(twoPi64 * u1)
		sin, cos := glibcSincos(theta)
		g.cachedNormal = float64(r * sin)
		g.hasCachedNormal = true
		v = float64(r * cos)
	}
	if fused {
		return math.FMA(v, std, mean)
	}
	return float64(v*std) + mean
}
