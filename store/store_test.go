package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/embstore/embstore/format"
)

// writeTable writes a table with layout l and deterministic values and
// returns its path and the token and positional values.
func writeTable(t testing.TB, l format.Layout) (path string, tokens, positions []float32) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "t.emb")
	fw, err := format.Create(path, l)
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Abort()
	tokens = make([]float32, int(l.Rows)*l.Dim)
	for i := range tokens {
		tokens[i] = float32(i)*0.5 - 7
	}
	positions = make([]float32, int(l.Positions)*l.Dim)
	for i := range positions {
		positions[i] = float32(i) * 0.001
	}
	if err := fw.WriteTokens(tokens); err != nil {
		t.Fatal(err)
	}
	if l.Positions > 0 {
		if err := fw.WritePositions(positions); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.SetMetadata([]byte(`{"creator":"store test"}`)); err != nil {
		t.Fatal(err)
	}
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	return path, tokens, positions
}

func openTable(t testing.TB, path string) *Table {
	t.Helper()
	tab, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tab.Close() })
	return tab
}

func TestLookup(t *testing.T) {
	for _, copyOut := range []bool{false, true} {
		copyOutForTest = copyOut
		path, tokens, _ := writeTable(t, format.Layout{Rows: 600, Dim: 3})
		tab := openTable(t, path)
		if tab.Header().Rows != 600 || tab.Header().Dim != 3 || tab.Header().DType != format.F32 || tab.Header().Positions() != 0 {
			t.Fatalf("shape %d x %d %s, %d positions", tab.Header().Rows, tab.Header().Dim, tab.Header().DType, tab.Header().Positions())
		}
		if string(tab.Metadata()) != `{"creator":"store test"}` {
			t.Fatalf("metadata %q", tab.Metadata())
		}
		ids := []int64{2, 3, 5, 1, 599, 0, 2}
		for i := range 600 {
			ids = append(ids, int64((i*7)%600))
		}
		dst := make([]float32, len(ids)*3)
		if err := tab.Lookup(dst, ids); err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			for j := range 3 {
				if dst[i*3+j] != tokens[id*3+int64(j)] {
					t.Fatalf("copyOut=%v: row %d value %d = %v, want %v", copyOut, id, j, dst[i*3+j], tokens[id*3+int64(j)])
				}
			}
		}
	}
	copyOutForTest = false
}

func TestLookupErrors(t *testing.T) {
	path, _, _ := writeTable(t, format.Layout{Rows: 10, Dim: 4})
	tab := openTable(t, path)
	dst := make([]float32, 12)
	err := tab.Lookup(dst, []int64{1, 10, 2})
	var ie *IndexError
	if !errors.As(err, &ie) || ie.Index != 1 || ie.Value != 10 || ie.Limit != 10 {
		t.Fatalf("Lookup out of range = %v", err)
	}
	if want := "ids[1] = 10 is out of range [0, 10)"; !strings.Contains(err.Error(), want) {
		t.Fatalf("message %q lacks %q", err, want)
	}
	if err := tab.Lookup(dst, []int64{-1, 0, 0}); !errors.As(err, &ie) || ie.Value != -1 {
		t.Fatalf("negative id = %v", err)
	}
	if err := tab.Lookup(dst[:11], []int64{1, 2, 3}); err == nil {
		t.Fatal("short output accepted")
	}
	if err := tab.LookupPositions(dst, []int64{1, 2, 3}, 3, 0); !errors.Is(err, ErrNoPositions) {
		t.Fatalf("positions on a table without = %v", err)
	}
}

