package cluster

import (
	"context"
	"testing"

	"github.com/embstore/embstore/client"
	"github.com/embstore/embstore/format"
)

// BenchmarkLookup1 compares one-id lookups through the cluster client (two
// shards, one replica each) with the plain client asking the replica that
// holds the id: the cluster client's own cost per call.
func BenchmarkLookup1(b *testing.B) {
	t := &testing.T{}
	entries, reps, _ := shardCluster(t, format.Layout{Rows: 1000, Dim: 256}, 1, 2, 1, 1)
	_, tab := testCluster(t, Options{}, entries)
	var direct *client.Table
	for _, e := range entries {
		if e.Shard == 0 {
			direct, _ = client.Open(context.Background(), reps[0][0].url, e.Served, nil)
		}
	}
	ctx := context.Background()
	dst := make([]float32, 256)
	ids := []int64{7}
	b.Run("cluster", func(b *testing.B) {
		for b.Loop() {
			if err := tab.Lookup(ctx, dst, ids); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("client", func(b *testing.B) {
		for b.Loop() {
			if err := direct.Lookup(ctx, dst, ids); err != nil {
				b.Fatal(err)
			}
		}
	})
}
