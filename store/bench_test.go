package store

import (
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/embstore/embstore/format"
)

// benchTable writes a 50257 x 768 table (GPT-2's shape: 154 MB in f32, far
// larger than the L3 cache) of dtype d with a 1024-row positional table.
func benchTable(b *testing.B, d format.DType) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.emb")
	fw, err := format.Create(path, format.Layout{Rows: 50257, Dim: 768, DType: d, Positions: 1024})
	if err != nil {
		b.Fatal(err)
	}
	defer fw.Abort()
	rng := rand.New(rand.NewPCG(1, 2))
	row := make([]float32, 768*64)
	for r := 0; r < 50257; r += 64 {
		n := min(64, 50257-r)
		for i := range row[:n*768] {
			row[i] = float32(rng.NormFloat64())
		}
		if err := fw.WriteTokens(row[:n*768]); err != nil {
			b.Fatal(err)
		}
	}
	for r := 0; r < 1024; r += 64 {
		if err := fw.WritePositions(row[:64*768]); err != nil {
			b.Fatal(err)
		}
	}
	if err := fw.Commit(); err != nil {
		b.Fatal(err)
	}
	return path
}

// benchIDs returns a ring of uniform random ids, large enough that batches
// keep missing the cache as they would on a big vocabulary.
func benchIDs(rows int64) []int64 {
	rng := rand.New(rand.NewPCG(3, 4))
	ids := make([]int64, 1<<20)
	for i := range ids {
		ids[i] = rng.Int64N(rows)
	}
	return ids
}

// BenchmarkLookup measures batches of 8192 random ids from a table much
// larger than the cache, per dtype and thread count, without and with the
// positional table (the batch as 8 sequences of 1024).
func BenchmarkLookup(b *testing.B) {
	ring := benchIDs(50257)
	for _, d := range []format.DType{format.F32, format.BF16, format.Int8} {
		path := benchTable(b, d)
		for _, threads := range []int{1, 2} {
			tab, err := Open(path, &Options{Threads: threads})
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]float32, 8192*768)
			for _, pos := range []bool{false, true} {
				name := d.String() + "/threads=" + strconv.Itoa(threads)
				if pos {
					name += "/positions"
				}
				b.Run(name, func(b *testing.B) {
					next := 0
					b.SetBytes(8192 * 768 * 4)
					for b.Loop() {
						ids := ring[next : next+8192]
						if next += 8192; next+8192 > len(ring) {
							next = 0
						}
						var err error
						if pos {
							err = tab.LookupPositions(dst, ids, 1024, 0)
						} else {
							err = tab.Lookup(dst, ids)
						}
						if err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N)*8192/b.Elapsed().Seconds(), "rows/s")
				})
			}
			tab.Close()
		}
	}
}

// BenchmarkBag measures bag mean over 8192 random ids in 256 bags of 32.
func BenchmarkBag(b *testing.B) {
	ring := benchIDs(50257)
	path := benchTable(b, format.F32)
	offsets := make([]int64, 256)
	for i := range offsets {
		offsets[i] = int64(32 * i)
	}
	for _, threads := range []int{1, 2} {
		tab, err := Open(path, &Options{Threads: threads})
		if err != nil {
			b.Fatal(err)
		}
		dst := make([]float32, 256*768)
		b.Run("f32/mean/threads="+strconv.Itoa(threads), func(b *testing.B) {
			next := 0
			for b.Loop() {
				ids := ring[next : next+8192]
				if next += 8192; next+8192 > len(ring) {
					next = 0
				}
				if err := tab.Bag(dst, ids, offsets, &BagOptions{Mode: BagMean}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*8192/b.Elapsed().Seconds(), "rows/s")
		})
		tab.Close()
	}
}

// BenchmarkLookupSmall measures the per-call cost of small calls on one
// goroutine (argument checks, entering the table, the kernel's set-up), on
// a table that stays in cache: Lookup, LookupPositions and Bag (mean, bags
// of 4) of 1, 16 and 256 ids.
func BenchmarkLookupSmall(b *testing.B) {
	path := filepath.Join(b.TempDir(), "small.emb")
	fw, err := format.Create(path, format.Layout{Rows: 4096, Dim: 256, Positions: 256})
	if err != nil {
		b.Fatal(err)
	}
	vals := make([]float32, 4096*256)
	for i := range vals {
		vals[i] = float32(i%1000) * 0.001
	}
	if err := fw.WriteTokens(vals); err != nil {
		b.Fatal(err)
	}
	if err := fw.WritePositions(vals[:256*256]); err != nil {
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
	ring := benchIDs(4096)
	for _, n := range []int{1, 16, 256} {
		dst := make([]float32, n*256)
		offsets := make([]int64, (n+3)/4)
		for i := range offsets {
			offsets[i] = int64(4 * i)
		}
		for _, call := range []string{"lookup", "positions", "bag"} {
			b.Run(call+"/batch="+strconv.Itoa(n), func(b *testing.B) {
				next := 0
				for b.Loop() {
					ids := ring[next : next+n]
					if next += n; next+n > len(ring) {
						next = 0
					}
					var err error
					switch call {
					case "lookup":
						err = tab.Lookup(dst, ids)
					case "positions":
						err = tab.LookupPositions(dst, ids, n, 0)
					default:
						err = tab.Bag(dst[:len(offsets)*256], ids, offsets, &BagOptions{Mode: BagMean})
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
