package torchinit

import (
	"fmt"

	"github.com/embstore/embstore/internal/fma32"
)

// The bulk kernels. Every value torchinit produces goes through one of the
// functions of a kernelSet: the generator's twist and tempering (mtBlock),
// and the conversion of raw generator outputs into the values of a tensor
// (normal blocks on either math path, uniform values). The pure-Go set
// below, refKernels, defines the results; on amd64 the assembly sets of
// kernels_amd64.go (written by _generate) compute the same bits faster,
// and init installs the fastest one the CPU runs. Tests compare every set
// with the reference and with torch. Results are the same bits at every
// level, except that where a result is NaN (only possible with an infinite
// or NaN mean or std) its payload may differ: the reference's software
// float32 FMA does not propagate NaN operands as the FMA instructions do.
type kernelSet struct {
	// mtBlock regenerates the generator state and writes its mtN tempered
	// outputs to out.
	mtBlock func(state, out *[mtN]uint32)
	// normalAVX2 and normalDefault transform len(src)/16 blocks of 16 raw
	// generator outputs into normal values, as normal16AVX2 and
	// normal16Default transform the blocks of their float uniforms:
	// dst[16b:16b+16] gets block b. len(src) must be a multiple of 16 and
	// len(dst) at least len(src).
	normalAVX2, normalDefault func(dst []float32, src []uint32, mean, std float32)
	// uniformFused and uniformPlain compute u*span + lo for the float
	// uniform u of each raw output of src, with one rounding (the AVX2
	// build's fused multiply-add) or two. len(dst) must be at least
	// len(src).
	uniformFused, uniformPlain func(dst []float32, src []uint32, lo, span float32)
}

// refKernels is the reference kernel set, in pure Go.
var refKernels = kernelSet{
	mtBlock:       mtBlockRef,
	normalAVX2:    normalAVX2Ref,
	normalDefault: normalDefaultRef,
	uniformFused:  uniformFusedRef,
	uniformPlain:  uniformPlainRef,
}

// kern is the kernel set in use.
var kern = refKernels

// A kernelLevel names a kernel set.
type kernelLevel int

const (
	levelRef    kernelLevel = iota // refKernels
	levelAVX2                      // AVX2 and FMA assembly
	levelAVX512                    // AVX-512 assembly (F, VL, DQ)
)

func (l kernelLevel) String() string {
	switch l {
	case levelRef:
		return "ref"
	case levelAVX2:
		return "avx2"
	case levelAVX512:
		return "avx512"
	}
	return fmt.Sprintf("kernelLevel(%d)", int(l))
}

func init() {
	levels := supportedLevels()
	kern = kernelsFor(levels[len(levels)-1])
}

// useKernels installs the kernel set of level l, one of supportedLevels(),
// and returns a function that restores the set in use before. Tests and
// benchmarks use it to run every level; it must not run concurrently with
// anything that draws.
func useKernels(l kernelLevel) (restore func()) {
	old := kern
	kern = kernelsFor(l)
	return func() { kern = old }
}

// uniform24 is at::uniform_real_distribution<float>(0, 1) of one raw
// output: its low 24 bits times 2^-24 (TransformationHelper.h
// uniform_real), which is exact in float32.
func uniform24(r uint32) float32 { return float32(r&(1<<24-1)) * 0x1p-24 }

func normalAVX2Ref(dst []float32, src []uint32, mean, std float32) {
	normalBlocksRef(dst, src, mean, std, normal16AVX2)
}

func normalDefaultRef(dst []float32, src []uint32, mean, std float32) {
	normalBlocksRef(dst, src, mean, std, normal16Default)
}

func normalBlocksRef(dst []float32, src []uint32, mean, std float32, transform func(*[16]float32, float32, float32)) {
	dst = dst[:len(src)]
	for b := 0; b+blockSize <= len(src); b += blockSize {
		var d [blockSize]float32
		for i := range d {
			d[i] = uniform24(src[b+i])
		}
		transform(&d, mean, std)
		copy(dst[b:], d[:])
	}
}

func uniformFusedRef(dst []float32, src []uint32, lo, span float32) {
	dst = dst[:len(src)]
	for i, r := range src {
		dst[i] = fma32.FMA(uniform24(r), span, lo)
	}
}

func uniformPlainRef(dst []float32, src []uint32, lo, span float32) {
	dst = dst[:len(src)]
	for i, r := range src {
		dst[i] = float32(uniform24(r)*span) + lo
	}
}
