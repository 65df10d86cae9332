package kernel

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/embstore/embstore/format"
)

// naiveBag pools with the simplest code that states the semantics.
func naiveBag(want [][]float32, dim int, ids, offsets []int64, mode BagMode, weights []float32, pad int64) []float32 {
	out := make([]float32, len(offsets)*dim)
	for b := range offsets {
		lo, hi := offsets[b], int64(len(ids))
		if b+1 < len(offsets) {
			hi = offsets[b+1]
		}
		acc := make([]float32, dim)
		n := 0
		for k := lo; k < hi; k++ {
			if ids[k] == pad {
				continue
			}
			for i, v := range want[ids[k]] {
				switch {
				case mode == BagMax && n == 0:
					acc[i] = v
				case mode == BagMax:
					if v > acc[i] { // torch: only a greater value replaces
						acc[i] = v
					}
				case weights != nil:
					acc[i] = float32(math.FMA(float64(weights[k]), float64(v), float64(acc[i]))) // exact: see below
				default:
					acc[i] += v
				}
			}
			n++
		}
		if mode == BagMean && n > 0 {
			for i := range acc {
				acc[i] *= 1 / float32(n)
			}
		}
		copy(out[b*dim:], acc)
	}
	return out
}

func TestBagMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, d := range []format.DType{format.F32, format.BF16, format.F16, format.Int8} {
		for _, dim := range []int{1, 5, 16, 33, 300} {
			tab, want := buildRows(t, rng, 40, dim, d)
			ids := make([]int64, 3000)
			for i := range ids {
				ids[i] = rng.Int64N(40)
			}
			// Bags of varied sizes, some empty, one larger than an inner step.
			offsets := []int64{0, 0, 3, 4, 4, 1200, 1201, 2500}
			for _, mode := range []BagMode{BagSum, BagMean, BagMax} {
				for _, pad := range []int64{-1, 7} {
					var weights []float32
					if mode == BagSum && pad < 0 {
						// Weights exact in float32 with small products: the
						// float64 FMA in naiveBag then rounds only once.
						weights = make([]float32, len(ids))
						for i := range weights {
							weights[i] = float32(rng.IntN(9)) / 4
						}
					}
					for _, w := range [][]float32{nil, weights} {
						if w == nil && weights != nil && mode != BagSum {
							continue
						}
						dst := make([]float32, len(offsets)*dim)
						if err := bagOf(dst, tab, ids, offsets, mode, w, pad); err != nil {
							t.Fatalf("Bag: %v", err)
						}
						ref := naiveBag(want, dim, ids, offsets, mode, w, pad)
						for i := range dst {
							if math.Float32bits(dst[i]) != math.Float32bits(ref[i]) {
								t.Fatalf("%s dim %d %s pad %d weights %v: value %d = %v, want %v",
									d, dim, mode, pad, w != nil, i, dst[i], ref[i])
							}
						}
					}
				}
			}
		}
	}
}

func TestBagEmptyAndPadding(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	tab, _ := buildRows(t, rng, 5, 4, format.F32)
	ids := []int64{2, 2, 3}
	for _, mode := range []BagMode{BagSum, BagMean, BagMax} {
		dst := make([]float32, 3*4)
		for i := range dst {
			dst[i] = 9
		}
		// bag 0 empty, bag 1 only padding, bag 2 one row
		if err := bagOf(dst, tab, ids, []int64{0, 0, 2}, mode, nil, 2); err != nil {
			t.Fatal(err)
		}
		for i := range 8 {
			if dst[i] != 0 {
				t.Fatalf("%s: empty or all-padding bag gave %v", mode, dst[:8])
			}
		}
	}
}

func TestBagBadArguments(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	tab, _ := buildRows(t, rng, 5, 4, format.F32)
	ids := []int64{1, 2, 3}
	for name, c := range map[string]struct {
		offsets []int64
		mode    BagMode
		weights []float32
		dst     int
	}{
		"negative offset":             {[]int64{-1}, BagSum, nil, 4},
		"offset past ids from a base": {[]int64{1, 5}, BagSum, nil, 8},
		"decreasing offsets":          {[]int64{0, 2, 1}, BagSum, nil, 12},
		"offset past ids":             {[]int64{0, 4}, BagSum, nil, 8},
		"weights with mean":           {[]int64{0}, BagMean, []float32{1, 1, 1}, 4},
		"weights of wrong len":        {[]int64{0}, BagSum, []float32{1}, 4},
		"short output":                {[]int64{0, 1}, BagSum, nil, 4},
		"unknown mode":                {[]int64{0}, BagMode(7), nil, 4},
	} {
		if err := bagOf(make([]float32, c.dst), tab, ids, c.offsets, c.mode, c.weights, -1); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, mode := range []BagMode{BagSum, BagMax} {
		var ie *IDError
		if err := bagOf(make([]float32, 4), tab, []int64{1, 5}, []int64{0}, mode, nil, -1); !errors.As(err, &ie) || ie.Index != 1 || ie.ID != 5 {
			t.Errorf("%s: bad id: %v", mode, err)
		}
		if err := bagOf(make([]float32, 4), tab, []int64{5, 1}, []int64{0}, mode, nil, -1); !errors.As(err, &ie) || ie.Index != 0 {
			t.Errorf("%s: bad first id: %v", mode, err)
		}
	}
}

// bagOf is NewBags then Bag.
func bagOf(dst []float32, tab *Table, ids, offsets []int64, mode BagMode, weights []float32, pad int64) error {
	b, err := NewBags(ids, offsets, weights)
	if err != nil {
		return err
	}
	return Bag(dst, tab, b, mode, pad)
}

// TestBagsSlice checks that pieces cut from Bags pool as the whole does.
func TestBagsSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	tab, _ := buildRows(t, rng, 30, 6, format.F32)
	ids := make([]int64, 50)
	for i := range ids {
		ids[i] = rng.Int64N(30)
	}
	weights := make([]float32, len(ids))
	for i := range weights {
		weights[i] = float32(i%5) - 2
	}
	offsets := []int64{3, 3, 10, 11, 30, 30, 52} // a base of 3: ids[0] is list position 3
	b, err := NewBags(ids[:52-3], offsets, weights[:52-3])
	if err != nil {
		t.Fatal(err)
	}
	whole := make([]float32, b.Len()*6)
	if err := Bag(whole, tab, b, BagSum, -1); err != nil {
		t.Fatal(err)
	}
	for lo := 0; lo <= b.Len(); lo++ {
		for hi := lo; hi <= b.Len(); hi++ {
			got := make([]float32, (hi-lo)*6)
			if err := Bag(got, tab, b.Slice(lo, hi), BagSum, -1); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(whole[lo*6+i]) {
					t.Fatalf("bags [%d, %d): value %d = %v, whole %v", lo, hi, i, got[i], whole[lo*6+i])
				}
			}
		}
	}
}
