package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/fma32"
	"github.com/embstore/embstore/internal/testing/fuzzcorpus"
)

// sameScore reports whether two dot products are the same: the same bits,
// or both NaN (the kernels do not define which NaN).
func sameScore(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b
}

// randomQueries returns n queries of dim values, with special values at
// odds 1/specialOdds (none when 0).
func randomQueries(rng *rand.Rand, n, dim, specialOdds int) []float32 {
	q := make([]float32, n*dim)
	for i := range q {
		q[i] = value32(rng, specialOdds)
	}
	return q
}

// dotAt runs Dot with the kernels of level l.
func dotAt(l kernelLevel, dst, sq []float32, tab *Table, lo int64, n int, qs *Queries, scratch []float32) error {
	defer useDotKernels(l)()
	return Dot(dst, sq, tab, lo, n, qs, scratch)
}

// compareDot computes the dot products of rows [lo, lo+n) of tab with the
// queries at the reference and at every fast level, with and without
// norms, and fails on any difference (NaN payloads aside).
func compareDot(t *testing.T, what string, tab *Table, lo int64, n int, queries []float32) {
	t.Helper()
	var qs Queries
	if err := qs.Set(queries, tab.Dim()); err != nil {
		t.Fatal(err)
	}
	scratch := make([]float32, DotScratch(tab.Dim()))
	want := make([]float32, qs.Len()*n)
	wantSq := make([]float32, n)
	if err := dotAt(levelRef, want, wantSq, tab, lo, n, &qs, scratch); err != nil {
		t.Fatalf("%s: reference Dot: %v", what, err)
	}
	for _, l := range diffLevels(t) {
		for _, norms := range []bool{true, false} {
			got := withCanary(len(want))
			var sq []float32
			if norms {
				sq = withCanary(n)
			}
			if err := dotAt(l, got, sq, tab, lo, n, &qs, scratch); err != nil {
				t.Fatalf("%s %s: Dot: %v", what, l, err)
			}
			checkCanary(t, fmt.Sprintf("%s %s", what, l), got)
			for i := range want {
				if !sameScore(got[i], want[i]) {
					t.Fatalf("%s %s (norms %v): query %d, row %d: got %#08x (%g), want %#08x (%g)",
						what, l, norms, i/n, lo+int64(i%n), math.Float32bits(got[i]), got[i], math.Float32bits(want[i]), want[i])
				}
			}
			if norms {
				checkCanary(t, fmt.Sprintf("%s %s norms", what, l), sq)
				for r := range wantSq {
					if !sameScore(sq[r], wantSq[r]) {
						t.Fatalf("%s %s: squared norm of row %d: got %#08x (%g), want %#08x (%g)",
							what, l, lo+int64(r), math.Float32bits(sq[r]), sq[r], math.Float32bits(wantSq[r]), wantSq[r])
					}
				}
			}
		}
	}
}

// TestDotReferenceError checks the reference against the exact dot product
// (float64 products summed in float64, exact enough here) within the bound
// the package documents: (ceil(dim/16)+4) * 2^-24 * sum |x_j q_j|, plus
// float32's smallest subnormal for underflow.
func TestDotReferenceError(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	for _, dim := range append([]int{1, 15, 16, 17, 300, 1000, 4097}, testDims...) {
		for range 20 {
			x := randomQueries(rng, 1, dim, 0)
			y := randomQueries(rng, 1, dim, 0)
			if rng.IntN(4) == 0 { // cancellation: y nearly orthogonal to x
				var xy, xx float64
				for j := range x {
					xy += float64(x[j]) * float64(y[j])
					xx += float64(x[j]) * float64(x[j])
				}
				for j := range y {
					y[j] = float32(float64(y[j]) - xy/xx*float64(x[j]))
				}
			}
			got := dotRef(x, y)
			var exact, abs float64
			for j := range x {
				exact += float64(x[j]) * float64(y[j])
				abs += math.Abs(float64(x[j]) * float64(y[j]))
			}
			bound := float64((dim+15)/16+4)*0x1p-24*abs + 0x1p-149
			if e := math.Abs(float64(got) - exact); e > bound {
				t.Fatalf("dim %d: dot %g, exact %g: error %g over the bound %g", dim, got, exact, e, bound)
			}
		}
	}
}

// TestDotReferenceOrder pins the order of the reference's sums: 16
// partial sums, each in ascending order with one rounding per step, then
// added 8, 4, 2 and 1 lanes apart. Random rows are used until some give
// other bits when summed in order or in 8 lanes, so that the check has
// teeth.
func TestDotReferenceOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	byLanes := func(x, y []float32, lanes int) float32 {
		acc := make([]float32, lanes)
		for j := range x {
			acc[j%lanes] = fma32.FMA(x[j], y[j], acc[j%lanes])
		}
		for h := lanes / 2; h >= 1; h /= 2 {
			for l := range h {
				acc[l] += acc[l+h]
			}
		}
		return acc[0]
	}
	differs := 0
	for range 200 {
		dim := 1 + rng.IntN(100)
		x, y := randomQueries(rng, 1, dim, 0), randomQueries(rng, 1, dim, 0)
		want := byLanes(x, y, 16)
		if got := dotRef(x, y); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("dim %d: dotRef = %g, the documented order gives %g", dim, got, want)
		}
		if byLanes(x, y, 1) != want && byLanes(x, y, 8) != want {
			differs++
		}
	}
	if differs < 10 {
		t.Fatalf("only %d of 200 random rows tell the documented order from others", differs)
	}
}

func TestDotLevelsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(53, 54))
	dims := append([]int(nil), testDims...)
	for range 10 {
		dims = append(dims, 1+rng.IntN(700))
	}
	for _, d := range allDTypes {
		for _, dim := range dims {
			for _, specialOdds := range []int{0, 9} {
				rows := int64(1 + rng.IntN(70))
				tab := randomTable(t, rng, d, dim, rows, randomExtra(rng, d, dim), specialOdds)
				nq := 1 + rng.IntN(19)
				if rng.IntN(3) == 0 {
					nq = []int{1, 2, 3, 4, 7, 8, 9, 16}[rng.IntN(8)]
				}
				lo := rng.Int64N(rows)
				n := int(rng.Int64N(rows-lo) + 1)
				if rng.IntN(3) == 0 {
					lo, n = 0, int(rows) // the last row ends at the guard page
				}
				what := fmt.Sprintf("%s dim %d stride %d rows [%d,%d) %d queries specials 1/%d", d, dim, tab.stride, lo, lo+int64(n), nq, specialOdds)
				compareDot(t, what, tab, lo, n, randomQueries(rng, nq, dim, specialOdds))
			}
		}
	}
}

// TestDotBigBlocks crosses the block size of one inner call, with rows of
// every tile remainder.
func TestDotBigBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(55, 56))
	for _, d := range allDTypes {
		dim := 33
		rows := int64(dotBlockBytes/int(d.RowSize(dim))*2 + 11)
		tab := randomTable(t, rng, d, dim, rows, 0, 0)
		compareDot(t, d.String()+" big", tab, 3, int(rows-3), randomQueries(rng, 10, dim, 0))
	}
}

// TestDotScaledTable checks tables with a token scale and a compute dtype:
// their rows are what Gather returns, decoded into scratch.
func TestDotScaledTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(57, 58))
	for _, d := range allDTypes {
		for _, c := range []format.DType{0, format.F16, format.BF16} {
			for _, scale := range []float32{1, 8, 0.37} {
				dim := 1 + rng.IntN(300)
				rows := int64(1 + rng.IntN(80))
				tab := withSpec(t, randomTable(t, rng, d, dim, rows, 4, 0), func(s *TableSpec) { s.Scale, s.ComputeDType = scale, c })
				what := fmt.Sprintf("%s compute %s scale %g dim %d", d, c, scale, dim)
				compareDot(t, what, tab, 0, int(rows), randomQueries(rng, 1+rng.IntN(12), dim, 0))
				// The rows must be the gathered ones.
				ids := make([]int64, rows)
				for i := range ids {
					ids[i] = int64(i)
				}
				rowsF := make([]float32, int(rows)*dim)
				if err := Gather(rowsF, tab, ids); err != nil {
					t.Fatal(err)
				}
				var qs Queries
				q := randomQueries(rng, 1, dim, 0)
				qs.Set(q, dim)
				got := make([]float32, rows)
				if err := Dot(got, nil, tab, 0, int(rows), &qs, make([]float32, DotScratch(dim))); err != nil {
					t.Fatal(err)
				}
				for r := range got {
					if want := dotRef(rowsF[r*dim:(r+1)*dim], q); !sameScore(got[r], want) {
						t.Fatalf("%s: row %d: %g, the gathered row gives %g", what, r, got[r], want)
					}
				}
			}
		}
	}
}

func TestDotArguments(t *testing.T) {
	rng := rand.New(rand.NewPCG(59, 60))
	tab := randomTable(t, rng, format.F32, 20, 10, 0, 0)
	var qs Queries
	if err := qs.Set(randomQueries(rng, 3, 20, 0), 20); err != nil {
		t.Fatal(err)
	}
	if err := qs.Set(make([]float32, 21), 20); err == nil {
		t.Error("Set took 21 values for queries of 20")
	}
	if err := qs.Set(nil, 0); err == nil {
		t.Error("Set took dim 0")
	}
	qs.Set(randomQueries(rng, 3, 20, 0), 20)
	dst := make([]float32, 30)
	for _, c := range []struct {
		what    string
		dst, sq []float32
		lo      int64
		n       int
	}{
		{"rows past the end", dst, nil, 5, 6},
		{"negative lo", dst, nil, -1, 2},
		{"negative n", dst, nil, 0, -1},
		{"short output", dst[:29], nil, 0, 10},
		{"short norms", dst, make([]float32, 9), 0, 10},
	} {
		if err := Dot(c.dst, c.sq, tab, c.lo, c.n, &qs, make([]float32, DotScratch(20))); err == nil {
			t.Errorf("%s: no error", c.what)
		}
	}
	var none Queries
	none.Set(nil, 20)
	if err := Dot(dst, nil, tab, 0, 1, &none, make([]float32, DotScratch(20))); err == nil {
		t.Error("no queries: no error")
	}
	other := randomTable(t, rng, format.F32, 21, 10, 0, 0)
	scratch := make([]float32, DotScratch(21))
	if err := Dot(dst, nil, other, 0, 1, &qs, scratch); err == nil {
		t.Error("queries of 20 values against rows of 21: no error")
	}
	scaled := withSpec(t, tab, func(s *TableSpec) { s.Scale = 2 })
	if err := Dot(dst, nil, scaled, 0, 1, &qs, make([]float32, DotScratch(20)-1)); err == nil {
		t.Error("short scratch: no error")
	}
	if err := Dot(dst, nil, tab, 10, 0, &qs, scratch); err != nil {
		t.Errorf("no rows: %v", err)
	}
}

