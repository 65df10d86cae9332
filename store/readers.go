package store

import (
	"math/bits"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"
)

// readers counts the goroutines inside a Table's methods, so that Close can
// wait for them to leave before it unmaps the file, without a lock that every
// call writes. See "Concurrency and lifetimes" in the package documentation
// for the design and its cost on many cores.
//
// A call enters by adding 1 to one of many counters (stripes, each on its
// own pair of cache lines), then reads the closing flag; it leaves by
// subtracting 1 from the same stripe. Close sets the flag, then waits until
// every stripe reads 0. Go's atomic operations are sequentially consistent,
// so for any call and Close either the call sees the flag (and leaves at
// once with ErrClosed) or Close sees the call's increment (and waits for it):
// no call ever reads the mapping after Close has unmapped it.
//
// A call inside another (Lookup inside a View callback) enters again; there
// is no lock to deadlock on. Once Close has begun, the inner call fails with
// ErrClosed, the callback returns and Close proceeds.
type readers struct {
	closing atomic.Bool
	_       [cacheLinePair - 4]byte // keep the flag's line read-only for callers
	stripes []stripe
	shift   uint // 64 - log2(len(stripes))
}

// cacheLinePair is the size of two cache lines: x86 CPUs fetch lines in
// adjacent pairs, so counters closer than that still share traffic.
const cacheLinePair = 128

// A stripe is one reader counter, alone on its cache lines.
type stripe struct {
	n atomic.Int64
	_ [cacheLinePair - 8]byte
}

// Stripes per table: 8 per GOMAXPROCS at Open, a power of two from 16 to
// 4096, so that goroutines running at the same time rarely share one.
const (
	stripesPerProc = 8
	minStripes     = 16
	maxStripes     = 4096
)

func newReaders() *readers {
	n := min(max(stripesPerProc*runtime.GOMAXPROCS(0), minStripes), maxStripes)
	n = 1 << bits.Len(uint(n-1)) // round up to a power of two
	return &readers{stripes: make([]stripe, n), shift: uint(64 - bits.TrailingZeros(uint(n)))}
}

// enter registers a call and returns its stripe, or nil if the table is
// closing or closed.
//
// The stripe is chosen from the address of the calling goroutine's stack:
// goroutines running at the same time have different stacks, a goroutine
// keeps its stack from call to call (so its stripe stays in its core's
// cache), and the runtime hands a P's freed stacks to that P's next
// goroutines. A Fibonacci hash spreads the addresses over the stripes.
func (r *readers) enter() *stripe {
	var here byte
	h := uint64(uintptr(unsafe.Pointer(&here))>>10) * 0x9e3779b97f4a7c15
	s := &r.stripes[h>>r.shift]
	s.n.Add(1)
	if r.closing.Load() {
		s.n.Add(-1)
		return nil
	}
	return s
}

// leave ends a call that enter registered.
func (s *stripe) leave() { s.n.Add(-1) }

// close marks the table closing, so that every later enter fails, and waits
// until the calls in progress have left. It returns false if the table was
// already closing.
func (r *readers) close() bool {
	if !r.closing.CompareAndSwap(false, true) {
		return false
	}
	wait := time.Microsecond
	for i := range r.stripes {
		for r.stripes[i].n.Load() != 0 {
			// Calls in progress take microseconds; View callbacks as
			// long as they like. Poll, backing off to a millisecond.
			time.Sleep(wait)
			wait = min(2*wait, time.Millisecond)
		}
	}
	return true
}
