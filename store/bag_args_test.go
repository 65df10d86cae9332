package store

import (
	"errors"
	"testing"

	"github.com/embstore/embstore/format"
)

// TestBagHostileArguments is the regression test for offsets and weights
// that do not fit the ids: they were sliced before anything checked them,
// on the worker pool (where the panic killed the process) and on the
// copy-out path. Every such call must return an error.
func TestBagHostileArguments(t *testing.T) {
	path, _, _ := writeTable(t, format.Layout{Rows: 300, Dim: 256})
	ids := make([]int64, 256)
	for i := range ids {
		ids[i] = int64(i)
	}
	dst := make([]float32, 4*256)
	cases := []struct {
		name    string
		offsets []int64
		opts    *BagOptions
	}{
		{"offset past the ids", []int64{0, 300, 70, 10}, nil},
		{"decreasing offsets", []int64{0, 200, 100, 250}, nil},
		{"last offset past the ids", []int64{0, 64, 128, 257}, nil},
		{"negative offset", []int64{0, 64, -1, 128}, nil},
		{"short weights", []int64{0, 64, 128, 192}, &BagOptions{PerSampleWeights: make([]float32, 10)}},
		{"long weights", []int64{0, 64, 128, 192}, &BagOptions{PerSampleWeights: make([]float32, 300)}},
	}
	for _, copyOut := range []bool{false, true} {
		for _, threads := range []int{0, 4} {
			copyOutForTest = copyOut
			tab, err := Open(path, &Options{Threads: threads})
			copyOutForTest = false
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cases {
				err := tab.Bag(dst, ids, c.offsets, c.opts)
				var ie *IndexError
				if err == nil || errors.As(err, &ie) || errors.Is(err, ErrClosed) {
					t.Errorf("copyOut=%v threads=%d %s: Bag = %v; want an argument error", copyOut, threads, c.name, err)
				}
			}
			// The table still works.
			if err := tab.Bag(dst, ids, []int64{0, 64, 128, 192}, nil); err != nil {
				t.Errorf("copyOut=%v threads=%d: valid Bag after hostile ones: %v", copyOut, threads, err)
			}
			tab.Close()
		}
	}
}

// TestBagNoBags is the regression test for a call with no bags (no offsets,
// or only the last one with IncludeLastOffset), which torch answers with an
// empty output: it indexed offsets[0] and panicked. The ids are still
// checked.
func TestBagNoBags(t *testing.T) {
	path, _, _ := writeTable(t, format.Layout{Rows: 30, Dim: 4})
	for _, copyOut := range []bool{false, true} {
		for _, threads := range []int{0, 4} {
			copyOutForTest = copyOut
			tab, err := Open(path, &Options{Threads: threads})
			copyOutForTest = false
			if err != nil {
				t.Fatal(err)
			}
			if err := tab.Bag(nil, []int64{1, 2}, nil, nil); err != nil {
				t.Errorf("copyOut=%v threads=%d: no offsets: %v", copyOut, threads, err)
			}
			if err := tab.Bag(nil, []int64{1, 2}, []int64{0}, &BagOptions{IncludeLastOffset: true}); err != nil {
				t.Errorf("copyOut=%v threads=%d: only the last offset: %v", copyOut, threads, err)
			}
			var ie *IndexError
			if err := tab.Bag(nil, []int64{1, 30}, nil, nil); !errors.As(err, &ie) || ie.Index != 1 {
				t.Errorf("copyOut=%v threads=%d: no offsets, bad id: %v", copyOut, threads, err)
			}
			tab.Close()
		}
	}
}
