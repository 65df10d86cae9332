package store

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/embstore/embstore/format"
)

// writeVersioned writes (atomically, by rename) a table whose every value
// says which version of the file it is from: row r holds gen*1000 + r.
func writeVersioned(t testing.TB, path string, gen, rows, dim int) {
	t.Helper()
	fw, err := format.Create(path, format.Layout{Rows: int64(rows), Dim: dim})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Abort()
	vals := make([]float32, rows*dim)
	for r := range rows {
		for j := range dim {
			vals[r*dim+j] = float32(gen*1000 + r)
		}
	}
	if err := fw.WriteTokens(vals); err != nil {
		t.Fatal(err)
	}
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
}

// genOf looks up ids in tab and returns the version every row came from, or
// -1 if the rows mix versions or are not the rows of ids.
func genOf(t testing.TB, tab *Table, ids []int64) int {
	t.Helper()
	out := make([]float32, len(ids)*tab.Header().Dim)
	if err := tab.Lookup(out, ids); err != nil {
		t.Errorf("lookup: %v", err)
		return -1
	}
	gen := -1
	for i, id := range ids {
		for j := range tab.Header().Dim {
			v := int(out[i*tab.Header().Dim+j])
			g := (v - int(id)) / 1000
			if v != g*1000+int(id) || (gen >= 0 && g != gen) {
				return -1
			}
			gen = g
		}
	}
	return gen
}

