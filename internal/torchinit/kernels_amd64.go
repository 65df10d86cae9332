//go:build amd64 && gc && !noasm

package torchinit

import (
	"fmt"

	"golang.org/x/sys/cpu"
)

//go:generate go -C _generate run .

// The assembly kernels (kernels_amd64.s, written by _generate/gen.go; their
// declarations are in kernels_stubs_amd64.go) take whole vectors: the
// wrappers below hand them what they can take and give the rest to the
// reference.

// supportedLevels returns the kernel levels this CPU can run, slowest
// first.
func supportedLevels() []kernelLevel {
	levels := []kernelLevel{levelRef}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		levels = append(levels, levelAVX2)
		if cpu.X86.HasAVX512F {
			levels = append(levels, levelAVX512)
		}
	}
	return levels
}

// kernelsFor returns the kernel set of level l.
func kernelsFor(l kernelLevel) kernelSet {
	switch l {
	case levelRef:
		return refKernels
	case levelAVX2:
		return avx2Kernels
	case levelAVX512:
		return avx512Kernels
	}
	panic(fmt.Sprintf("torchinit: unknown kernel level %d", int(l)))
}

var avx2Kernels = kernelSet{
	mtBlock: mtBlockAVX2,
	normalAVX2: func(dst []float32, src []uint32, mean, std float32) {
		normalBlocks(dst, src, mean, std, normalAVX2AVX2, nil)
	},
	normalDefault: func(dst []float32, src []uint32, mean, std float32) {
		normalBlocks(dst, src, mean, std, normalDefaultAVX2, nil)
	},
	uniformFused: func(dst []float32, src []uint32, lo, span float32) {
		uniformVectors(dst, src, lo, span, 8, uniformFusedAVX2, uniformFusedRef)
	},
	uniformPlain: func(dst []float32, src []uint32, lo, span float32) {
		uniformVectors(dst, src, lo, span, 8, uniformPlainAVX2, uniformPlainRef)
	},
}

var avx512Kernels = kernelSet{
	mtBlock: mtBlockAVX512,
	normalAVX2: func(dst []float32, src []uint32, mean, std float32) {
		normalBlocks(dst, src, mean, std, normalAVX2AVX2, normalAVX2AVX512)
	},
	normalDefault: func(dst []float32, src []uint32, mean, std float32) {
		normalBlocks(dst, src, mean, std, normalDefaultAVX2, normalDefaultAVX512)
	},
	uniformFused: func(dst []float32, src []uint32, lo, span float32) {
		uniformVectors(dst, src, lo, span, 16, uniformFusedAVX512, uniformFusedRef)
	},
	uniformPlain: func(dst []float32, src []uint32, lo, span float32) {
		uniformVectors(dst, src, lo, span, 16, uniformPlainAVX512, uniformPlainRef)
	},
}

type normalFunc = func(dst []float32, src []uint32, mean, std float32)

// normalBlocks runs a normal kernel on the blocks of src: pairs is an
// AVX-512 kernel that takes two blocks at a time (nil for AVX2), and one
// takes a block at a time, for the AVX2 kernels and the last odd block of
// the AVX-512 ones.
func normalBlocks(dst []float32, src []uint32, mean, std float32, one, pairs normalFunc) {
	if len(src)%blockSize != 0 {
		panic("torchinit: normal kernel on a partial block")
	}
	dst = dst[:len(src)] // the kernels write exactly this much
	if pairs != nil {
		n := len(src) &^ (2*blockSize - 1)
		pairs(dst[:n], src[:n], mean, std)
		dst, src = dst[n:], src[n:]
	}
	if len(src) > 0 {
		one(dst, src, mean, std)
	}
}

// uniformVectors runs a uniform kernel taking vectors of width lanes on
// src, and the reference on what is left.
func uniformVectors(dst []float32, src []uint32, lo, span float32, lanes int, vec, ref func(dst []float32, src []uint32, lo, span float32)) {
	dst = dst[:len(src)]
	n := len(src) &^ (lanes - 1)
	if n > 0 {
		vec(dst[:n], src[:n], lo, span)
	}
	ref(dst[n:], src[n:], lo, span)
}
