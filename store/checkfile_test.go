package store

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/embstore/embstore/format"
)

// copyInPlace writes src's bytes into dst's existing inode, as cp does:
// open with truncation, then write.
func copyInPlace(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCheckFileInPlaceWrite: a table overwritten in place while mapped
// serves the new bytes while Header and Metadata still describe the old
// file; CheckFile says so. A table published by rename is not modified.
func TestCheckFileInPlaceWrite(t *testing.T) {
	if copyOutForTest {
		t.Skip()
	}
	path, tokens, _ := writeTable(t, format.Layout{Rows: 64, Dim: 16})
	other := filepath.Join(t.TempDir(), "other.emb")
	fw, err := format.Create(other, format.Layout{Rows: 64, Dim: 16})
	if err != nil {
		t.Fatal(err)
	}
	otherTokens := make([]float32, 64*16)
	for i := range otherTokens {
		otherTokens[i] = float32(1000 + i)
	}
	fw.WriteTokens(otherTokens)
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}

	tab := openTable(t, path)
	if err := tab.CheckFile(); err != nil {
		t.Fatalf("CheckFile of an untouched table: %v", err)
	}
	time.Sleep(10 * time.Millisecond) // a later modification time on coarse clocks
	copyInPlace(t, other, path)
	dst := make([]float32, 16)
	if err := tab.Lookup(dst, []int64{2}); err != nil {
		t.Fatal(err)
	}
	if dst[0] != otherTokens[2*16] {
		t.Logf("lookup after the in-place write read %v (old %v, new %v)", dst[0], tokens[2*16], otherTokens[2*16])
	}
	err = tab.CheckFile()
	if !errors.Is(err, ErrModified) || !strings.Contains(err.Error(), path) {
		t.Fatalf("CheckFile after cp over the table = %v; want ErrModified naming %s", err, path)
	}
	if strings.Count(err.Error(), "embstore:") != 1 {
		t.Errorf("doubled prefix: %q", err)
	}

	// Publishing by rename leaves the open table's file alone.
	path2, tokens2, _ := writeTable(t, format.Layout{Rows: 64, Dim: 16})
	tab2 := openTable(t, path2)
	fw, _ = format.Create(path2, format.Layout{Rows: 64, Dim: 16})
	fw.WriteTokens(otherTokens)
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := tab2.CheckFile(); err != nil {
		t.Fatalf("CheckFile after an atomic replace = %v; want nil (the old file is unchanged)", err)
	}
	if err := tab2.Lookup(dst, []int64{2}); err != nil || dst[0] != tokens2[2*16] {
		t.Fatalf("after an atomic replace the open table read %v, %v; want the old row", dst[0], err)
	}
	tab2.Close()
	if err := tab2.CheckFile(); !errors.Is(err, ErrClosed) {
		t.Fatalf("CheckFile after Close = %v", err)
	}
}

// TestFaultCauses: a write into a View row is reported as such, not as a
// truncated file; a truncated file as truncated, with the sizes.
func TestFaultCauses(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("rows are copies on Windows")
	}
	path, _, _ := writeTable(t, format.Layout{Rows: 4096, Dim: 256})
	tab := openTable(t, path)
	var fe *FaultError
	if !nativeLittleEndian {
		goto truncate // rows cannot be viewed in place (TestView)
	}
	if err := tab.View(func(v View) error {
		row, err := v.Row(7)
		if err != nil {
			return err
		}
		row[0] = 1 // the mapping is read-only
		return nil
	}); !errors.As(err, &fe) || fe.Cause != FaultWrite || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("writing a View row = %v; want a FaultWrite *FaultError", err)
	}
truncate:
	if err := os.Truncate(path, format.HeaderSize); err != nil {
		t.Fatal(err)
	}
	err := tab.Lookup(make([]float32, 256), []int64{4000})
	if !errors.As(err, &fe) || fe.Cause != FaultTruncated || fe.Size != format.HeaderSize || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("lookup of a truncated table = %v (%+v); want a FaultTruncated *FaultError", err, fe)
	}
}

// TestOpenBounds: Threads beyond MaxThreads and a named pipe are refused at
// once, with messages that say what was wrong and where.
func TestOpenBounds(t *testing.T) {
	path, _, _ := writeTable(t, format.Layout{Rows: 8, Dim: 4})
	for _, n := range []int{-1, MaxThreads() + 1, 300000, 10000000} {
		start := time.Now()
		_, err := Open(path, &Options{Threads: n})
		if err == nil || !strings.Contains(err.Error(), "Options.Threads") || !strings.Contains(err.Error(), path) {
			t.Errorf("Threads %d: %v; want an Options.Threads error", n, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("refusing Threads %d took %v", n, d)
		}
	}
	tab, err := Open(path, &Options{Threads: MaxThreads()})
	if err != nil {
		t.Fatal(err)
	}
	tab.Close()
	if runtime.GOOS == "windows" {
		return
	}
	fifo := filepath.Join(t.TempDir(), "fifo.emb")
	if err := mkfifo(fifo); err != nil {
		t.Skip(err)
	}
	within(t, 5*time.Second, "Open of a FIFO", func() {
		if _, err := Open(fifo, nil); !errors.Is(err, format.ErrNotRegular) || !strings.Contains(err.Error(), "named pipe") {
			t.Errorf("Open of a FIFO = %v; want ErrNotRegular", err)
		}
	})
}

// TestErrorStyle: single-value index errors do not pretend to index a
// slice, a bag call without offsets says what to pass, and no message
// repeats its prefix.
func TestErrorStyle(t *testing.T) {
	path, _, _ := writeTable(t, format.Layout{Rows: 8, Dim: 4, Positions: 2})
	tab := openTable(t, path)
	err := tab.View(func(v View) error { _, err := v.Row(-1); return err })
	if nativeLittleEndian && (err == nil || err.Error() != "embstore: id -1 is out of range [0, 8) of the token table") {
		t.Errorf("View.Row(-1): %v", err)
	}
	err = tab.View(func(v View) error { _, err := v.PositionRow(2); return err })
	if err == nil || err.Error() != "embstore: row 2 is out of range [0, 2) of the positional table" {
		t.Errorf("View.PositionRow(2): %v", err)
	}
	err = tab.Bag(make([]float32, 4), []int64{1, 2}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "offsets is empty") || !strings.Contains(err.Error(), "[]int64{0}") {
		t.Errorf("Bag without offsets: %v", err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.emb")
	os.WriteFile(garbage, make([]byte, 8192), 0o644)
	for _, err := range []error{
		func() error { _, err := Open(garbage, nil); return err }(),
		tab.Bag(make([]float32, 4), []int64{1}, []int64{0}, &BagOptions{Mode: 9}),
		tab.Lookup(make([]float32, 3), []int64{1}),
	} {
		if err == nil || strings.Count(err.Error(), ":") > 0 && strings.Count(err.Error(), "embstore:")+strings.Count(err.Error(), "kernel:") != 1 {
			t.Errorf("want one prefix: %v", err)
		}
	}
	if _, err := Open(garbage, nil); err == nil || !strings.HasPrefix(err.Error(), "embstore: "+garbage+": ") {
		t.Errorf("Open of garbage: %q; want it to start with the prefix, then the file", err)
	}
}
