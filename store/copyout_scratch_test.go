package store

import (
	"testing"

	"github.com/embstore/embstore/format"
)

// TestCopyOutScratchReuse is the regression test for the copy-out scratch
// buffers that Bag and Lookup share: a Bag sized them for its bag (a short
// id list, long rows), and a later Lookup of many short rows reused them
// without checking the id list's length, and panicked.
func TestCopyOutScratchReuse(t *testing.T) {
	copyOutForTest = true
	defer func() { copyOutForTest = false }()
	wide, _, _ := writeTable(t, format.Layout{Rows: 10, Dim: 4096})
	narrow, tokens, _ := writeTable(t, format.Layout{Rows: 600, Dim: 3})
	wt, nt := openTable(t, wide), openTable(t, narrow)
	if err := wt.Bag(make([]float32, 4096), []int64{1, 2, 3}, []int64{0}, nil); err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, 600)
	for i := range ids {
		ids[i] = int64(599 - i)
	}
	dst := make([]float32, len(ids)*3)
	if err := nt.Lookup(dst, ids); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if dst[3*i] != tokens[3*id] {
			t.Fatalf("row %d: %v, want %v", id, dst[3*i], tokens[3*id])
		}
	}
}
