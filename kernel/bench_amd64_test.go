//go:build amd64 && gc && !noasm

package kernel

import (
	"fmt"
	"testing"

	"github.com/embstore/embstore/format"
)

// BenchmarkKernelPrefetch measures cold gathers at the best level for a
// range of prefetch distances (rows ahead; 0 is none), on rows of 64 B to
// 4 KiB. It is how prefetchRows, prefetchMinAhead, prefetchBudget and
// prefetchMaxRowBytes were chosen.
func BenchmarkKernelPrefetch(b *testing.B) {
	levels := supportedLevels()
	best := levels[len(levels)-1]
	type shape struct {
		d    format.DType
		dim  int
		rows int64
	}
	shapes := []shape{
		{format.F32, 16, coldRows * 8},   // 64 B rows, 512 MiB
		{format.Int8, 256, coldRows},     // 264 B in 320 B strides
		{format.BF16, 256, coldRows},     // 512 B
		{format.F32, 256, coldRows},      // 1 KiB
		{format.F32, 768, coldRows / 8},  // 3 KiB rows, 384 MiB
		{format.F32, 1024, coldRows / 8}, // 4 KiB rows, 512 MiB
	}
	for _, s := range shapes {
		batches := benchIDs(s.rows)
		for _, dist := range []int{0, 2, 4, 8, 12, 16, 24, 32} {
			name := fmt.Sprintf("row=%dB/dist=%d", s.d.RowSize(s.dim), dist)
			b.Run(name, func(b *testing.B) {
				tab := benchTable(b, s.d, s.dim, s.rows)
				dst := make([]float32, benchBatch*s.dim)
				defer useKernels(best)()
				oldRows, oldAhead, oldBudget, oldMax := prefetchRows, prefetchMinAhead, prefetchBudget, prefetchMaxRowBytes
				defer func() {
					prefetchRows, prefetchMinAhead, prefetchBudget, prefetchMaxRowBytes = oldRows, oldAhead, oldBudget, oldMax
				}()
				prefetchRows, prefetchMinAhead, prefetchBudget, prefetchMaxRowBytes = dist, 0, 1<<30, 1<<30
				if dist == 0 {
					prefetchMaxRowBytes = 0
				}
				i := 0
				for b.Loop() {
					if err := Gather(dst, tab, batches[i%benchBatches]); err != nil {
						b.Fatal(err)
					}
					i++
				}
				reportRows(b, benchBatch, s.d.RowSize(s.dim))
			})
		}
	}
}
