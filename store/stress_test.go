package store

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/embstore/embstore/format"
)

// A call is one kind of table call with fixed arguments, writing into dst.
type call struct {
	name string
	dim  int // values per output row
	n    int // output rows
	run  func(t *Table, dst []float32) error
}

// stressCalls returns calls of every kind that reads the mapping, with
// batches large enough to be split across a worker pool.
func stressCalls(rows int64, dim int, positions int64) []call {
	rng := rand.New(rand.NewPCG(7, 8))
	ids := make([]int64, 1024)
	for i := range ids {
		ids[i] = rng.Int64N(rows)
	}
	offsets := make([]int64, 16)
	for i := range offsets {
		offsets[i] = int64(i * len(ids) / len(offsets))
	}
	weights := make([]float32, len(ids))
	for i := range weights {
		weights[i] = float32(i%5) - 1.5
	}
	posRows := make([]int64, 100)
	for i := range posRows {
		posRows[i] = int64(i*7) % positions
	}
	calls := []call{
		{"Lookup", dim, len(ids), func(t *Table, dst []float32) error { return t.Lookup(dst, ids) }},
		{"LookupPositions", dim, len(ids), func(t *Table, dst []float32) error { return t.LookupPositions(dst, ids, 32, 3) }},
		{"LookupPositionRows", dim, len(posRows), func(t *Table, dst []float32) error { return t.LookupPositionRows(dst, posRows) }},
		{"Bag sum", dim, len(offsets), func(t *Table, dst []float32) error { return t.Bag(dst, ids, offsets, nil) }},
		{"Bag mean padded", dim, len(offsets), func(t *Table, dst []float32) error {
			return t.Bag(dst, ids, offsets, &BagOptions{Mode: BagMean, PaddingIdx: new(ids[3])})
		}},
		{"Bag max", dim, len(offsets), func(t *Table, dst []float32) error {
			return t.Bag(dst, ids, offsets, &BagOptions{Mode: BagMax})
		}},
		{"Bag weighted", dim, len(offsets), func(t *Table, dst []float32) error {
			return t.Bag(dst, ids, offsets, &BagOptions{PerSampleWeights: weights})
		}},
		{"View", dim, 2, func(t *Table, dst []float32) error {
			return t.View(func(v View) error {
				a, err := v.Row(ids[0])
				if err != nil {
					return err
				}
				b, err := v.PositionRow(positions - 1)
				if err != nil {
					return err
				}
				copy(dst, a)
				copy(dst[dim:], b)
				return nil
			})
		}},
		{"Stats", 0, 0, func(t *Table, dst []float32) error { _, err := t.Stats(); return err }},
	}
	if !nativeLittleEndian { // View is refused on big-endian machines (TestView checks how)
		calls = slices.DeleteFunc(calls, func(c call) bool { return c.name == "View" })
	}
	return calls
}

// TestStressCloseDuringCalls runs every kind of call from many goroutines,
// on tables with and without a worker pool and on the copy-out path, while
// another goroutine closes the table. Run under -race (CI does). Every call
// must either return exactly what it returns on a quiet table or fail with
// ErrClosed; nothing may race, crash or hang.
func TestStressCloseDuringCalls(t *testing.T) {
	const rows, dim, positions = 3000, 64, 64
	path, _, _ := writeTable(t, format.Layout{Rows: rows, Dim: dim, Positions: positions, PositionOffset: 2})
	calls := stressCalls(rows, dim, positions)

	// What each call returns on a quiet, single-threaded table.
	want := make([][]float32, len(calls))
	quiet := openTable(t, path)
	for i, c := range calls {
		want[i] = make([]float32, c.n*c.dim)
		if err := c.run(quiet, want[i]); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}

	rounds := 6
	if testing.Short() {
		rounds = 2
	}
	for _, cfg := range []struct {
		threads int
		copyOut bool
	}{{0, false}, {4, false}, {3, true}} {
		for round := range rounds {
			name := fmt.Sprintf("threads=%d copyOut=%v round %d", cfg.threads, cfg.copyOut, round)
			copyOutForTest = cfg.copyOut
			tab, err := Open(path, &Options{Threads: cfg.threads})
			copyOutForTest = false
			if err != nil {
				t.Fatal(err)
			}
			var ok, closed atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			goroutines := 2 * len(calls)
			for g := range goroutines {
				c, w := calls[g%len(calls)], want[g%len(calls)]
				wg.Add(1)
				go func() {
					defer wg.Done()
					dst := make([]float32, len(w))
					<-start
					for {
						err := c.run(tab, dst)
						if errors.Is(err, ErrClosed) {
							closed.Add(1)
							return
						}
						if err != nil {
							t.Errorf("%s: %s: %v", name, c.name, err)
							return
						}
						if !sameBits(dst, w) {
							t.Errorf("%s: %s returned other values under load", name, c.name)
							return
						}
						ok.Add(1)
					}
				}()
			}
			close(start)
			// Close at once in the first round; in the others once calls
			// are under way, and then a little later each time, so that
			// Close lands in every phase of the calls.
			if round > 0 {
				for ok.Load() < int64(goroutines) {
					time.Sleep(100 * time.Microsecond)
				}
				time.Sleep(time.Duration(round-1) * time.Millisecond)
			}
			if err := tab.Close(); err != nil {
				t.Fatalf("%s: Close: %v", name, err)
			}
			wg.Wait()
			if closed.Load() != int64(goroutines) {
				t.Fatalf("%s: %d of %d goroutines saw ErrClosed", name, closed.Load(), goroutines)
			}
			if round > 0 && ok.Load() < int64(goroutines) {
				t.Fatalf("%s: only %d calls succeeded before Close", name, ok.Load())
			}
			checkClosed(t, tab, calls)
		}
	}
}

