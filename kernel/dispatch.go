package kernel

// A kernelLevel names a family of implementations of the inner functions
// gatherChunk and bagChunk.
type kernelLevel int

// The kernel levels, slowest first.
const (
	levelRef    kernelLevel = iota // the portable reference, gather_generic.go
	levelAVX2                      // AVX2, FMA and F16C assembly
	levelAVX512                    // AVX-512 (F, BW, VL) assembly
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
	return "kernelLevel(?)"
}

// useKernels makes Gather and Bag use the inner functions of level l, one
// of supportedLevels(), and returns a function that restores the ones in
// use before. It lets tests and benchmarks force each path; it must not
// run concurrently with Gather or Bag.
func useKernels(l kernelLevel) (restore func()) {
	g, b := gatherChunk, bagChunk
	setKernels(l)
	return func() { gatherChunk, bagChunk = g, b }
}
