// View is refused on big-endian machines (the rows are little-endian).

//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm

package store_test

import (
	"fmt"
	"log"
	"os"

	"github.com/embstore/embstore/store"
)

// View reads f32 rows in place, without copying; the rows are valid until
// the callback returns.
func ExampleTable_View() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	t, err := store.Open(exampleTable(dir), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()

	err = t.View(func(v store.View) error {
		row, err := v.Row(4)
		if err != nil {
			return err
		}
		sum := float32(0)
		for _, x := range row {
			sum += x
		}
		fmt.Println(row, sum)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// [4 4.25 4.5 4.75] 17.5
}