// TestDotDoesNotAllocate: Dot, warm, allocates nothing.
func TestDotDoesNotAllocate(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	tab := randomTable(t, rng, format.F16, 300, 100, 0, 0)
	var qs Queries
	queries := randomQueries(rng, 9, 300, 0)
	dst, sq := make([]float32, 900), make([]float32, 100)
	scratch := make([]float32, DotScratch(300))
	for _, l := range supportedLevels() {
		restore := useDotKernels(l)
		if n := testing.AllocsPerRun(20, func() {
			qs.Set(queries, 300)
			if err := Dot(dst, sq, tab, 0, 100, &qs, scratch); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: Set and Dot allocate %v times per call", l, n)
		}
		restore()
	}
}

// FuzzDotMatchesReference builds a table and queries from the fuzzer's
// bytes (bit patterns: NaNs, infinities, subnormals, int8 scales) and
// checks the dot products and norms of every level against the reference.
// Seeds: the cases below and testdata/fuzz/FuzzDotMatchesReference.
func FuzzDotMatchesReference(f *testing.F) {
	diffLevels(f)
	f.Add(uint8(0), uint16(7), uint8(1), uint64(1), []byte{0, 0, 0x80, 0x7f, 1, 0, 0xc0, 0xff})
	f.Add(uint8(1), uint16(17), uint8(3), uint64(2), []byte{0x00, 0x7c, 0x01, 0x7c, 0x00, 0xfe, 0x01, 0x00})
	f.Add(uint8(2), uint16(33), uint8(9), uint64(3), []byte{0x80, 0x7f, 0xc1, 0xff, 0x00, 0x80})
	f.Add(uint8(3), uint16(9), uint8(2), uint64(4), []byte{0, 255, 0, 0, 0x80, 0x7f, 0, 0, 0xc0, 0x7f, 3})
	f.Add(uint8(3), uint16(300), uint8(16), uint64(5), []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add(uint8(0|4), uint16(300), uint8(5), uint64(6), []byte{0x3f, 0x80, 0, 0, 0xbf, 0x80, 0, 1})
	corpus, err := fuzzcorpus.Load(fuzzcorpus.Dir(1, "FuzzDotMatchesReference"))
	if err != nil {
		f.Fatal(err)
	}
	for _, a := range corpus {
		flags, err1 := fuzzcorpus.Arg[uint8](a, 0)
		dim, err2 := fuzzcorpus.Arg[uint16](a, 1)
		nq, err3 := fuzzcorpus.Arg[uint8](a, 2)
		seed, err4 := fuzzcorpus.Arg[uint64](a, 3)
		data, err5 := fuzzcorpus.Arg[[]byte](a, 4)
		if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
			f.Fatal(err)
		}
		f.Add(flags, dim, nq, seed, data)
	}
	f.Fuzz(func(t *testing.T, flags uint8, dim uint16, nq uint8, seed uint64, data []byte) {
		// flags: bits 0-1 the dtype, bit 2 a scaled bf16-computing table.
		d := allDTypes[int(flags)%len(allDTypes)]
		dimN := 1 + int(dim)%700
		if len(data) == 0 {
			data = []byte{0}
		}
		rng := rand.New(rand.NewPCG(seed, uint64(len(data))))
		rows := int64(1 + rng.IntN(20))
		stride := align4(int(d.RowSize(dimN))) + 4*rng.IntN(20)
		buf := guarded(t, int(rows)*stride)
		for i := range buf {
			buf[i] = data[i%len(data)] ^ byte(i/len(data))
		}
		spec := TableSpec{Rows: rows, Dim: dimN, Stride: stride, DType: d}
		if flags&4 != 0 {
			spec.Scale, spec.ComputeDType = 3, format.BF16
		}
		tab := tableOf(t, buf, spec)
		queries := make([]float32, (1+int(nq)%20)*dimN)
		for i := range queries {
			b := append(data[(i*3)%len(data):], 0, 0, 0, 0)
			queries[i] = math.Float32frombits(binary.LittleEndian.Uint32(b))
		}
		lo := rng.Int64N(rows)
		compareDot(t, "fuzz", tab, lo, int(rows-lo), queries)
	})
}
