package format_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/embstore/embstore/format"
)

// Create writes a table atomically: rows stream in, Commit publishes the
// complete file (Abort, deferred, removes it on any failure before).
func ExampleCreate() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "t.emb")

	fw, err := format.Create(path, format.Layout{Rows: 3, Dim: 2, DType: format.BF16, Positions: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer fw.Abort()
	if err := fw.WriteTokens([]float32{1, 2, 3, 4, 5, 6.01}); err != nil { // stored as bf16
		log.Fatal(err)
	}
	if err := fw.WritePositions([]float32{0.5, 0.5, 1, 1}); err != nil { // positional rows are f32
		log.Fatal(err)
	}
	if err := fw.SetMetadata([]byte(`{"creator":"example"}`)); err != nil {
		log.Fatal(err)
	}
	if err := fw.Commit(); err != nil {
		log.Fatal(err)
	}

	f, err := format.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	fmt.Println(f.Rows, "x", f.Dim, f.DType, "with", f.Positions(), "positions,", f.FileSize, "bytes")
	row := make([]float32, 2)
	if err := f.ReadRows(f.Tokens(), 2, 1, row); err != nil {
		log.Fatal(err)
	}
	fmt.Println(row, string(f.Metadata()))
	checks, err := f.Verify()
	fmt.Println(len(checks), "checks:", err)
	// Output:
	// 3 x 2 bf16 with 2 positions, 12309 bytes
	// [5 6] {"creator":"example"}
	// 5 checks: <nil>
}
