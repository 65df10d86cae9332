//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/embstore/embstore/format"
)

// coldConfigs are the option sets for tables larger than memory that the
// tests below run every call kind under.
var coldConfigs = []struct {
	name string
	opts Options
}{
	{"prefetch", Options{Prefetch: true}},
	{"prefetch/random/threads=3", Options{Prefetch: true, Mode: MapRandom, Threads: 3}},
	{"prefetch/anon-hugepages", Options{Prefetch: true, Mode: MapAnonHugePages}},
	{"lock-hot", Options{LockHot: 100, LockHotInterval: time.Millisecond}},
	{"lock-hot-ids", Options{LockHotIDs: []int64{0, 5, 2999, 5}}},
	{"prefetch+lock-hot/threads=3", Options{Prefetch: true, LockHot: 50, LockHotInterval: time.Millisecond, Threads: 3}},
}

// TestColdOptionsExact checks that every call kind returns the same bits
// with prefetch and hot-row locking as without, and does not allocate.
func TestColdOptionsExact(t *testing.T) {
	const rows, dim, positions = 3000, 64, 64
	path, _, _ := writeTable(t, format.Layout{Rows: rows, Dim: dim, Positions: positions, PositionOffset: 2})
	calls := stressCalls(rows, dim, positions)
	want := make([][]float32, len(calls))
	plain := openTable(t, path)
	for i, c := range calls {
		want[i] = make([]float32, c.n*c.dim)
		if err := c.run(plain, want[i]); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	for _, cfg := range coldConfigs {
		tab, err := Open(path, &cfg.opts)
		if mayNotLock(t, cfg.name, err) {
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", cfg.name, err)
		}
		for i, c := range calls {
			dst := make([]float32, c.n*c.dim)
			for range 3 { // the learner relocks between calls
				if err := c.run(tab, dst); err != nil {
					t.Fatalf("%s: %s: %v", cfg.name, c.name, err)
				}
				if !sameBits(dst, want[i]) {
					t.Fatalf("%s: %s returned other values", cfg.name, c.name)
				}
				time.Sleep(time.Millisecond)
			}
		}
		s, err := tab.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if s.Prefetch != cfg.opts.Prefetch {
			t.Errorf("%s: Stats.Prefetch = %v", cfg.name, s.Prefetch)
		}
		switch locks := cfg.opts.LockHot > 0 || cfg.opts.LockHotIDs != nil; {
		case locks && errors.As(s.LockErr, new(*LockError)):
			t.Logf("%s: this process may not lock that much memory: %v", cfg.name, s.LockErr)
		case locks && (s.LockedBytes <= 0 || s.HotRows <= 0 || s.LockErr != nil):
			t.Errorf("%s: nothing locked: %+v", cfg.name, s)
		}
		if err := tab.Close(); err != nil {
			t.Fatalf("%s: Close: %v", cfg.name, err)
		}
	}
}

// TestColdOptionsDoNotAllocate checks that prefetch and hot-row sampling
// add no allocation to a call. (The learner allocates when it relocks, on
// its own goroutine; AllocsPerRun counts every goroutine's allocations, so
// the learner runs rarely here.)
func TestColdOptionsDoNotAllocate(t *testing.T) {
	const rows, dim, positions = 3000, 64, 64
	path, _, _ := writeTable(t, format.Layout{Rows: rows, Dim: dim, Positions: positions, PositionOffset: 2})
	calls := stressCalls(rows, dim, positions)
	plain := openTable(t, path)
	for _, cfg := range coldConfigs {
		o := cfg.opts
		if o.LockHot > 0 {
			o.LockHotInterval = time.Hour
		}
		tab, err := Open(path, &o)
		if mayNotLock(t, cfg.name, err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range calls {
			if c.name == "Stats" {
				continue
			}
			dst := make([]float32, c.n*c.dim)
			base := testing.AllocsPerRun(20, func() { c.run(plain, dst) })
			if n := testing.AllocsPerRun(20, func() { c.run(tab, dst) }); n > base {
				t.Errorf("%s: %s allocates %v times per call, %v without the options", cfg.name, c.name, n, base)
			}
		}
		tab.Close()
	}
}

// mayNotLock reports whether err says that this process may not lock
// memory (RLIMIT_MEMLOCK too low, no CAP_IPC_LOCK), logging it: the test
// then skips that configuration.
func mayNotLock(t *testing.T, what string, err error) bool {
	if errors.As(err, new(*LockError)) {
		t.Logf("%s: this process may not lock memory: %v", what, err)
		return true
	}
	return false
}

// lockedKiB returns the process's locked memory (VmLck), in KiB.
func lockedKiB(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmLck:"); ok {
			var n int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &n)
			return n
		}
	}
	t.Skip("no VmLck in /proc/self/status")
	return 0
}

