package kernel

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/embstore/embstore/format"
)

// buildRows encodes rows x dim random values as dtype d with the writer's
// stride and returns the table and the values each row decodes to.
func buildRows(t testing.TB, rng *rand.Rand, rows int64, dim int, d format.DType) (*Table, [][]float32) {
	t.Helper()
	stride := int(format.RowStride(d, dim))
	data := make([]byte, int(rows)*stride)
	want := make([][]float32, rows)
	src := make([]float32, dim)
	for r := range rows {
		for i := range src {
			src[i] = float32(rng.NormFloat64())
		}
		row := data[int(r)*stride:]
		if _, err := format.EncodeRow(row, src, d); err != nil {
			t.Fatal(err)
		}
		want[r] = make([]float32, dim)
		format.DecodeRow(want[r], row, d)
	}
	return &Table{Data: data, Rows: rows, Dim: dim, Stride: stride, DType: d}, want
}

func TestGatherMatchesDecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, d := range []format.DType{format.F32, format.F16, format.BF16, format.Int8} {
		for _, dim := range []int{1, 3, 8, 17, 64, 300} {
			tab, want := buildRows(t, rng, 50, dim, d)
			ids := make([]int64, 700) // several chunks for small dims
			for i := range ids {
				ids[i] = rng.Int64N(tab.Rows)
			}
			dst := make([]float32, len(ids)*dim)
			bad, err := Gather(dst, tab, ids, nil)
			if err != nil || bad != -1 {
				t.Fatalf("%s dim %d: Gather = %d, %v", d, dim, bad, err)
			}
			for i, id := range ids {
				for j := range dim {
					if math.Float32bits(dst[i*dim+j]) != math.Float32bits(want[id][j]) {
						t.Fatalf("%s dim %d: dst[%d][%d] = %v, want %v", d, dim, i, j, dst[i*dim+j], want[id][j])
					}
				}
			}
		}
	}
}

func TestGatherPositions(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	dim := 5
	tab, want := buildRows(t, rng, 20, dim, format.F32)
	ptab, pwant := buildRows(t, rng, 12, dim, format.F32)
	seqLen, start := 4, int64(3)
	ids := make([]int64, 3*seqLen*1000) // enough to span chunks
	for i := range ids {
		ids[i] = rng.Int64N(20)
	}
	for _, phase := range []int{0, 1, 3} {
		dst := make([]float32, len(ids)*dim)
		pos := &Positions{Data: ptab.Data, Rows: ptab.Rows, Stride: ptab.Stride, Start: start, SeqLen: seqLen, Phase: phase}
		if bad, err := Gather(dst, tab, ids, pos); bad != -1 || err != nil {
			t.Fatal(bad, err)
		}
		for i, id := range ids {
			p := start + int64((phase+i)%seqLen)
			for j := range dim {
				w := want[id][j] + pwant[p][j]
				if math.Float32bits(dst[i*dim+j]) != math.Float32bits(w) {
					t.Fatalf("phase %d: dst[%d][%d] = %v, want %v", phase, i, j, dst[i*dim+j], w)
				}
			}
		}
	}
}

func TestGatherScale(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	tab, want := buildRows(t, rng, 10, 7, format.BF16)
	ids := []int64{3, 0, 9}
	for _, rounding := range []format.DType{0, format.BF16, format.F16} {
		tab.Scale, tab.ComputeDType = 45.25, rounding
		dst := make([]float32, len(ids)*7)
		if bad, err := Gather(dst, tab, ids, nil); bad != -1 || err != nil {
			t.Fatal(bad, err)
		}
		for i, id := range ids {
			for j := range 7 {
				w := Round(Round(want[id][j], rounding)*45.25, rounding)
				if math.Float32bits(dst[i*7+j]) != math.Float32bits(w) {
					t.Fatalf("rounding %v: got %v want %v", rounding, dst[i*7+j], w)
				}
			}
		}
	}
}

