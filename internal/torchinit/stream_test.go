package torchinit

import (
	"errors"
	"math"
	"runtime"
	"slices"
	"testing"
)

// TestStreamMatchesFill checks that Stream hands out exactly what Fill
// does, in chunks of the requested size, on one and on two goroutines, for
// both inits and paths and sizes around the chunk size, and leaves the
// generator where Fill does.
func TestStreamMatchesFill(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2} {
		runtime.GOMAXPROCS(procs)
		for _, path := range paths {
			for _, in := range []Init{Embedding(), Uniform(-1, 2)} {
				for _, c := range []struct{ n, chunk int }{
					{10, 4}, {100, 100}, {1000, 999}, {1000, 1000}, {1000, 1001}, {4099, 64}, {70000, 4096}, {70001, 17},
				} {
					want := make([]float32, c.n)
					wg := NewGenerator(77)
					wt, err := wg.NewTensor(int64(c.n), in, path)
					if err != nil {
						t.Fatal(err)
					}
					wt.Fill(want)

					g := NewGenerator(77)
					ten, err := g.NewTensor(int64(c.n), in, path)
					if err != nil {
						t.Fatal(err)
					}
					var got []float32
					err = ten.Stream(c.chunk, func(v []float32) error {
						if len(v) != c.chunk && len(got)+len(v) != c.n {
							t.Errorf("chunk of %d values in the middle, want %d", len(v), c.chunk)
						}
						got = append(got, v...)
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
					if !slices.EqualFunc(got, want, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
						t.Fatalf("GOMAXPROCS %d %v %v n %d chunk %d: streamed values differ from Fill's", procs, path, in, c.n, c.chunk)
					}
					if ten.Remaining() != 0 {
						t.Fatalf("%d values remaining", ten.Remaining())
					}
					if a, b := g.random(), wg.random(); a != b {
						t.Fatalf("GOMAXPROCS %d %v %v n %d chunk %d: generator state differs afterwards", procs, path, in, c.n, c.chunk)
					}
				}
			}
		}
	}
}

// TestStreamError checks that Stream returns write's error at once and
// stops drawing.
func TestStreamError(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	boom := errors.New("boom")
	for _, procs := range []int{1, 2} {
		runtime.GOMAXPROCS(procs)
		ten, err := NewGenerator(1).NewTensor(1<<20, Embedding(), MathAVX2)
		if err != nil {
			t.Fatal(err)
		}
		calls := 0
		err = ten.Stream(1000, func([]float32) error {
			calls++
			if calls == 3 {
				return boom
			}
			return nil
		})
		if !errors.Is(err, boom) || calls != 3 {
			t.Fatalf("GOMAXPROCS %d: err %v after %d calls, want boom after 3", procs, err, calls)
		}
		// The producer has stopped: at most the chunks in flight were drawn.
		if drawn := ten.Len() - ten.Remaining(); drawn > 1000*(3+streamBuffers) {
			t.Fatalf("GOMAXPROCS %d: %d values drawn after the error", procs, drawn)
		}
	}
	if err := smallTensor(t).Stream(0, func([]float32) error { return nil }); err == nil {
		t.Error("chunk 0 accepted")
	}
}

func smallTensor(t *testing.T) *Tensor {
	ten, err := NewGenerator(1).NewTensor(10, Embedding(), MathAVX2)
	if err != nil {
		t.Fatal(err)
	}
	return ten
}