// TestLockHotIDs checks that given rows are locked, page by page, and
// unlocked by Close.
func TestLockHotIDs(t *testing.T) {
	const rows, dim = 4096, 256 // 1 KiB rows, 4 to a 4 KiB page
	path, _, _ := writeTable(t, format.Layout{Rows: rows, Dim: dim})
	before := lockedKiB(t)
	ids := []int64{0, 1, 2000, 4095}
	tab, err := Open(path, &Options{LockHotIDs: ids})
	if err != nil {
		if errors.As(err, new(*LockError)) {
			t.Skipf("this process may not lock memory: %v", err)
		}
		t.Fatal(err)
	}
	s, _ := tab.Stats()
	page := int64(os.Getpagesize())
	h := tab.hot
	var wantPages []int
	for _, id := range ids {
		k := h.key(id)
		for pg := int(k >> 16); pg <= int(k>>16)+int(k&0xffff); pg++ {
			if !slices.Contains(wantPages, pg) {
				wantPages = append(wantPages, pg)
			}
		}
	}
	if s.LockedBytes != int64(len(wantPages))*page || s.HotRows != len(ids) {
		t.Errorf("locked %d bytes for %d rows; want %d pages for %d", s.LockedBytes, s.HotRows, len(wantPages), len(ids))
	}
	if got := lockedKiB(t) - before; got*1024 < s.LockedBytes {
		t.Errorf("VmLck grew by %d KiB; want %d bytes", got, s.LockedBytes)
	}
	if err := tab.Close(); err != nil {
		t.Fatal(err)
	}
	if after := lockedKiB(t); after != before {
		t.Errorf("VmLck %d KiB after Close; %d before Open", after, before)
	}
}