func TestLookupPositions(t *testing.T) {
	dim := 4
	for _, offset := range []int64{0, 2} {
		path, tokens, positions := writeTable(t, format.Layout{Rows: 20, Dim: dim, Positions: 8, PositionOffset: offset})
		tab := openTable(t, path)
		ids := []int64{2, 3, 5, 1, 7, 7}
		for _, c := range []struct {
			seqLen int
			start  int64
		}{{6, 0}, {3, 0}, {2, 4}, {1, 5}, {3, 8 - offset - 3}} {
			dst := make([]float32, len(ids)*dim)
			if err := tab.LookupPositions(dst, ids, c.seqLen, c.start); err != nil {
				t.Fatalf("offset %d seqLen %d start %d: %v", offset, c.seqLen, c.start, err)
			}
			for i, id := range ids {
				p := offset + c.start + int64(i%c.seqLen)
				for j := range dim {
					want := tokens[id*int64(dim)+int64(j)] + positions[p*int64(dim)+int64(j)]
					if dst[i*dim+j] != want {
						t.Fatalf("offset %d %+v: out[%d][%d] = %v, want %v", offset, c, i, j, dst[i*dim+j], want)
					}
				}
			}
		}
		dst := make([]float32, len(ids)*dim)
		var pe *PositionError
		if err := tab.LookupPositions(dst, ids, 6, 8-offset-5); !errors.As(err, &pe) || pe.Position != 8-offset {
			t.Fatalf("offset %d: positions past the table = %v", offset, err)
		}
		if err := tab.LookupPositions(dst, ids, 6, -1); !errors.As(err, &pe) {
			t.Fatalf("negative start = %v", err)
		}
		if err := tab.LookupPositions(dst, ids, 4, 0); err == nil {
			t.Fatal("ids not a multiple of seqLen accepted")
		}
		if err := tab.LookupPositions(dst, ids, 0, 0); err == nil {
			t.Fatal("seqLen 0 accepted")
		}
		rows := []int64{7, 0}
		dst = dst[:2*dim]
		if err := tab.LookupPositionRows(dst, rows); err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			for j := range dim {
				if dst[i*dim+j] != positions[r*int64(dim)+int64(j)] {
					t.Fatal("LookupPositionRows returned wrong values")
				}
			}
		}
		if err := tab.LookupPositionRows(dst, []int64{8, 0}); err == nil {
			t.Fatal("positional row out of range accepted")
		}
	}
}

func TestView(t *testing.T) {
	path, tokens, positions := writeTable(t, format.Layout{Rows: 10, Dim: 16, Positions: 3})
	tab := openTable(t, path)
	if !nativeLittleEndian {
		// The file's little-endian floats are not this machine's: View is
		// refused, as documented, and lookups convert.
		err := tab.View(func(v View) error {
			if _, err := v.Row(7); !errors.Is(err, ErrNoView) {
				return fmt.Errorf("Row: %v", err)
			}
			_, err := v.PositionRow(2)
			return err
		})
		if !errors.Is(err, ErrNoView) {
			t.Fatalf("View on a big-endian machine = %v; want ErrNoView", err)
		}
		return
	}
	err := tab.View(func(v View) error {
		row, err := v.Row(7)
		if err != nil {
			return err
		}
		if !slicesEqual(row, tokens[7*16:8*16]) {
			t.Error("View.Row values differ")
		}
		prow, err := v.PositionRow(2)
		if err != nil {
			return err
		}
		if !slicesEqual(prow, positions[2*16:]) {
			t.Error("View.PositionRow values differ")
		}
		if _, err := v.Row(10); err == nil {
			t.Error("View.Row(10) accepted")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tab.Close()
	if err := tab.View(func(View) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("View after Close = %v", err)
	}
}

func TestViewRefusesConvertedRows(t *testing.T) {
	path, _, _ := writeTable(t, format.Layout{Rows: 4, Dim: 8, DType: format.BF16})
	tab := openTable(t, path)
	err := tab.View(func(v View) error { _, err := v.Row(0); return err })
	if !errors.Is(err, ErrNoView) {
		t.Fatalf("View of bf16 rows = %v", err)
	}
}

func slicesEqual(a, b []float32) bool {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return len(a) <= len(b)
}

func TestCloseWhileLookingUp(t *testing.T) {
	path, _, _ := writeTable(t, format.Layout{Rows: 1000, Dim: 64, Positions: 16})
	tab, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids := make([]int64, 64)
			for i := range ids {
				ids[i] = int64((g*131 + i*17) % 1000)
			}
			dst := make([]float32, len(ids)*64)
			<-start
			for {
				var err error
				if g%2 == 0 {
					err = tab.Lookup(dst, ids)
				} else {
					err = tab.LookupPositions(dst, ids, 16, 0)
				}
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	close(start)
	if err := tab.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := tab.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
}

func TestTruncatedWhileMapped(t *testing.T) {
	path, _, _ := writeTable(t, format.Layout{Rows: 4096, Dim: 256})
	tab := openTable(t, path)
	// Another program truncates the file under the mapping.
	if err := os.Truncate(path, format.HeaderSize); err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, 256)
	err := tab.Lookup(dst, []int64{4000})
	var fe *FaultError
	if !errors.As(err, &fe) {
		t.Fatalf("Lookup on a truncated file = %v; want a *FaultError", err)
	}
	if !nativeLittleEndian {
		return // no View on big-endian machines (TestView)
	}
	err = tab.View(func(v View) error {
		row, err := v.Row(4001)
		if err != nil {
			return err
		}
		sink = row[0] // the fault happens in the caller's code, inside View
		return nil
	})
	if !errors.As(err, &fe) {
		t.Fatalf("View on a truncated file = %v; want a *FaultError", err)
	}
}

// sink keeps reads from being optimised away.
var sink float32

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing.emb"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file = %v", err)
	}
	if _, err := Open(dir, nil); err == nil {
		t.Fatal("directory accepted")
	}
	bad := filepath.Join(dir, "bad.emb")
	os.WriteFile(bad, bytes.Repeat([]byte("x"), 5000), 0o644)
	_, err := Open(bad, nil)
	if !errors.Is(err, format.ErrBadMagic) || !strings.Contains(err.Error(), "bad.emb") {
		t.Fatalf("bad file = %v", err)
	}
	// Verify at open catches damage that a plain open does not read.
	path, _, _ := writeTable(t, format.Layout{Rows: 10, Dim: 4})
	b, _ := os.ReadFile(path)
	b[format.HeaderSize+3] ^= 4
	os.WriteFile(path, b, 0o644)
	if tab, err := Open(path, nil); err != nil {
		t.Fatalf("plain open of a table with a damaged row: %v", err)
	} else {
		tab.Close()
	}
	if _, err := Open(path, &Options{Verify: true}); !errors.Is(err, format.ErrChecksum) {
		t.Fatalf("verified open of a damaged table = %v", err)
	}
}

