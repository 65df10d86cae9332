//go:build amd64 && gc && !noasm

package kernel

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/cpu"

	"github.com/embstore/embstore/format"
)

//go:generate go -C _generate run .

// The amd64 kernels (gather_amd64.s, written by the avo generator in
// _generate; their declarations are in gather_stubs_amd64.go) each handle
// one chunk in one call: a dtype, with or without positional rows, or a
// pooling mode. Each checks every id against the table's rows as it reads
// it (the backstop of "Who checks what"), and returns the index of the
// first one outside it, or -1.

type (
	gatherFunc    func(dst []float32, ids []int64, base *byte, stride, rows, dim, rowBytes, pfDist int) int
	gatherPosFunc func(dst []float32, ids []int64, base *byte, stride, rows, dim, rowBytes, pfDist int, pos *byte, posStride, seqLen, phase int) int
	bagFunc       func(out []float32, ids []int64, base *byte, stride, rows, dim, rowBytes, pfDist int, pad int64) int
	bagWFunc      func(out []float32, ids []int64, weights []float32, base *byte, stride, rows, dim, rowBytes, pfDist int, pad int64) int
)

// asmKernels are one level's kernels, indexed by format.DType.
type asmKernels struct {
	gather    [format.Int8 + 1]gatherFunc
	gatherPos [format.Int8 + 1]gatherPosFunc
	sum, max  [format.Int8 + 1]bagFunc
	wsum      [format.Int8 + 1]bagWFunc
}

var kernelsAVX2 = asmKernels{
	gather:    [...]gatherFunc{format.F32: gatherF32AVX2, format.F16: gatherF16AVX2, format.BF16: gatherBF16AVX2, format.Int8: gatherInt8AVX2},
	gatherPos: [...]gatherPosFunc{format.F32: gatherF32PosAVX2, format.F16: gatherF16PosAVX2, format.BF16: gatherBF16PosAVX2, format.Int8: gatherInt8PosAVX2},
	sum:       [...]bagFunc{format.F32: bagF32SumAVX2, format.F16: bagF16SumAVX2, format.BF16: bagBF16SumAVX2, format.Int8: bagInt8SumAVX2},
	max:       [...]bagFunc{format.F32: bagF32MaxAVX2, format.F16: bagF16MaxAVX2, format.BF16: bagBF16MaxAVX2, format.Int8: bagInt8MaxAVX2},
	wsum:      [...]bagWFunc{format.F32: bagF32WSumAVX2, format.F16: bagF16WSumAVX2, format.BF16: bagBF16WSumAVX2, format.Int8: bagInt8WSumAVX2},
}

var kernelsAVX512 = asmKernels{
	gather:    [...]gatherFunc{format.F32: gatherF32AVX512, format.F16: gatherF16AVX512, format.BF16: gatherBF16AVX512, format.Int8: gatherInt8AVX512},
	gatherPos: [...]gatherPosFunc{format.F32: gatherF32PosAVX512, format.F16: gatherF16PosAVX512, format.BF16: gatherBF16PosAVX512, format.Int8: gatherInt8PosAVX512},
	sum:       [...]bagFunc{format.F32: bagF32SumAVX512, format.F16: bagF16SumAVX512, format.BF16: bagBF16SumAVX512, format.Int8: bagInt8SumAVX512},
	max:       [...]bagFunc{format.F32: bagF32MaxAVX512, format.F16: bagF16MaxAVX512, format.BF16: bagBF16MaxAVX512, format.Int8: bagInt8MaxAVX512},
	wsum:      [...]bagWFunc{format.F32: bagF32WSumAVX512, format.F16: bagF16WSumAVX512, format.BF16: bagBF16WSumAVX512, format.Int8: bagInt8WSumAVX512},
}

func init() {
	levels := supportedLevels()
	setKernels(levels[len(levels)-1])
}

