package store

import (
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/embstore/embstore/kernel"
)

// minRowsPerPiece and minBytesPerPiece bound the smallest piece of a call
// worth handing to another goroutine. Waking a parked worker costs tens of
// microseconds (about 37 us measured on a 2-vCPU VM), so a piece must take
// a few hundred: a megabyte of output is about 0.2 to 0.3 ms of gathering
// on one core.
// They are variables so that tests can make small calls split.
var (
	minRowsPerPiece  = 256
	minBytesPerPiece = 1 << 20
)

// A pool is a fixed set of worker goroutines, started by Open and stopped by
// Close, that run pieces of large calls. Workers read the mapping, so each
// runs with panic-on-fault set for its whole life and returns a fault as its
// piece's error.
type pool struct {
	work chan piece
	wg   sync.WaitGroup // running workers
	spin time.Duration  // how long idle workers poll before sleeping
}

// A piece is the part [lo, hi) of a job: rows for a gather, bags for a bag
// call.
type piece struct {
	j      *job
	lo, hi int
}

type jobKind int

const (
	jobGather jobKind = iota
	jobBag
	jobPieces // runner does each piece (nearest.go)
)

// A pieceRunner does the part [lo, hi) of a job of kind jobPieces.
type pieceRunner interface {
	runPiece(lo, hi int) error
}

// A job is one split call: its arguments, and what the pieces report. Jobs
// are recycled through jobPool so that a split call does not allocate.
type job struct {
	kind    jobKind
	tab     *kernel.Table
	dst     []float32
	ids     []int64
	pos     kernel.Positions
	hasPos  bool
	offsets []int64
	mode    kernel.BagMode
	weights []float32
	pad     int64
	runner  pieceRunner

	wg  sync.WaitGroup
	mu  sync.Mutex
	err error
}

var jobPool = sync.Pool{New: func() any { return new(job) }}

func newJob() *job {
	j := jobPool.Get().(*job)
	*j = job{}
	return j
}

func (j *job) release() {
	j.tab, j.dst, j.ids, j.offsets, j.weights, j.runner = nil, nil, nil, nil, nil, nil
	jobPool.Put(j)
}

// run does the part [lo, hi) of the job. Ids were checked before the job was
// split, so the kernel reports no bad id. A piece that does not start at 0
// needs its own positions (another phase): it writes them to scratch, which
// each goroutine keeps for its lifetime so that pieces do not allocate.
func (j *job) run(lo, hi int, scratch *kernel.Positions) error {
	dim := j.tab.Dim
	switch j.kind {
	case jobPieces:
		return j.runner.runPiece(lo, hi)
	case jobGather:
		var pos *kernel.Positions
		if j.hasPos {
			pos = &j.pos
			if lo > 0 {
				*scratch = j.pos
				scratch.Phase = (j.pos.Phase + lo) % j.pos.SeqLen
				pos = scratch
			}
		}
		_, err := kernel.Gather(j.dst[lo*dim:hi*dim], j.tab, j.ids[lo:hi], pos)
		return err
	default:
		first, end := j.offsets[lo], int64(len(j.ids))
		if hi < len(j.offsets) {
			end = j.offsets[hi]
		}
		var w []float32
		if j.weights != nil {
			w = j.weights[first:end]
		}
		_, err := kernel.Bag(j.dst[lo*dim:hi*dim], j.tab, j.ids[first:end], j.offsets[lo:hi], j.mode, w, j.pad)
		return err
	}
}

func (j *job) setErr(err error) {
	if err == nil {
		return
	}
	j.mu.Lock()
	if j.err == nil {
		j.err = err
	}
	j.mu.Unlock()
}

func newPool(workers int, spin time.Duration) *pool {
	p := &pool{work: make(chan piece, workers), spin: spin}
	p.wg.Add(workers)
	for range workers {
		go p.worker()
	}
	return p
}

func (p *pool) worker() {
	defer p.wg.Done()
	debug.SetPanicOnFault(true)
	var scratch kernel.Positions
	for {
		pc, ok := p.next()
		if !ok {
			return
		}
		pc.j.setErr(guard(func() error { return pc.j.run(pc.lo, pc.hi, &scratch) }))
		pc.j.wg.Done()
	}
}

// DefaultWorkerSpin is how long idle workers poll for the next piece before
// they sleep, unless Options.WorkerSpin says otherwise. Measured on a
// 16-core Xeon, 8192-id batches of a 50257 x 768 table at 16 threads: 15 M
// rows/s when workers sleep at once, 20-22 M with 200 us of polling (bags:
// 27 M against 41-45 M), because waking sleeping threads costs tens of
// microseconds per batch of half a millisecond.
const DefaultWorkerSpin = 200 * time.Microsecond

// next returns the next piece, polling for up to p.spin before blocking,
// and false once the pool is closed.
func (p *pool) next() (piece, bool) {
	if p.spin > 0 {
		deadline := time.Now().Add(p.spin)
		for time.Now().Before(deadline) {
			select {
			case pc, ok := <-p.work:
				return pc, ok
			default:
				runtime.Gosched()
			}
		}
	}
	pc, ok := <-p.work
	return pc, ok
}

// close stops the workers once they have finished their pieces.
func (p *pool) close() {
	close(p.work)
	p.wg.Wait()
}

// piecesFor returns how many pieces a call of n rows or bags, holding units
// rows of dim values to read, is split into with the given number of
// workers: 1 when the pieces would be too small to pay for a hand-off.
func piecesFor(units, n, dim, workers int) int {
	minUnits := max(minRowsPerPiece, minBytesPerPiece/(4*dim))
	return max(1, min(workers+1, units/minUnits, n))
}

// do runs job j over its n units (rows or bags), in pieces when it is large
// enough and there is a pool: the caller's goroutine runs the first piece and
// workers the others, and do returns once all have finished, even if one
// faulted.
func (p *pool) do(j *job, n int) error {
	pieces := 1
	if p != nil {
		units := n
		if j.kind == jobBag {
			units = len(j.ids) // balance bags by the ids they pool
		}
		pieces = piecesFor(units, n, j.tab.Dim, cap(p.work))
	}
	if pieces < 2 {
		return j.run(0, n, nil)
	}
	bounds := func(i int) int {
		switch {
		case i >= pieces:
			return n
		case j.kind == jobBag:
			target := int64(len(j.ids)) * int64(i) / int64(pieces)
			return sort.Search(n, func(b int) bool { return j.offsets[b] >= target })
		}
		return n * i / pieces
	}
	first := bounds(1)
	for i := 1; i < pieces; i++ {
		lo, hi := bounds(i), bounds(i+1)
		if lo < hi {
			j.wg.Add(1)
			p.work <- piece{j: j, lo: lo, hi: hi}
		}
	}
	func() {
		// Wait for the workers even if the caller's piece panics with
		// something other than a memory fault: they still use the job and
		// the mapping, which the caller's return would give up.
		defer j.wg.Wait()
		if first > 0 {
			j.setErr(guard(func() error { return j.run(0, first, nil) }))
		}
	}()
	return j.err
}
