//go:build linux

package store

import (
	"math/rand/v2"
	"testing"

	"github.com/embstore/embstore/format"
)

// BenchmarkPrefetchResident measures what Options.Prefetch costs when the
// rows are already in memory: a batch of 256 random rows of a 50257 x 256
// f32 table mapped with MapPopulate, looked up with and without prefetch,
// and the advice alone, vectored (process_madvise) and one madvise per run
// of pages.
func BenchmarkPrefetchResident(b *testing.B) {
	path, _, _ := writeTable(b, format.Layout{Rows: 50257, Dim: 256})
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]int64, 256)
	for i := range ids {
		ids[i] = rng.Int64N(50257)
	}
	dst := make([]float32, len(ids)*256)
	for _, prefetch := range []bool{false, true} {
		tab, err := Open(path, &Options{Mode: MapPopulate, Prefetch: prefetch})
		if err != nil {
			b.Fatal(err)
		}
		name := "lookup/prefetch=false"
		if prefetch {
			name = "lookup/prefetch=true"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if err := tab.Lookup(dst, ids); err != nil {
					b.Fatal(err)
				}
			}
		})
		if prefetch {
			p := tab.pf
			s := new(prefetchScratch)
			keys := s.keys[:0]
			for _, id := range ids {
				keys = append(keys, p.key(id))
			}
			rs := runs(s.runs[:0], keys)
			if p.vecOK {
				b.Run("advice/vectored", func(b *testing.B) {
					for b.Loop() {
						adviseWillNeedVec(p.data, rs, p.page)
					}
				})
			}
			b.Run("advice/per-run", func(b *testing.B) {
				for b.Loop() {
					for _, r := range rs {
						adviseWillNeed(p.data[r.first*p.page : (r.last+1)*p.page])
					}
				}
			})
		}
		tab.Close()
	}
}