func TestGatherBadIDs(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	tab, _ := buildRows(t, rng, 10, 4, format.F32)
	for _, c := range []struct {
		ids []int64
		bad int
	}{
		{[]int64{0, 9, 10}, 2},
		{[]int64{-1}, 0},
		{[]int64{1, math.MinInt64, 3}, 1},
		{[]int64{1, 2, math.MaxInt64}, 2},
	} {
		dst := make([]float32, len(c.ids)*4)
		for i := range dst {
			dst[i] = 42
		}
		bad, err := Gather(dst, tab, c.ids, nil)
		if err != nil || bad != c.bad {
			t.Errorf("Gather(%v) = %d, %v; want %d", c.ids, bad, err, c.bad)
		}
		for _, v := range dst {
			if v != 42 {
				t.Fatalf("Gather(%v) wrote output before failing", c.ids)
			}
		}
	}
}

func TestGatherBadArguments(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	tab, _ := buildRows(t, rng, 10, 4, format.F32)
	short := *tab
	short.Data = short.Data[:len(short.Data)-1]
	ptab, _ := buildRows(t, rng, 3, 4, format.F32)
	for name, f := range map[string]func() error{
		"short output": func() error { _, err := Gather(make([]float32, 3), tab, []int64{1}, nil); return err },
		"short data":   func() error { _, err := Gather(make([]float32, 4), &short, []int64{1}, nil); return err },
		"positions past table": func() error {
			p := &Positions{Data: ptab.Data, Rows: 3, Stride: ptab.Stride, Start: 1, SeqLen: 3}
			_, err := Gather(make([]float32, 4), tab, []int64{1}, p)
			return err
		},
		"zero seq len": func() error {
			p := &Positions{Data: ptab.Data, Rows: 3, Stride: ptab.Stride}
			_, err := Gather(make([]float32, 4), tab, []int64{1}, p)
			return err
		},
	} {
		if err := f(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func BenchmarkGather(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, d := range []format.DType{format.F32, format.F16, format.BF16, format.Int8} {
		tab, _ := buildRows(b, rng, 50257, 256, d)
		ids := make([]int64, 4096)
		for i := range ids {
			ids[i] = rng.Int64N(tab.Rows)
		}
		dst := make([]float32, len(ids)*256)
		b.Run(d.String(), func(b *testing.B) {
			b.SetBytes(int64(len(ids)) * 256 * 4)
			for b.Loop() {
				Gather(dst, tab, ids, nil)
			}
			b.ReportMetric(float64(b.N)*float64(len(ids))/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// TestGatherComputeDType checks the lookup arithmetic of a table computed in
// f16 or bf16 (format specification, "Lookups"): row values, scaled
// products and positional sums each rounded to the compute dtype.
func TestGatherComputeDType(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	dim := 9
	tab, want := buildRows(t, rng, 30, dim, format.F32)
	ptab, pwant := buildRows(t, rng, 6, dim, format.F32)
	ids := []int64{4, 29, 0, 4, 7, 11}
	for _, c := range []format.DType{format.BF16, format.F16} {
		for _, scale := range []float32{1, 6.928203} {
			tab.Scale, tab.ComputeDType = scale, c
			dst := make([]float32, len(ids)*dim)
			pos := &Positions{Data: ptab.Data, Rows: ptab.Rows, Stride: ptab.Stride, Start: 1, SeqLen: 3}
			if bad, err := Gather(dst, tab, ids, pos); bad != -1 || err != nil {
				t.Fatal(bad, err)
			}
			for i, id := range ids {
				for j := range dim {
					v := Round(want[id][j], c)
					if scale != 1 {
						v = Round(v*scale, c)
					}
					v = Round(v+Round(pwant[1+i%3][j], c), c)
					if math.Float32bits(dst[i*dim+j]) != math.Float32bits(v) {
						t.Fatalf("%s scale %v: value [%d][%d] = %v, want %v", c, scale, i, j, dst[i*dim+j], v)
					}
				}
			}
		}
	}
	tab.Scale, tab.ComputeDType = 1, format.Int8
	if _, err := Gather(make([]float32, dim), tab, []int64{0}, nil); err == nil {
		t.Fatal("compute dtype int8 accepted")
	}
}
