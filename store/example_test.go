package store_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/store"
)

// exampleTable writes a small table for the examples: 10 rows of 4 values,
// row i holding i, i+0.25, i+0.5, i+0.75, and a 3-row positional table
// whose row p holds 100*p in every column.
func exampleTable(dir string) string {
	path := filepath.Join(dir, "example.emb")
	fw, err := format.Create(path, format.Layout{Rows: 10, Dim: 4, Positions: 3})
	if err != nil {
		log.Fatal(err)
	}
	defer fw.Abort()
	var rows []float32
	for i := range 10 {
		rows = append(rows, float32(i), float32(i)+0.25, float32(i)+0.5, float32(i)+0.75)
	}
	if err := fw.WriteTokens(rows); err != nil {
		log.Fatal(err)
	}
	if err := fw.WritePositions([]float32{0, 0, 0, 0, 100, 100, 100, 100, 200, 200, 200, 200}); err != nil {
		log.Fatal(err)
	}
	if err := fw.Commit(); err != nil {
		log.Fatal(err)
	}
	return path
}

// Open maps a table; Lookup gathers rows by id into a caller's buffer.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := exampleTable(dir)

	t, err := store.Open(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	h := t.Header()
	fmt.Println(h.Rows, "rows of", h.Dim, h.DType, "values;", h.Positions(), "positions")

	ids := []int64{2, 7}
	out := make([]float32, len(ids)*h.Dim)
	if err := t.Lookup(out, ids); err != nil {
		log.Fatal(err)
	}
	fmt.Println(out)

	err = t.Lookup(out[:4], []int64{10})
	fmt.Println(err)
	// Output:
	// 10 rows of 4 f32 values; 3 positions
	// [2 2.25 2.5 2.75 7 7.25 7.5 7.75]
	// embstore: ids[0] = 10 is out of range [0, 10) of the token table
}

// LookupPositions adds the positional table: here two sequences of two
// ids, whose ids get positions 1 and 2 (start 1).
func ExampleTable_LookupPositions() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	t, err := store.Open(exampleTable(dir), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()

	ids := []int64{2, 3, 5, 1}
	out := make([]float32, len(ids)*t.Header().Dim)
	if err := t.LookupPositions(out, ids, 2, 1); err != nil {
		log.Fatal(err)
	}
	for i := range ids {
		fmt.Println(out[i*4 : (i+1)*4])
	}
	// A third position does not exist.
	fmt.Println(t.LookupPositions(out[:8], ids[:2], 2, 2))
	// Output:
	// [102 102.25 102.5 102.75]
	// [203 203.25 203.5 203.75]
	// [105 105.25 105.5 105.75]
	// [201 201.25 201.5 201.75]
	// embstore: position 3 is out of range of the 3-row positional table
}

// Bag pools bags of ids as torch.nn.EmbeddingBag does: here the mean of
// ids 1 and 3, and the maximum of 0, 9 and 4 with id 9 as padding.
func ExampleTable_Bag() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	t, err := store.Open(exampleTable(dir), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()

	out := make([]float32, 4)
	if err := t.Bag(out, []int64{1, 3}, []int64{0}, &store.BagOptions{Mode: store.BagMean}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(out)
	pad := int64(9)
	if err := t.Bag(out, []int64{0, 9, 4}, []int64{0}, &store.BagOptions{Mode: store.BagMax, PaddingIdx: &pad}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(out)
	// Output:
	// [2 2.25 2.5 2.75]
	// [4 4.25 4.5 4.75]
}

// A Follower serves the table at a path and swaps in a new file renamed
// over it; a lookup holds one version from Acquire to release.
func ExampleFollow() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := exampleTable(dir)

	f, err := store.Follow(path, &store.FollowOptions{Interval: -1}) // no polling: Check looks
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	t, release := f.Acquire()
	fmt.Println("generation", f.Generation(), "rows", t.Header().Rows)
	release()

	// Publish a new table: write it elsewhere, rename it over the path.
	next := filepath.Join(dir, "next.emb")
	fw, err := format.Create(next, format.Layout{Rows: 20, Dim: 4})
	if err != nil {
		log.Fatal(err)
	}
	fw.WriteTokens(make([]float32, 20*4))
	if err := fw.Commit(); err != nil {
		log.Fatal(err)
	}
	if err := os.Rename(next, path); err != nil {
		log.Fatal(err)
	}
	if err := f.Check(); err != nil {
		log.Fatal(err)
	}
	t, release = f.Acquire()
	fmt.Println("generation", f.Generation(), "rows", t.Header().Rows)
	release()
	// Output:
	// generation 1 rows 10
	// generation 2 rows 20
}
