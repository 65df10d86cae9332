package kernel

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkKernelDot measures Dot at every supported level over a table of
// 300-value rows (word vectors' width): "hot" (512 rows, in L2) for the
// arithmetic, "cold" (256 Ki rows: 300 MiB as f32, far larger than the L3)
// for the memory, with 1, 8 and 64 queries and the squared norms. Each op
// is one pass over the table; rows/s counts rows, GB/s the row bytes read.
//
//	go test -run '^$' -bench 'KernelDot' -count 5 ./kernel/ > dot.txt
//	benchstat -col /level -row /table,/dtype,/queries dot.txt
func BenchmarkKernelDot(b *testing.B) {
	const dim = 300
	for _, table := range []string{"hot", "cold"} {
		rows := int64(hotRows)
		if table == "cold" {
			rows = 256 << 10
		}
		for _, d := range allDTypes {
			tab := benchTable(b, d, dim, rows)
			for _, nq := range []int{1, 8, 64} {
				rng := rand.New(rand.NewPCG(1, uint64(nq)))
				var qs Queries
				qs.Set(randomQueries(rng, nq, dim, 0), dim)
				const block = 512
				dst := make([]float32, nq*block)
				sq := make([]float32, block)
				scratch := make([]float32, DotScratch(dim))
				for _, l := range supportedLevels() {
					if l == levelRef && table == "cold" {
						continue // minutes per pass
					}
					for _, norms := range []bool{true, false} {
						name := fmt.Sprintf("table=%s/dtype=%s/queries=%d/level=%s/norms=%v", table, d, nq, l, norms)
						b.Run(name, func(b *testing.B) {
							defer useDotKernels(l)()
							sq := sq
							if !norms {
								sq = nil
							}
							b.SetBytes(rows * d.RowSize(dim))
							for b.Loop() {
								for lo := int64(0); lo < rows; lo += block {
									n := int(min(block, rows-lo))
									if err := Dot(dst, sq, tab, lo, n, &qs, scratch); err != nil {
										b.Fatal(err)
									}
								}
							}
							b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
							b.ReportMetric(float64(rows)*float64(nq)*float64(b.N)/b.Elapsed().Seconds(), "dots/s")
						})
					}
				}
			}
		}
	}
}
