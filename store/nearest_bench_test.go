package store

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/embstore/embstore/format"
)

// BenchmarkNearest searches a 262144 x 300 table (word vectors' width;
// 300 MiB as f32, far larger than the L3 cache, mapped with MapPopulate)
// for the top 10 by cosine, per dtype, threads and queries per pass. Each
// op is one pass: one query (Nearest) or 64 (NearestBatch). The 1 M-row
// comparison with numpy and gensim is bench/compare_nearest.py.
func BenchmarkNearest(b *testing.B) {
	const rows, dim = 262144, 300
	for _, d := range []format.DType{format.F32, format.F16, format.BF16, format.Int8} {
		path := filepath.Join(b.TempDir(), "nearest.emb")
		fw, err := format.Create(path, format.Layout{Rows: rows, Dim: dim, DType: d})
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		buf := make([]float32, 4096*dim)
		for r := 0; r < rows; r += 4096 {
			for i := range buf {
				buf[i] = float32(rng.NormFloat64())
			}
			if err := fw.WriteTokens(buf); err != nil {
				b.Fatal(err)
			}
		}
		if err := fw.Commit(); err != nil {
			b.Fatal(err)
		}
		for _, threads := range []int{1, 2} {
			tab, err := Open(path, &Options{Threads: threads, Mode: MapPopulate})
			if err != nil {
				b.Fatal(err)
			}
			for _, nq := range []int{1, 64} {
				queries := make([]float32, nq*dim)
				for i := range queries {
					queries[i] = float32(rng.NormFloat64())
				}
				dst := make([]Neighbour, nq*10)
				counts := make([]int, nq)
				b.Run(fmt.Sprintf("dtype=%s/threads=%d/queries=%d", d, threads, nq), func(b *testing.B) {
					b.SetBytes(rows * d.RowSize(dim))
					for b.Loop() {
						if err := tab.NearestBatch(dst, counts, queries, 10, nil); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(nq)*float64(b.N)/b.Elapsed().Seconds(), "queries/s")
				})
			}
			tab.Close()
		}
	}
}