func TestFollowSwapsOnRename(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.emb")
	writeVersioned(t, path, 1, 16, 4)
	var reloads []Reload
	f, err := Follow(path, &FollowOptions{Interval: -1, OnReload: func(r Reload) { reloads = append(reloads, r) }})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old, releaseOld := f.Acquire()
	if g := genOf(t, old, []int64{0, 5, 15}); g != 1 {
		t.Fatalf("first file: rows of generation %d, want 1", g)
	}
	if err := f.Check(); err != nil {
		t.Fatalf("check of an unchanged file: %v", err)
	}
	if f.Generation() != 1 || len(reloads) != 0 {
		t.Fatalf("unchanged file reloaded: generation %d, %d reloads", f.Generation(), len(reloads))
	}

	writeVersioned(t, path, 2, 16, 4)
	if err := f.Check(); err != nil {
		t.Fatal(err)
	}
	if f.Generation() != 2 || len(reloads) != 1 || reloads[0].Err != nil || reloads[0].Generation != 2 {
		t.Fatalf("after rename: generation %d, reloads %+v", f.Generation(), reloads)
	}
	cur, release := f.Acquire()
	if g := genOf(t, cur, []int64{3, 7}); g != 2 {
		t.Fatalf("new file: rows of generation %d, want 2", g)
	}
	release()
	// The old table stays open for the lookup that holds it ...
	if g := genOf(t, old, []int64{1, 2}); g != 1 {
		t.Fatalf("held old table: rows of generation %d, want 1", g)
	}
	// ... and is closed when it lets go.
	releaseOld()
	if err := old.Lookup(make([]float32, 4), []int64{0}); !errors.Is(err, ErrClosed) {
		t.Fatalf("old table after its last release: %v, want ErrClosed", err)
	}
	if s := f.Stats(); s.Generation != 2 || s.Reloads != 1 || s.Failures != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestFollowKeepsServingWhenNewFileIsBad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.emb")
	writeVersioned(t, path, 1, 16, 4)
	var mu sync.Mutex
	var reloads []Reload
	f, err := Follow(path, &FollowOptions{Interval: 5 * time.Millisecond, OnReload: func(r Reload) {
		mu.Lock()
		reloads = append(reloads, r)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("not a table"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(bad, path); err != nil {
		t.Fatal(err)
	}
	err = f.Check()
	if err == nil {
		t.Fatal("a file that is not a table was accepted")
	}
	tab, release := f.Acquire()
	if g := genOf(t, tab, []int64{4}); g != 1 {
		t.Fatalf("after a refused file: rows of generation %d, want the old 1", g)
	}
	release()
	// The periodic check does not retry the refused file over and over.
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	n := len(reloads)
	mu.Unlock()
	if s := f.Stats(); s.Failures != 1 || n != 1 || s.LastError == nil || reloads[0].Err == nil {
		t.Fatalf("refused once: stats %+v, %d reports", s, n)
	}
	// A forced check does, and a good file replaces the bad one by itself.
	if err := f.Check(); err == nil {
		t.Fatal("forced check of the bad file succeeded")
	}
	writeVersioned(t, path, 3, 16, 4)
	deadline := time.Now().Add(5 * time.Second)
	for f.Generation() == 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	tab, release = f.Acquire()
	defer release()
	if g := genOf(t, tab, []int64{4}); g != 3 || f.Generation() != 2 {
		t.Fatalf("good file after a bad one: rows of version %d, generation %d", g, f.Generation())
	}
}

func TestFollowRemovedFileKeepsServing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.emb")
	writeVersioned(t, path, 1, 8, 2)
	f, err := Follow(path, &FollowOptions{Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	os.Remove(path)
	if err := f.Check(); err == nil {
		t.Fatal("a removed file was not reported")
	}
	tab, release := f.Acquire()
	defer release()
	if g := genOf(t, tab, []int64{7}); g != 1 {
		t.Fatalf("rows of generation %d after removal, want 1", g)
	}
}

func TestFollowOpenErrors(t *testing.T) {
	if _, err := Follow(filepath.Join(t.TempDir(), "missing.emb"), nil); err == nil {
		t.Fatal("Follow of a missing file succeeded")
	}
}

func TestFollowClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.emb")
	writeVersioned(t, path, 1, 8, 2)
	f, err := Follow(path, nil) // polling on, stopped by Close
	if err != nil {
		t.Fatal(err)
	}
	held, release := f.Acquire()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); !errors.Is(err, ErrFollowerClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if err := f.Check(); !errors.Is(err, ErrFollowerClosed) {
		t.Fatalf("Check after Close: %v", err)
	}
	if g := genOf(t, held, []int64{1}); g != 1 {
		t.Fatal("a table held across Close was closed under its lookup")
	}
	release()
	tab, rel := f.Acquire()
	defer rel()
	if err := tab.Lookup(make([]float32, 2), []int64{0}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Acquire after Close and the last release: %v, want ErrClosed", err)
	}
}

// TestFollowConcurrentSwaps swaps files in while goroutines look up: no
// lookup fails, none sees a mix of versions, and versions only go forward.
func TestFollowConcurrentSwaps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.emb")
	const rows, dim = 256, 16
	writeVersioned(t, path, 1, rows, dim)
	f, err := Follow(path, &FollowOptions{Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stop atomic.Bool
	var lookups atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			ids := make([]int64, 64)
			last := 0
			for i := 0; !stop.Load(); i++ {
				for k := range ids {
					ids[k] = int64((i*7 + k*13 + w) % rows)
				}
				tab, release := f.Acquire()
				g := genOf(t, tab, ids)
				release()
				if g < last {
					t.Errorf("generation went from %d to %d", last, g)
					return
				}
				last = g
				lookups.Add(1)
			}
		})
	}
	const swaps = 20
	for gen := 2; gen <= swaps+1; gen++ {
		writeVersioned(t, path, gen, rows, dim)
		if err := f.Check(); err != nil {
			t.Error(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if f.Generation() != swaps+1 || lookups.Load() == 0 {
		t.Fatalf("generation %d after %d swaps, %d lookups", f.Generation(), swaps, lookups.Load())
	}
}

func BenchmarkFollowerAcquire(b *testing.B) {
	path := filepath.Join(b.TempDir(), "t.emb")
	writeVersioned(b, path, 1, 8, 2)
	f, err := Follow(path, &FollowOptions{Interval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, release := f.Acquire()
			release()
		}
	})
}
