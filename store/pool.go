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
)

// A job is one split call: its arguments, and what the pieces report. Jobs
// are recycled through jobPool so that a split call does not allocate.
type job struct {
	kind jobKind
	tab  *kernel.Table
	dst  []float32
	ids  []int64         // gather
	pos  *kernel.Table   // gather: the positional table, or nil
	seq  kernel.Sequence // gather: the positions of ids[0:]
	bags kernel.Bags     // bag
	mode kernel.BagMode
	pad  int64

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
	*j = job{}
	jobPool.Put(j)
}

// run does the part [lo, hi) of the job: ids, or bags. The arguments were
// checked before the job was split, so the kernel reports no error but a
// fault, or an id that the caller changed during the call (an *IDError,
// its index relative to the piece: run makes it relative to the job).
func (j *job) run(lo, hi int) error {
	dim := j.tab.Dim()
	var err error
	base := lo // where the piece's ids start in the job's
	switch {
	case j.kind == jobBag:
		err = kernel.Bag(j.dst[lo*dim:hi*dim], j.tab, j.bags.Slice(lo, hi), j.mode, j.pad)
		if lo < hi {
			base = int(j.bags.Offsets()[lo] - j.bags.Offsets()[0])
		}
	case j.pos == nil:
		err = kernel.Gather(j.dst[lo*dim:hi*dim], j.tab, j.ids[lo:hi])
	default:
		seq := j.seq
		seq.Phase = (seq.Phase + lo) % seq.Len
		err = kernel.GatherPositions(j.dst[lo*dim:hi*dim], j.tab, j.ids[lo:hi], j.pos, seq)
	}
	if ie, ok := err.(*kernel.IDError); ok && base > 0 {
		c := *ie
		c.Index += base
		return &c
	}
	return err
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
	for {
		pc, ok := p.next()
		if !ok {
			return
		}
		pc.j.setErr(guard(func() error { return pc.j.run(pc.lo, pc.hi) }))
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

// splits reports whether a call of n rows or bags holding units rows of
// dim values is split into pieces: when it is not, the caller runs the
// kernel itself, without a job (small calls, where a job's set-up is a
// fifth of the call).
func (p *pool) splits(units, n, dim int) bool {
	return p != nil && piecesFor(units, n, dim, cap(p.work)) > 1
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
			units = len(j.bags.IDs()) // balance bags by the ids they pool
		}
		pieces = piecesFor(units, n, j.tab.Dim(), cap(p.work))
	}
	if pieces < 2 {
		return j.run(0, n)
	}
	bounds := func(i int) int {
		switch {
		case i >= pieces:
			return n
		case j.kind == jobBag:
			offsets := j.bags.Offsets()
			target := int64(len(j.bags.IDs())) * int64(i) / int64(pieces)
			return sort.Search(n, func(b int) bool { return offsets[b] >= target })
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
			j.setErr(guard(func() error { return j.run(0, first) }))
		}
	}()
	return j.err
}