// TestLockHotLearns checks that the learner locks the rows the traffic
// asks for most, and follows the traffic when it moves.
func TestLockHotLearns(t *testing.T) {
	const rows, dim = 100000, 256
	path, _, _ := writeTable(t, format.Layout{Rows: rows, Dim: dim})
	tab, err := Open(path, &Options{LockHot: 4, LockHotInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	dst := make([]float32, 8*dim)
	hotLocked := func(hot []int64) bool {
		want := map[int]bool{}
		for _, id := range hot {
			k := tab.hot.key(id)
			for pg := int(k >> 16); pg <= int(k>>16)+int(k&0xffff); pg++ {
				want[pg] = true
			}
		}
		tab.hot.mu.Lock()
		defer tab.hot.mu.Unlock()
		if len(tab.hot.locked) != len(want) {
			return false
		}
		for _, pg := range tab.hot.locked {
			if !want[pg] {
				return false
			}
		}
		return true
	}
	for _, hot := range [][]int64{{10, 20000, 50000, 99999}, {7, 777, 7777, 77777}} {
		// Each call: the hot ids twice, and 8 cold ids, never repeated.
		deadline := time.Now().Add(10 * time.Second)
		cold := int64(30000)
		for !hotLocked(hot) {
			if s, _ := tab.Stats(); errors.As(s.LockErr, new(*LockError)) {
				t.Skipf("this process may not lock memory: %v", s.LockErr)
			}
			if time.Now().After(deadline) {
				t.Fatalf("hot rows %v not locked after 10 s; locked pages %v", hot, tab.hot.locked)
			}
			ids := append(append([]int64{}, hot...), hot...)
			for range 8 {
				ids = append(ids, cold)
				if cold++; cold == rows {
					cold = 30000
				}
			}
			dst := dst[:0]
			dst = append(dst, make([]float32, len(ids)*dim)...)
			if err := tab.Lookup(dst, ids); err != nil {
				t.Fatal(err)
			}
		}
	}
	if s, _ := tab.Stats(); s.LockErr != nil {
		t.Fatal(s.LockErr)
	}
}

// TestLockRefused checks what happens when the kernel refuses to lock:
// Open with given rows fails with a *LockError that says what to do and
// leaves nothing locked; learned rows stay unlocked, lookups go on, and
// OnLockError and Stats report it.
func TestLockRefused(t *testing.T) {
	path, tokens, _ := writeTable(t, format.Layout{Rows: 1000, Dim: 64})
	defer func(f func([]byte) error) { mlockRange = f }(mlockRange)
	calls := 0
	mlockRange = func(b []byte) error {
		if calls++; calls > 1 { // the first run of pages "locks", the next is refused
			return unix.ENOMEM
		}
		return nil
	}
	_, err := Open(path, &Options{LockHotIDs: []int64{0, 500, 999}})
	var le *LockError
	if !errors.As(err, &le) || !errors.Is(err, unix.ENOMEM) || le.Rows != 3 || !strings.Contains(err.Error(), "RLIMIT_MEMLOCK") {
		t.Fatalf("Open with refused lock = %v; want a *LockError (ENOMEM) naming RLIMIT_MEMLOCK", err)
	}
	if got := lockedKiB(t); got != 0 && calls > 0 {
		t.Logf("VmLck %d KiB after the refused Open", got) // other tests' tables are closed: expect 0
	}

	mlockRange = func([]byte) error { return unix.EPERM }
	reported := make(chan error, 100)
	tab, err := Open(path, &Options{LockHot: 2, LockHotInterval: time.Millisecond, OnLockError: func(err error) {
		select {
		case reported <- err:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	dst := make([]float32, 64)
	var got error
	for deadline := time.Now().Add(10 * time.Second); got == nil && time.Now().Before(deadline); {
		if err := tab.Lookup(dst, []int64{3}); err != nil {
			t.Fatal(err)
		}
		select {
		case got = <-reported:
		case <-time.After(time.Millisecond):
		}
	}
	if !errors.As(got, &le) || !errors.Is(got, unix.EPERM) {
		t.Fatalf("OnLockError got %v; want a *LockError (EPERM)", got)
	}
	if !slicesEqual(dst, tokens[3*64:4*64]) {
		t.Fatal("wrong row while locking fails")
	}
	if s, _ := tab.Stats(); !errors.Is(s.LockErr, unix.EPERM) || s.LockedBytes != 0 {
		t.Fatalf("Stats: LockErr %v, LockedBytes %d", s.LockErr, s.LockedBytes)
	}
}

// TestColdOptionErrors checks that bad option values are *OptionErrors.
func TestColdOptionErrors(t *testing.T) {
	path, _, _ := writeTable(t, format.Layout{Rows: 100, Dim: 8})
	for _, c := range []struct {
		opts   Options
		option string
	}{
		{Options{LockHot: -1}, "LockHot"},
		{Options{LockHot: 101}, "LockHot"},
		{Options{LockHot: 2, LockHotIDs: []int64{1}}, "LockHot"},
		{Options{LockHotIDs: []int64{1, 100}}, "LockHotIDs"},
		{Options{LockHotIDs: []int64{-1}}, "LockHotIDs"},
		{Options{LockHot: 1, LockHotInterval: -time.Second}, "LockHotInterval"},
	} {
		_, err := Open(path, &c.opts)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != c.option {
			t.Errorf("Open(%+v) = %v; want an *OptionError for %s", c.opts, err, c.option)
		}
	}
	copyOutForTest = true
	defer func() { copyOutForTest = false }()
	for _, o := range []Options{{Prefetch: true}, {LockHot: 1}} {
		if _, err := Open(path, &o); !errors.As(err, new(*OptionError)) {
			t.Errorf("copy-out Open(%+v) = %v; want an *OptionError", o, err)
		}
	}
}

// TestColdCloseUnderLoad closes tables with prefetch and hot-row locking
// while every call kind runs on them (run it with -race): calls return the
// right bits or ErrClosed, and Close stops the touchers and the learner.
func TestColdCloseUnderLoad(t *testing.T) {
	const rows, dim, positions = 3000, 64, 64
	path, _, _ := writeTable(t, format.Layout{Rows: rows, Dim: dim, Positions: positions, PositionOffset: 2})
	calls := stressCalls(rows, dim, positions)
	want := make([][]float32, len(calls))
	plain := openTable(t, path)
	for i, c := range calls {
		want[i] = make([]float32, c.n*c.dim)
		if err := c.run(plain, want[i]); err != nil {
			t.Fatal(err)
		}
	}
	for _, cfg := range coldConfigs {
		for round := range 3 {
			tab, err := Open(path, &cfg.opts)
			if mayNotLock(t, cfg.name, err) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			var ok, closed atomic.Int64
			var wg sync.WaitGroup
			goroutines := 2 * len(calls)
			for g := range goroutines {
				c, w := calls[g%len(calls)], want[g%len(calls)]
				wg.Add(1)
				go func() {
					defer wg.Done()
					dst := make([]float32, len(w))
					for {
						err := c.run(tab, dst)
						if errors.Is(err, ErrClosed) {
							closed.Add(1)
							return
						}
						if err != nil || !sameBits(dst, w) {
							t.Errorf("%s: %s: %v (or other values)", cfg.name, c.name, err)
							return
						}
						ok.Add(1)
					}
				}()
			}
			for ok.Load() < int64(goroutines) {
				time.Sleep(100 * time.Microsecond)
			}
			time.Sleep(time.Duration(round) * 2 * time.Millisecond)
			if err := tab.Close(); err != nil {
				t.Fatalf("%s: Close: %v", cfg.name, err)
			}
			wg.Wait()
			if closed.Load() != int64(goroutines) {
				t.Fatalf("%s: %d of %d goroutines saw ErrClosed", cfg.name, closed.Load(), goroutines)
			}
			checkClosed(t, tab, calls)
		}
	}
}
