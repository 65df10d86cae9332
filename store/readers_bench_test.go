package store

import (
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/embstore/embstore/format"
)

// BenchmarkLookupBatch1Parallel measures what a server answering one id per
// request pays: every goroutine looks up one row at a time from a small f32
// table (the rows stay in cache, so what is left is the per-call cost,
// including entering and leaving the table). Run it with -cpu 1,2,... : with
// a shared reader lock the time per call grows with the goroutines, with
// per-goroutine stripes it stays flat.
func BenchmarkLookupBatch1Parallel(b *testing.B) {
	path := filepath.Join(b.TempDir(), "small.emb")
	fw, err := format.Create(path, format.Layout{Rows: 1024, Dim: 64})
	if err != nil {
		b.Fatal(err)
	}
	if err := fw.WriteTokens(make([]float32, 1024*64)); err != nil {
		b.Fatal(err)
	}
	if err := fw.Commit(); err != nil {
		b.Fatal(err)
	}
	tab, err := Open(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tab.Close()
	var seed atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ids := []int64{seed.Add(97) % 1024}
		dst := make([]float32, 64)
		for pb.Next() {
			if err := tab.Lookup(dst, ids); err != nil {
				b.Error(err)
				return
			}
			ids[0] = (ids[0] + 1) & 1023
		}
	})
}

// BenchmarkEnterLeave compares, side by side in one process, what entering
// and leaving a table costs per call with the sync.RWMutex the store used
// before (RLock, check closed, RUnlock) and with its striped reader counts,
// from parallel goroutines (-cpu 1,2,...). It isolates the bookkeeping from
// the gather that BenchmarkLookupBatch1Parallel includes.
func BenchmarkEnterLeave(b *testing.B) {
	b.Run("rwmutex", func(b *testing.B) {
		var mu sync.RWMutex
		closed := false
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				mu.RLock()
				if closed {
					b.Error("closed")
				}
				mu.RUnlock()
			}
		})
	})
	b.Run("stripes", func(b *testing.B) {
		r := newReaders()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s := r.enter()
				if s == nil {
					b.Error("closed")
				}
				s.leave()
			}
		})
	})
}