// supportedLevels returns the kernel levels this CPU can run, slowest
// first.
func supportedLevels() []kernelLevel {
	levels := []kernelLevel{levelRef}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C {
		levels = append(levels, levelAVX2)
		if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL {
			levels = append(levels, levelAVX512)
		}
	}
	return levels
}

// setKernels installs the inner functions of level l.
func setKernels(l kernelLevel) {
	switch l {
	case levelRef:
		gatherChunk, bagChunk = gatherChunkRef, bagChunkRef
	case levelAVX2:
		gatherChunk, bagChunk = kernelsAVX2.gatherChunk, kernelsAVX2.bagChunk
	case levelAVX512:
		gatherChunk, bagChunk = kernelsAVX512.gatherChunk, kernelsAVX512.bagChunk
	default:
		panic(fmt.Sprintf("kernel: unknown level %d", int(l)))
	}
}

// Software prefetching: while a kernel reads row ids[j], it prefetches
// every 64-byte line of row ids[j+d]. d is prefetchRows, raised for small
// rows to keep prefetchMinAhead bytes ahead (at most 16 rows), lowered for
// big rows to keep at most prefetchBudget bytes ahead (at least 2 rows),
// and 0 (no prefetching) for rows of prefetchMaxRowBytes or more, which
// gain nothing from it. BenchmarkKernelPrefetch measured the choice (see
// BENCHMARKS.md); they are variables so that it can vary them.
var (
	prefetchRows        = 8
	prefetchMinAhead    = 1 << 10
	prefetchBudget      = 12 << 10
	prefetchMaxRowBytes = 4 << 10
)

// prefetchDistance returns how many rows ahead to prefetch rows of
// rowBytes bytes; 0 means none.
func prefetchDistance(rowBytes int) int {
	if rowBytes >= prefetchMaxRowBytes {
		return 0
	}
	d := prefetchRows
	if rowBytes*d < prefetchMinAhead {
		return min(16, prefetchMinAhead/rowBytes)
	}
	return max(2, min(d, prefetchBudget/rowBytes))
}

func (k *asmKernels) gatherChunk(dst []float32, t *Table, ids []int64, pos *Table, seq Sequence) int {
	if len(ids) == 0 {
		return -1
	}
	if !t.plain() {
		return gatherChunkRef(dst, t, ids, pos, seq)
	}
	_ = dst[len(ids)*t.dim-1] // the kernels write exactly this much
	rowBytes := int(t.dtype.RowSize(t.dim))
	base := unsafe.SliceData(t.data)
	d := prefetchDistance(rowBytes)
	if pos == nil {
		return k.gather[t.dtype](dst, ids, base, t.stride, int(t.rows), t.dim, rowBytes, d)
	}
	p := &pos.data[seq.Start*int64(pos.stride)]
	return k.gatherPos[t.dtype](dst, ids, base, t.stride, int(t.rows), t.dim, rowBytes, d, p, pos.stride, seq.Len, seq.Phase)
}

func (k *asmKernels) bagChunk(out []float32, t *Table, ids []int64, weights []float32, mode BagMode, pad int64) int {
	if len(ids) == 0 {
		return -1
	}
	if !t.plain() {
		return bagChunkRef(out, t, ids, weights, mode, pad)
	}
	out = out[:t.dim]
	rowBytes := int(t.dtype.RowSize(t.dim))
	base := unsafe.SliceData(t.data)
	d := prefetchDistance(rowBytes)
	switch {
	case mode == BagMax:
		return k.max[t.dtype](out, ids, base, t.stride, int(t.rows), t.dim, rowBytes, d, pad)
	case weights != nil:
		return k.wsum[t.dtype](out, ids, weights[:len(ids)], base, t.stride, int(t.rows), t.dim, rowBytes, d, pad)
	}
	return k.sum[t.dtype](out, ids, base, t.stride, int(t.rows), t.dim, rowBytes, d, pad)
}
