//go:build linux

package store

import (
	"os"
	"testing"
	"time"

	"github.com/embstore/embstore/format"
	"golang.org/x/sys/unix"
)

// TestPrefetchSkipsResidentTables checks that a prefetching table whose
// rows are all in memory stops advising the kernel (the advice costs as
// much for pages in memory as for pages on disk), and that one whose pages
// were dropped from the page cache advises again.
func TestPrefetchSkipsResidentTables(t *testing.T) {
	path, _, _ := writeTable(t, format.Layout{Rows: 4096, Dim: 64})
	eventually := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); {
			if time.Now().After(deadline) {
				t.Fatalf("after 5 s: %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	tab, err := Open(path, &Options{Mode: MapPopulate, Prefetch: true})
	if err != nil {
		t.Fatal(err)
	}
	eventually("a populated table is seen as resident", tab.pf.resident.Load)
	tab.Close()

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	tab, err = Open(path, &Options{Mode: MapRandom, Prefetch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	// The first check runs as the table opens, before any row is read.
	time.Sleep(50 * time.Millisecond)
	if tab.pf.resident.Load() {
		t.Skip("the page cache kept the table's pages after FADV_DONTNEED (nothing to test here)")
	}
	dst := make([]float32, 64)
	for id := int64(0); id < 4096; id++ {
		if err := tab.Lookup(dst, []int64{id}); err != nil {
			t.Fatal(err)
		}
	}
	eventually("a table read in whole is seen as resident", tab.pf.resident.Load)
}