func TestVerifyDuration(t *testing.T) {
	path, _, _ := writeTable(t, format.Layout{Rows: 100, Dim: 64})
	tab, err := Open(path, &Options{Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	if st, err := tab.Stats(); err != nil || st.VerifyDuration <= 0 {
		t.Fatalf("VerifyDuration not reported: %+v, %v", st, err)
	}
}

// TestOpenReadsOnlyTheHeader opens a 16 GiB table (a sparse file) and checks,
// through the kernel's count of bytes this process read, that Open read a
// few kilobytes: opening costs O(header), not O(table).
func TestOpenReadsOnlyTheHeader(t *testing.T) {
	if _, err := os.Stat("/proc/self/io"); err != nil {
		t.Skip("needs /proc/self/io (Linux) to count bytes read")
	}
	l := format.Layout{Rows: 1 << 22, Dim: 1024}
	h, err := l.Header(0)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "big.emb")
	if err := os.WriteFile(path, h.Encode(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, h.FileSize); err != nil {
		t.Skipf("file system cannot hold a sparse %d-byte file: %v", h.FileSize, err)
	}
	before := readChars(t)
	tab, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	if read := readChars(t) - before; read > 64<<10 {
		t.Fatalf("Open of a %d-byte table read %d bytes", h.FileSize, read)
	}
	dst := make([]float32, 2*1024)
	if err := tab.Lookup(dst, []int64{0, 1<<22 - 1}); err != nil {
		t.Fatal(err)
	}
}

// readChars returns the bytes this process has read through system calls.
func readChars(t *testing.T) int64 {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "rchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Fatal("no rchar in /proc/self/io")
	return 0
}

func TestLookupDoesNotAllocate(t *testing.T) {
	path, _, _ := writeTable(t, format.Layout{Rows: 100, Dim: 8, Positions: 4})
	tab := openTable(t, path)
	ids := []int64{1, 2, 3, 4}
	dst := make([]float32, 32)
	if n := testing.AllocsPerRun(100, func() { tab.Lookup(dst, ids) }); n != 0 {
		t.Errorf("Lookup allocates %v times per call", n)
	}
	if n := testing.AllocsPerRun(100, func() { tab.LookupPositions(dst, ids, 4, 0) }); n != 0 {
		t.Errorf("LookupPositions allocates %v times per call", n)
	}
}
