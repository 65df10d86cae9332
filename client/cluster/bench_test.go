package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/embstore/embstore/client"
	"github.com/embstore/embstore/format"
)

// BenchmarkLookup compares lookups through the cluster client (a table in
// two shards, one replica each, servers in this process) with the plain
// client asking one server of the whole table: the cluster client's cost
// per call, at batch 1 and 8192 of uniform random ids.
func BenchmarkLookup(b *testing.B) {
	t := &testing.T{}
	layout := format.Layout{Rows: 50257, Dim: 256}
	entries, _, _ := shardCluster(t, layout, 1, 2, 1, 1)
	_, tab := testCluster(t, Options{}, entries)
	whole, reps, _ := shardCluster(t, layout, 1, 1, 1, 1) // one shard: the whole table
	var direct *client.Table
	for _, e := range whole {
		direct, _ = client.Open(context.Background(), reps[0][0].url, e.Served, nil)
	}
	ctx := context.Background()
	for _, batch := range []int{1, 8192} {
		dst := make([]float32, batch*256)
		rng := rand.New(rand.NewPCG(1, 2))
		pool := make([][]int64, 64)
		for i := range pool {
			pool[i] = make([]int64, batch)
			for j := range pool[i] {
				pool[i][j] = rng.Int64N(layout.Rows)
			}
		}
		for _, c := range []struct {
			name string
			src  client.Source
		}{{"client", direct}, {"cluster", tab}} {
			b.Run(fmt.Sprintf("batch=%d/%s", batch, c.name), func(b *testing.B) {
				i := 0
				for b.Loop() {
					if err := c.src.Lookup(ctx, dst, pool[i%len(pool)]); err != nil {
						b.Fatal(err)
					}
					i++
				}
				b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}
