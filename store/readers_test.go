package store

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/embstore/embstore/format"
)

// within fails the test if fn does not return within d: a deadlock fails
// the test instead of hanging it.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v: deadlock", what, d)
	}
}

// TestNestedLookupDuringClose is the regression test for the deadlock of
// issue 8: a Lookup inside a View callback, while another goroutine calls
// Close. With a reader-writer lock the nested read lock queued behind the
// waiting Close, which waited for the View: both hung forever. Now the
// nested call fails with ErrClosed, the callback returns and Close
// finishes.
func TestNestedLookupDuringClose(t *testing.T) {
	path, tokens, _ := writeTable(t, format.Layout{Rows: 64, Dim: 8})
	for _, threads := range []int{0, 4} {
		tab, err := Open(path, &Options{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		inView := make(chan struct{})
		var nestedBefore, nestedAfter, closeErr error
		var closed atomic.Bool
		within(t, 10*time.Second, "View with a nested Lookup racing Close", func() {
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-inView
				closeErr = tab.Close()
				closed.Store(true)
			}()
			err := tab.View(func(v View) error {
				dst := make([]float32, 8)
				nestedBefore = tab.Lookup(dst, []int64{3}) // no Close yet: works
				if nestedBefore == nil && !slicesEqual(dst, tokens[3*8:4*8]) {
					t.Error("nested Lookup returned other values")
				}
				close(inView)
				time.Sleep(50 * time.Millisecond) // Close is now waiting for this callback
				if closed.Load() {
					t.Error("Close returned while a View callback was running")
				}
				nestedAfter = tab.Lookup(dst, []int64{3})
				if !nativeLittleEndian {
					return nil // rows cannot be viewed in place (TestView)
				}
				row, err := v.Row(5) // the mapping is still there
				if err == nil && row[0] != tokens[5*8] {
					t.Error("View row changed while Close waited")
				}
				return err
			})
			if err != nil {
				t.Errorf("View: %v", err)
			}
			wg.Wait()
		})
		if nestedBefore != nil || !errors.Is(nestedAfter, ErrClosed) || closeErr != nil {
			t.Errorf("threads=%d: nested Lookup before Close %v, after Close began %v (want ErrClosed); Close %v",
				threads, nestedBefore, nestedAfter, closeErr)
		}
	}
}

// TestCloseWaitsForCalls: under load from many goroutines (each also
// nesting calls inside View), Close returns only when no call is inside the
// table, every later call fails with ErrClosed, and nothing reads unmapped
// memory (a read after the unmap would crash the test binary).
func TestCloseWaitsForCalls(t *testing.T) {
	path, _, _ := writeTable(t, format.Layout{Rows: 512, Dim: 32, Positions: 8})
	for round := range 20 {
		tab, err := Open(path, &Options{Threads: 2 + round%3})
		if err != nil {
			t.Fatal(err)
		}
		var inside atomic.Int64
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for g := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ids := []int64{int64(g), int64(g * 7), int64(g * 31)}
				dst := make([]float32, len(ids)*32)
				var sum float32
				defer func() { _ = sum }()
				for {
					err := tab.View(func(v View) error {
						inside.Add(1)
						defer inside.Add(-1)
						if nativeLittleEndian { // else rows cannot be viewed in place (TestView)
							row, err := v.Row(ids[1])
							if err != nil {
								return err
							}
							sum += row[31]
						}
						if err := tab.Lookup(dst, ids); err != nil {
							return err
						}
						return tab.LookupPositions(dst, ids, 3, 0)
					})
					if errors.Is(err, ErrClosed) {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
					select {
					case <-stop:
						return
					default:
					}
				}
			}()
		}
		time.Sleep(time.Duration(round%4) * time.Millisecond)
		within(t, 10*time.Second, "Close under load", func() {
			if err := tab.Close(); err != nil {
				t.Error(err)
			}
		})
		if n := inside.Load(); n != 0 {
			t.Fatalf("round %d: Close returned with %d View callbacks running", round, n)
		}
		close(stop)
		wg.Wait()
		if err := tab.Lookup(make([]float32, 32), []int64{1}); !errors.Is(err, ErrClosed) {
			t.Fatalf("Lookup after Close = %v", err)
		}
	}
}

// TestReaderStripes: the stripe count follows GOMAXPROCS within its bounds
// and is a power of two, and enter/leave balance.
func TestReaderStripes(t *testing.T) {
	r := newReaders()
	n := len(r.stripes)
	if n < minStripes || n > maxStripes || n&(n-1) != 0 {
		t.Fatalf("%d stripes", n)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				s := r.enter()
				s.leave()
			}
		}()
	}
	wg.Wait()
	for i := range r.stripes {
		if v := r.stripes[i].n.Load(); v != 0 {
			t.Fatalf("stripe %d holds %d after balanced calls", i, v)
		}
	}
	if !r.close() || r.close() {
		t.Fatal("close should succeed once")
	}
	if r.enter() != nil {
		t.Fatal("enter succeeded after close")
	}
}
