package torchinit

import (
	"fmt"
	"runtime"
)

// streamBuffers is how many chunks Stream has in flight: one being
// computed, one being written, one ready in between.
const streamBuffers = 3

// Stream hands the tensor's remaining values to write, in order, in chunks
// of chunk values (the last one may be shorter), and returns the first
// error write returns. The slice write gets is valid only during the call.
//
// When more than one goroutine can run at once (GOMAXPROCS > 1), Stream
// draws and transforms the next chunks on a second goroutine while write
// runs, with at most three chunks in memory; otherwise it alternates the
// two on the calling goroutine. Either way the values and the generator
// state afterwards are those of Fill. Nothing else may use the tensor or
// its generator until Stream returns.
func (t *Tensor) Stream(chunk int, write func([]float32) error) error {
	if chunk <= 0 {
		return fmt.Errorf("torchinit: stream chunk of %d values", chunk)
	}
	if t.Remaining() <= int64(chunk) || runtime.GOMAXPROCS(0) < 2 {
		buf := make([]float32, min(int64(chunk), t.Remaining()))
		for {
			n := t.Fill(buf)
			if n == 0 {
				return nil
			}
			if err := write(buf[:n]); err != nil {
				return err
			}
		}
	}
	free := make(chan []float32, streamBuffers)
	full := make(chan []float32, streamBuffers)
	stop := make(chan struct{})
	for range streamBuffers {
		free <- make([]float32, chunk)
	}
	go func() {
		defer close(full)
		for {
			var buf []float32
			select {
			case buf = <-free:
			case <-stop:
				return
			}
			n := t.Fill(buf)
			if n == 0 {
				return
			}
			full <- buf[:n]
		}
	}()
	for buf := range full {
		if err := write(buf); err != nil {
			close(stop)
			for range full {
				// Wait for the producer to finish the chunk it is on.
			}
			return err
		}
		free <- buf[:cap(buf)]
	}
	return nil
}
