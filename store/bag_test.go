package store

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/kernel"
)

// refBag computes a bag call with the kernel directly, single-threaded, for
// comparison.
func refBag(t *testing.T, tab *Table, ids, offsets []int64, mode BagMode, w []float32, pad int64) []float32 {
	t.Helper()
	out := make([]float32, len(offsets)*tab.Header().Dim)
	bags, err := kernel.NewBags(ids, offsets, w)
	if err != nil {
		t.Fatal(err)
	}
	if err := kernel.Bag(out, tab.tok, bags, mode, pad); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBagOptions(t *testing.T) {
	path, _, _ := writeTable(t, format.Layout{Rows: 10, Dim: 4})
	tab := openTable(t, path)
	ids := []int64{1, 2, 3, 4, 9}
	dst := make([]float32, 8)
	if err := tab.Bag(dst, ids, []int64{0, 2}, &BagOptions{Mode: BagMean}); err != nil {
		t.Fatal(err)
	}
	sameFloats(t, "mean", dst, refBag(t, tab, ids, []int64{0, 2}, BagMean, nil, -1))

	// include_last_offset: ids after the last offset are ignored.
	if err := tab.Bag(dst, ids, []int64{0, 2, 4}, &BagOptions{IncludeLastOffset: true}); err != nil {
		t.Fatal(err)
	}
	sameFloats(t, "include last", dst, refBag(t, tab, ids[:4], []int64{0, 2}, BagSum, nil, -1))

	// A negative padding index counts from the end: -1 is row 9.
	if err := tab.Bag(dst, ids, []int64{0, 2}, &BagOptions{Mode: BagMax, PaddingIdx: new(int64(-1))}); err != nil {
		t.Fatal(err)
	}
	sameFloats(t, "padding", dst, refBag(t, tab, ids, []int64{0, 2}, BagMax, nil, 9))

	w := []float32{1, 0.5, 2, -1, 3}
	if err := tab.Bag(dst, ids, []int64{0, 2}, &BagOptions{PerSampleWeights: w}); err != nil {
		t.Fatal(err)
	}
	sameFloats(t, "weights", dst, refBag(t, tab, ids, []int64{0, 2}, BagSum, w, -1))

	var ie *IndexError
	for name, err := range map[string]error{
		"first offset":   tab.Bag(dst, ids, []int64{1, 2}, nil),
		"short output":   tab.Bag(dst[:4], ids, []int64{0, 2}, nil),
		"bad last":       tab.Bag(dst, ids, []int64{0, 2, 6}, &BagOptions{IncludeLastOffset: true}),
		"weights mean":   tab.Bag(dst, ids, []int64{0, 2}, &BagOptions{Mode: BagMean, PerSampleWeights: w}),
		"padding range":  tab.Bag(dst, ids, []int64{0, 2}, &BagOptions{PaddingIdx: new(int64(10))}),
		"offsets past":   tab.Bag(dst, ids, []int64{0, 6}, nil),
		"no last offset": tab.Bag(nil, ids, nil, &BagOptions{IncludeLastOffset: true}),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := tab.Bag(dst, []int64{1, 10}, []int64{0, 1}, nil); !errors.As(err, &ie) || ie.Index != 1 {
		t.Errorf("bad id: %v", err)
	}
}

func sameFloats(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: value %d = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestThreadsGiveSameResults checks that splitting calls across workers, for
// every call kind, gives exactly the single-threaded results.
func TestThreadsGiveSameResults(t *testing.T) {
	path, _, _ := writeTable(t, format.Layout{Rows: 5000, Dim: 48, Positions: 64, DType: format.BF16})
	one := openTable(t, path)
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]int64, 20000)
	for i := range ids {
		ids[i] = rng.Int64N(5000)
	}
	var offsets []int64
	for o := int64(0); o < int64(len(ids)); o += rng.Int64N(40) {
		offsets = append(offsets, o)
	}
	offsets = append(offsets, int64(len(ids)), int64(len(ids))) // trailing empty bags
	for _, threads := range []int{2, 3, 8} {
		tab, err := Open(path, &Options{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := tab.Stats(); st.Threads != threads {
			t.Fatalf("Stats().Threads = %d", st.Threads)
		}
		want := make([]float32, len(ids)*48)
		got := make([]float32, len(ids)*48)
		if err := one.Lookup(want, ids); err != nil {
			t.Fatal(err)
		}
		if err := tab.Lookup(got, ids); err != nil {
			t.Fatal(err)
		}
		sameFloats(t, "lookup", got, want)
		if err := one.LookupPositions(want, ids, 50, 7); err != nil {
			t.Fatal(err)
		}
		if err := tab.LookupPositions(got, ids, 50, 7); err != nil {
			t.Fatal(err)
		}
		sameFloats(t, "positions", got, want)
		for _, mode := range []BagMode{BagSum, BagMean, BagMax} {
			want := make([]float32, len(offsets)*48)
			got := make([]float32, len(offsets)*48)
			opts := &BagOptions{Mode: mode, PaddingIdx: new(int64(17))}
			if err := one.Bag(want, ids, offsets, opts); err != nil {
				t.Fatal(err)
			}
			if err := tab.Bag(got, ids, offsets, opts); err != nil {
				t.Fatal(err)
			}
			sameFloats(t, "bag "+mode.String(), got, want)
		}
		bad := append([]int64{}, ids...)
		bad[15000] = -3
		var ie *IndexError
		if err := tab.Lookup(got, bad); !errors.As(err, &ie) || ie.Index != 15000 {
			t.Fatalf("threaded bad id: %v", err)
		}
		tab.Close()
	}
}

func TestBagCopyOut(t *testing.T) {
	path, _, _ := writeTable(t, format.Layout{Rows: 300, Dim: 5, DType: format.Int8})
	inPlace := openTable(t, path)
	copyOutForTest = true
	defer func() { copyOutForTest = false }()
	copied := openTable(t, path)
	ids := []int64{1, 5, 5, 299, 0, 7, 7, 7, 8}
	offsets := []int64{0, 3, 3, 6}
	for _, mode := range []BagMode{BagSum, BagMean, BagMax} {
		opts := &BagOptions{Mode: mode, PaddingIdx: new(int64(7))}
		want := make([]float32, 4*5)
		got := make([]float32, 4*5)
		if err := inPlace.Bag(want, ids, offsets, opts); err != nil {
			t.Fatal(err)
		}
		if err := copied.Bag(got, ids, offsets, opts); err != nil {
			t.Fatal(err)
		}
		sameFloats(t, "copy-out bag "+mode.String(), got, want)
	}
}
