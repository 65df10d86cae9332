package kernel

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/embstore/embstore/format"
)

// Benchmarks of the inner kernels at every supported level, on a table
// that fits in L2 ("hot", 512 rows of 256 values) and on one far larger
// than the last-level cache ("cold", 1M rows of 256 values: 1 GiB as f32),
// with batches of 8192 uniform random ids. Cold runs cycle through 64
// batches (512 Mi rows' worth of bytes for f32) so that rows are not
// served from the cache. Results are named key=value for benchstat, e.g.
//
//	go test -run '^$' -bench 'Kernel' -count 5 ./kernel/ > new.txt
//	benchstat -col /level -row /table,/dtype new.txt

var coldPages = flag.String("coldpages", "huge", "pages backing the cold benchmark tables: huge (transparent huge pages) or small")

const (
	benchDim     = 256
	benchBatch   = 8192
	benchBatches = 64
	hotRows      = 512
	coldRows     = 1 << 20
)

// benchTable caches tables by shape across benchmarks: a cold table is
// built once per process.
var benchTables = map[string]*Table{}

func benchTable(b *testing.B, d format.DType, dim int, rows int64) *Table {
	key := fmt.Sprintf("%s/%d/%d/%s", d, dim, rows, *coldPages)
	if t, ok := benchTables[key]; ok {
		return t
	}
	rng := rand.New(rand.NewPCG(uint64(d), uint64(rows)))
	stride := int(format.RowStride(d, dim))
	size := int(rows) * stride
	var data []byte
	if rows > hotRows {
		if *coldPages != "huge" && *coldPages != "small" {
			b.Fatalf("-coldpages %q: want huge or small", *coldPages)
		}
		data, _ = bigBuffer(b, size, *coldPages == "huge") // kept for the process
	} else {
		data = make([]byte, size)
	}
	// Distinct random rows for the first block, copies after it: the bytes
	// do not change the speed, and filling 1 GiB row by row would.
	block := min(int(rows), 4096) * stride
	for r := range min(int(rows), 4096) {
		fillRow(rng, data[r*stride:], d, dim, 0)
	}
	for off := block; off < size; off += block {
		copy(data[off:], data[:block])
	}
	t := tableOf(b, data, TableSpec{Rows: rows, Dim: dim, Stride: stride, DType: d})
	benchTables[key] = t
	return t
}

// benchIDs returns benchBatches batches of uniform random ids.
func benchIDs(rows int64) [][]int64 {
	rng := rand.New(rand.NewPCG(7, uint64(rows)))
	batches := make([][]int64, benchBatches)
	for i := range batches {
		batches[i] = make([]int64, benchBatch)
		for j := range batches[i] {
			batches[i][j] = rng.Int64N(rows)
		}
	}
	return batches
}

type benchShape struct {
	name string
	rows int64
}

var benchShapes = []benchShape{{"hot", hotRows}, {"cold", coldRows}}

