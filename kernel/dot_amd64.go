//go:build amd64 && gc && !noasm

package kernel

import (
	"fmt"
	"unsafe"

	"github.com/embstore/embstore/format"
)

// The amd64 dot-product kernels (dot_amd64.s, written by _generate/dot.go;
// their declarations are in dot_stubs_amd64.go) each take the rows of a
// block and one group of 1, 2, 4 or 8 queries (AVX2: 1, 2 or 4), and in
// their Norms variant the rows' squared norms too.

type dotFunc func(dst *float32, ldq int, sq *float32, base *byte, stride, n, dim int, q *float32, qcs, pf int)

// dotKernels are one level's kernels: fns[dtype][group size] holds the
// kernel without and with norms.
type dotKernels struct {
	sizes []int // group sizes, largest first
	fns   [format.Int8 + 1][dotGroup + 1][2]dotFunc
}

var dotKernelsAVX2 = dotKernels{
	sizes: []int{4, 2, 1},
	fns: [format.Int8 + 1][dotGroup + 1][2]dotFunc{
		format.F32:  {4: {dotF32Q4AVX2, dotF32Q4NormsAVX2}, 2: {dotF32Q2AVX2, dotF32Q2NormsAVX2}, 1: {dotF32Q1AVX2, dotF32Q1NormsAVX2}},
		format.F16:  {4: {dotF16Q4AVX2, dotF16Q4NormsAVX2}, 2: {dotF16Q2AVX2, dotF16Q2NormsAVX2}, 1: {dotF16Q1AVX2, dotF16Q1NormsAVX2}},
		format.BF16: {4: {dotBF16Q4AVX2, dotBF16Q4NormsAVX2}, 2: {dotBF16Q2AVX2, dotBF16Q2NormsAVX2}, 1: {dotBF16Q1AVX2, dotBF16Q1NormsAVX2}},
		format.Int8: {4: {dotInt8Q4AVX2, dotInt8Q4NormsAVX2}, 2: {dotInt8Q2AVX2, dotInt8Q2NormsAVX2}, 1: {dotInt8Q1AVX2, dotInt8Q1NormsAVX2}},
	},
}

var dotKernelsAVX512 = dotKernels{
	sizes: []int{8, 4, 2, 1},
	fns: [format.Int8 + 1][dotGroup + 1][2]dotFunc{
		format.F32:  {8: {dotF32Q8AVX512, dotF32Q8NormsAVX512}, 4: {dotF32Q4AVX512, dotF32Q4NormsAVX512}, 2: {dotF32Q2AVX512, dotF32Q2NormsAVX512}, 1: {dotF32Q1AVX512, dotF32Q1NormsAVX512}},
		format.F16:  {8: {dotF16Q8AVX512, dotF16Q8NormsAVX512}, 4: {dotF16Q4AVX512, dotF16Q4NormsAVX512}, 2: {dotF16Q2AVX512, dotF16Q2NormsAVX512}, 1: {dotF16Q1AVX512, dotF16Q1NormsAVX512}},
		format.BF16: {8: {dotBF16Q8AVX512, dotBF16Q8NormsAVX512}, 4: {dotBF16Q4AVX512, dotBF16Q4NormsAVX512}, 2: {dotBF16Q2AVX512, dotBF16Q2NormsAVX512}, 1: {dotBF16Q1AVX512, dotBF16Q1NormsAVX512}},
		format.Int8: {8: {dotInt8Q8AVX512, dotInt8Q8NormsAVX512}, 4: {dotInt8Q4AVX512, dotInt8Q4NormsAVX512}, 2: {dotInt8Q2AVX512, dotInt8Q2NormsAVX512}, 1: {dotInt8Q1AVX512, dotInt8Q1NormsAVX512}},
	},
}

func init() {
	levels := supportedLevels()
	setDotKernels(levels[len(levels)-1])
}

// setDotKernels installs the dot-product kernels of level l.
func setDotKernels(l kernelLevel) {
	switch l {
	case levelRef:
		dotRows = dotRowsRef
	case levelAVX2:
		dotRows = dotKernelsAVX2.dotRows
	case levelAVX512:
		dotRows = dotKernelsAVX512.dotRows
	default:
		panic(fmt.Sprintf("kernel: unknown level %d", int(l)))
	}
}

func (k *dotKernels) dotRows(dst []float32, ldq int, sq []float32, t *Table, lo int64, n int, qs *Queries, scratch []float32) {
	if n == 0 {
		return
	}
	dim, dt, stride := t.dim, t.dtype, t.stride
	var base *byte
	if t.plain() {
		base = &t.data[lo*int64(stride)]
	} else {
		// Rows as lookups return them, decoded into scratch (Dot passes at
		// most decodeRows(dim) rows), then taken as f32 rows.
		for r := range n {
			readRow(scratch[r*dim:(r+1)*dim], t, lo+int64(r))
		}
		base = (*byte)(unsafe.Pointer(&scratch[0]))
		dt, stride = format.F32, 4*dim
	}
	// Prefetch the next block while reading this one (more than the memory
	// latency ahead of the reads): the kernels read a block once per group
	// of queries, and with many queries the first read outlasts the
	// hardware's prefetching.
	pf := dotPrefetch(n, stride)
	// The kernels write exactly these.
	_ = dst[(qs.n-1)*ldq+n-1]
	var sqp *float32
	if sq != nil {
		_ = sq[n-1]
		sqp = &sq[0]
	}
	for g := 0; g < qs.n; g += dotGroup {
		gs := min(dotGroup, qs.n-g)
		at := qs.groupOffset(g)
		for off := 0; off < gs; {
			size := 1
			for _, s := range k.sizes {
				if s <= gs-off {
					size = s
					break
				}
			}
			norms := 0
			if sqp != nil {
				norms = 1
			}
			k.fns[dt][size][norms](&dst[(g+off)*ldq], ldq, sqp, base, stride, n, dim, &qs.packed[at+off*dotLanes], 4*gs*dotLanes, pf)
			sqp = nil // the first kernel has taken the norms
			off += size
		}
	}
}

// dotPrefetch returns how many bytes ahead of the rows they read the
// kernels prefetch, for blocks of n rows of stride bytes.
func dotPrefetch(n, stride int) int { return max(n*stride, 4<<10) }