// checkClosed checks that every call on a closed table returns ErrClosed.
func checkClosed(t *testing.T, tab *Table, calls []call) {
	t.Helper()
	for _, c := range calls {
		if err := c.run(tab, make([]float32, c.n*c.dim)); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v; want ErrClosed", c.name, err)
		}
	}
	if err := tab.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v; want ErrClosed", err)
	}
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestTruncatedUnderWorkers truncates a mapped table (as another process
// might) and checks that calls split across the worker pool, whose pieces
// fault on worker goroutines as well as on the caller's, return a
// *FaultError and leave the process, the pool and the rows still mapped
// working; and that Close then succeeds.
func TestTruncatedUnderWorkers(t *testing.T) {
	const rows, dim = 4096, 256
	path, tokens, _ := writeTable(t, format.Layout{Rows: rows, Dim: dim, Positions: 8})
	for _, threads := range []int{0, 2, 4} {
		t.Run(fmt.Sprintf("threads=%d", threads), func(t *testing.T) {
			p := copyFile(t, path)
			tab, err := Open(p, &Options{Threads: threads})
			if err != nil {
				t.Fatal(err)
			}
			defer tab.Close()
			// Keep the first half of the token rows: they stay readable.
			tok := tab.Header().Tokens()
			if err := os.Truncate(p, tok.Offset+tok.Length/2); err != nil {
				t.Fatal(err)
			}
			var gone, kept []int64
			for i := range int64(1024) {
				gone = append(gone, rows/2+i*(rows/2)/1024)
				kept = append(kept, i*(rows/2)/1024)
			}
			offsets := []int64{0, 256, 512, 768}
			dst := make([]float32, len(gone)*dim)
			var fe *FaultError
			for name, err := range map[string]error{
				"Lookup":          tab.Lookup(dst, gone),
				"LookupPositions": tab.LookupPositions(dst, gone, 8, 0),
				"Bag":             tab.Bag(dst[:len(offsets)*dim], gone, offsets, nil),
				"Bag weighted":    tab.Bag(dst[:len(offsets)*dim], gone, offsets, &BagOptions{PerSampleWeights: make([]float32, len(gone))}),
				// The caller's piece reads mapped rows; with a pool the
				// fault is on the workers only.
				"mixed Lookup": tab.Lookup(dst, append(append([]int64{}, kept[:512]...), gone[512:]...)),
			} {
				if !errors.As(err, &fe) {
					t.Errorf("%s on rows truncated away = %v; want a *FaultError", name, err)
				}
			}
			if (tab.workers != nil) != (threads > 1) {
				t.Fatalf("threads=%d: worker pool %v", threads, tab.workers != nil)
			}
			// The pool's workers survived their faults.
			for range 3 {
				if err := tab.Lookup(dst, kept); err != nil {
					t.Fatalf("Lookup of rows still mapped after faults: %v", err)
				}
				for i, id := range kept {
					if dst[i*dim] != tokens[id*dim] {
						t.Fatalf("row %d: %v, want %v", id, dst[i*dim], tokens[id*dim])
					}
				}
			}
			if err := tab.Close(); err != nil {
				t.Fatalf("Close after faults: %v", err)
			}
		})
	}
}

// copyFile copies the file at path into a new temporary directory.
func copyFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := t.TempDir() + "/copy.emb"
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