// reportRows adds rows/s and the bandwidth of the row bytes read.
func reportRows(b *testing.B, rows int, rowBytes int64) {
	b.SetBytes(int64(rows) * rowBytes)
	b.ReportMetric(float64(b.N)*float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkKernelGather measures Gather per table, dtype, level, with and
// without positional rows (a 128-position table, in cache).
func BenchmarkKernelGather(b *testing.B) {
	pos := &posArg{tab: tableOf(b, make([]byte, 128*benchDim*4), TableSpec{Rows: 128, Dim: benchDim, Stride: benchDim * 4, DType: format.F32}),
		seq: Sequence{Len: 128}}
	dst := make([]float32, benchBatch*benchDim)
	for _, sh := range benchShapes {
		batches := benchIDs(sh.rows)
		for _, d := range allDTypes {
			for _, withPos := range []bool{false, true} {
				for _, l := range supportedLevels() {
					name := fmt.Sprintf("table=%s/dtype=%s/pos=%v/level=%s", sh.name, d, onOff(withPos), l)
					b.Run(name, func(b *testing.B) {
						tab := benchTable(b, d, benchDim, sh.rows)
						p := (*posArg)(nil)
						if withPos {
							p = pos
						}
						defer useKernels(l)()
						i := 0
						for b.Loop() {
							if err := gatherPos(dst, tab, batches[i%benchBatches], p); err != nil {
								b.Fatal(err)
							}
							i++
						}
						reportRows(b, benchBatch, d.RowSize(benchDim))
					})
				}
			}
		}
	}
}

func onOff(v bool) string {
	if v {
		return "on"
	}
	return "off"
}

// BenchmarkKernelBag measures Bag with 8192 ids as 256 bags of 32.
func BenchmarkKernelBag(b *testing.B) {
	const bagLen = 32
	offsets := make([]int64, benchBatch/bagLen)
	for i := range offsets {
		offsets[i] = int64(i * bagLen)
	}
	dst := make([]float32, len(offsets)*benchDim)
	weights := make([]float32, benchBatch)
	for i := range weights {
		weights[i] = float32(i%7) * 0.25
	}
	for _, sh := range benchShapes {
		batches := benchIDs(sh.rows)
		for _, d := range allDTypes {
			for _, mode := range []string{"sum", "wsum", "mean", "max"} {
				m, w := map[string]BagMode{"sum": BagSum, "wsum": BagSum, "mean": BagMean, "max": BagMax}[mode], []float32(nil)
				if mode == "wsum" {
					w = weights
				}
				for _, l := range supportedLevels() {
					name := fmt.Sprintf("table=%s/dtype=%s/mode=%s/level=%s", sh.name, d, mode, l)
					b.Run(name, func(b *testing.B) {
						tab := benchTable(b, d, benchDim, sh.rows)
						defer useKernels(l)()
						i := 0
						for b.Loop() {
							if err := bagOf(dst, tab, batches[i%benchBatches], offsets, m, w, -1); err != nil {
								b.Fatal(err)
							}
							i++
						}
						reportRows(b, benchBatch, d.RowSize(benchDim))
					})
				}
			}
		}
	}
}

// BenchmarkKernelColdSideBySide gathers one batch of each dtype (and one
// f32 batch with positional rows) in turn from the cold tables, timing
// each, so that the ratios it reports (x-per-f32, pos-cost) are measured
// under the same conditions even when the machine's load drifts.
func BenchmarkKernelColdSideBySide(b *testing.B) {
	pos := &posArg{tab: tableOf(b, make([]byte, 128*benchDim*4), TableSpec{Rows: 128, Dim: benchDim, Stride: benchDim * 4, DType: format.F32}),
		seq: Sequence{Len: 128}}
	dst := make([]float32, benchBatch*benchDim)
	batches := benchIDs(coldRows)
	for _, l := range supportedLevels() {
		b.Run("level="+l.String(), func(b *testing.B) {
			tabs := make([]*Table, len(allDTypes))
			for i, d := range allDTypes {
				tabs[i] = benchTable(b, d, benchDim, coldRows)
			}
			defer useKernels(l)()
			// Variants: the four dtypes, then f32 and bf16 with positions.
			type variant struct {
				name string
				tab  *Table
				pos  *posArg
			}
			vs := []variant{{"f32", tabs[0], nil}, {"f16", tabs[1], nil}, {"bf16", tabs[2], nil}, {"int8", tabs[3], nil},
				{"f32+pos", tabs[0], pos}, {"bf16+pos", tabs[2], pos}}
			spent := make([]time.Duration, len(vs))
			i := 0
			for b.Loop() {
				for k, v := range vs {
					start := time.Now()
					if err := gatherPos(dst, v.tab, batches[(i*len(vs)+k)%benchBatches], v.pos); err != nil {
						b.Fatal(err)
					}
					spent[k] += time.Since(start)
				}
				i++
			}
			rate := func(k int) float64 { return float64(b.N) * benchBatch / spent[k].Seconds() }
			for k, v := range vs {
				b.ReportMetric(rate(k), v.name+"-rows/s")
			}
			for k, v := range vs[1:4] {
				b.ReportMetric(rate(k+1)/rate(0), v.name+"/f32")
			}
			b.ReportMetric(spent[4].Seconds()/spent[0].Seconds()-1, "f32-pos-cost")
			b.ReportMetric(spent[5].Seconds()/spent[2].Seconds()-1, "bf16-pos-cost")
		})
	}
}
