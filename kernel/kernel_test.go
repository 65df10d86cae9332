package kernel

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/embstore/embstore/format"
)

// tableOf returns NewTable(data, spec), failing t on error.
func tableOf(t testing.TB, data []byte, spec TableSpec) *Table {
	t.Helper()
	tab, err := NewTable(data, spec)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// withSpec returns tab over the same bytes with its spec changed by f.
func withSpec(t testing.TB, tab *Table, f func(*TableSpec)) *Table {
	t.Helper()
	spec := tab.Spec()
	f(&spec)
	return tableOf(t, tab.data, spec)
}

// A posArg is the positional side of a gather: a table and a sequence.
type posArg struct {
	tab *Table
	seq Sequence
}

// gatherPos is Gather, or GatherPositions when pos is not nil.
func gatherPos(dst []float32, tab *Table, ids []int64, pos *posArg) error {
	if pos == nil {
		return Gather(dst, tab, ids)
	}
	return GatherPositions(dst, tab, ids, pos.tab, pos.seq)
}

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
	return tableOf(t, data, TableSpec{Rows: rows, Dim: dim, Stride: stride, DType: d}), want
}

func TestGatherMatchesDecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, d := range []format.DType{format.F32, format.F16, format.BF16, format.Int8} {
		for _, dim := range []int{1, 3, 8, 17, 64, 300} {
			tab, want := buildRows(t, rng, 50, dim, d)
			ids := make([]int64, 700) // several chunks for small dims
			for i := range ids {
				ids[i] = rng.Int64N(tab.Rows())
			}
			dst := make([]float32, len(ids)*dim)
			if err := Gather(dst, tab, ids); err != nil {
				t.Fatalf("%s dim %d: Gather: %v", d, dim, err)
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
		if err := GatherPositions(dst, tab, ids, ptab, Sequence{Start: start, Len: seqLen, Phase: phase}); err != nil {
			t.Fatal(err)
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
	plain, want := buildRows(t, rng, 10, 7, format.BF16)
	ids := []int64{3, 0, 9}
	for _, rounding := range []format.DType{0, format.BF16, format.F16} {
		tab := withSpec(t, plain, func(s *TableSpec) { s.Scale, s.ComputeDType = 45.25, rounding })
		dst := make([]float32, len(ids)*7)
		if err := Gather(dst, tab, ids); err != nil {
			t.Fatal(err)
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

// TestGatherBadIDs checks the kernel's backstop: an id outside the table
// stops Gather with an *IDError naming it, the rows before it written and
// nothing after.
func TestGatherBadIDs(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	tab, want := buildRows(t, rng, 10, 4, format.F32)
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
		err := Gather(dst, tab, c.ids)
		var ie *IDError
		if !errors.As(err, &ie) || ie.Index != c.bad || ie.ID != c.ids[c.bad] || ie.Rows != 10 {
			t.Errorf("Gather(%v) = %v; want an *IDError at %d", c.ids, err, c.bad)
		}
		for i, v := range dst {
			switch r := i / 4; {
			case r < c.bad && v != want[c.ids[r]][i%4]:
				t.Fatalf("Gather(%v): row %d not written before the bad id", c.ids, r)
			case r >= c.bad && v != 42:
				t.Fatalf("Gather(%v): wrote row %d, at or past the bad id", c.ids, r)
			}
		}
	}
}

func TestGatherBadArguments(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	tab, _ := buildRows(t, rng, 10, 4, format.F32)
	ptab, _ := buildRows(t, rng, 3, 4, format.F32)
	p8, _ := buildRows(t, rng, 3, 8, format.F32)
	pbf, _ := buildRows(t, rng, 3, 4, format.BF16)
	for name, f := range map[string]func() error{
		"short output": func() error { return Gather(make([]float32, 3), tab, []int64{1}) },
		"short data": func() error {
			_, err := NewTable(tab.data[:9*16+15], tab.Spec())
			return err
		},
		"stride": func() error {
			_, err := NewTable(tab.data, TableSpec{Rows: 10, Dim: 4, Stride: 15, DType: format.F32})
			return err
		},
		"dtype": func() error { _, err := NewTable(tab.data, TableSpec{Rows: 10, Dim: 4, Stride: 16}); return err },
		"compute dtype": func() error {
			_, err := NewTable(tab.data, TableSpec{Rows: 1, Dim: 4, Stride: 16, DType: format.F32, ComputeDType: format.Int8})
			return err
		},
		"positions past table": func() error {
			return GatherPositions(make([]float32, 4), tab, []int64{1}, ptab, Sequence{Start: 1, Len: 3})
		},
		"zero seq len": func() error { return GatherPositions(make([]float32, 4), tab, []int64{1}, ptab, Sequence{}) },
		"phase": func() error {
			return GatherPositions(make([]float32, 4), tab, []int64{1}, ptab, Sequence{Len: 2, Phase: 2})
		},
		"positions of another width": func() error {
			return GatherPositions(make([]float32, 4), tab, []int64{1}, p8, Sequence{Len: 1})
		},
		"positions not f32": func() error { return GatherPositions(make([]float32, 4), tab, []int64{1}, pbf, Sequence{Len: 1}) },
	} {
		if err := f(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	var se *SizeError
	if err := Gather(make([]float32, 3), tab, []int64{1}); !errors.As(err, &se) || err.Error() != "kernel: output holds 3 values, 1 ids of 4 need 4" {
		t.Errorf("short output: %v", err)
	}
}

// TestNewTableLastRow checks what NewTable asks of the bytes: every row's
// stride but the last, whose values are enough.
func TestNewTableLastRow(t *testing.T) {
	spec := TableSpec{Rows: 3, Dim: 5, Stride: 64, DType: format.F32}
	if _, err := NewTable(make([]byte, 2*64+20), spec); err != nil {
		t.Errorf("last row without padding: %v", err)
	}
	if _, err := NewTable(make([]byte, 2*64+19), spec); err == nil {
		t.Error("last row one byte short accepted")
	}
	if _, err := NewTable(nil, TableSpec{Rows: 0, Dim: 5, Stride: 64, DType: format.F32}); err != nil {
		t.Errorf("empty table: %v", err)
	}
}

func BenchmarkGather(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, d := range []format.DType{format.F32, format.F16, format.BF16, format.Int8} {
		tab, _ := buildRows(b, rng, 50257, 256, d)
		ids := make([]int64, 4096)
		for i := range ids {
			ids[i] = rng.Int64N(tab.Rows())
		}
		dst := make([]float32, len(ids)*256)
		b.Run(d.String(), func(b *testing.B) {
			b.SetBytes(int64(len(ids)) * 256 * 4)
			for b.Loop() {
				Gather(dst, tab, ids)
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
	plain, want := buildRows(t, rng, 30, dim, format.F32)
	ptab, pwant := buildRows(t, rng, 6, dim, format.F32)
	ids := []int64{4, 29, 0, 4, 7, 11}
	for _, c := range []format.DType{format.BF16, format.F16} {
		for _, scale := range []float32{1, 6.928203} {
			tab := withSpec(t, plain, func(s *TableSpec) { s.Scale, s.ComputeDType = scale, c })
			dst := make([]float32, len(ids)*dim)
			if err := GatherPositions(dst, tab, ids, ptab, Sequence{Start: 1, Len: 3}); err != nil {
				t.Fatal(err)
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
}
