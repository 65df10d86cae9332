package store

import (
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
)

// Prefetch says how a call asks for the pages of its rows before it reads
// them (Options.Prefetch). Reading a row that is not in memory takes a page
// fault that waits for the disk; a gather takes its faults one after
// another, so a batch with k cold rows waits k disk reads. Prefetching
// starts the reads of the whole batch first, so that they overlap.
type Prefetch int

// The prefetch strategies.
const (
	// PrefetchOff reads rows as they are gathered.
	PrefetchOff Prefetch = iota
	// PrefetchWillNeed advises the kernel that the pages of the batch's
	// rows will be needed (MADV_WILLNEED on each run of adjacent pages,
	// sorted and coalesced; on Linux one process_madvise call per 512 ids),
	// which starts reading the missing ones, then gathers. Pages already in
	// memory cost the kernel a look-up each.
	PrefetchWillNeed
	// PrefetchTouch has a pool of goroutines read one byte of every page of
	// the batch's rows, spread across them, then gathers. The faults overlap
	// only as far as the goroutines run at once: a goroutine in a page fault
	// holds its thread, so at most GOMAXPROCS faults are outstanding.
	PrefetchTouch
)

var prefetchNames = []string{"off", "willneed", "touch"}

func (p Prefetch) String() string {
	if int(p) >= 0 && int(p) < len(prefetchNames) {
		return prefetchNames[p]
	}
	return fmt.Sprintf("Prefetch(%d)", int(p))
}

// ParsePrefetch returns the Prefetch named s, as String spells it.
func ParsePrefetch(s string) (Prefetch, error) {
	for i, name := range prefetchNames {
		if s == name {
			return Prefetch(i), nil
		}
	}
	return 0, fmt.Errorf("unknown prefetch %q (want off, willneed or touch)", s)
}

// prefetchChunk is how many ids one prefetch step covers: one vectored
// madvise call (at most 1024 ranges, the kernel's UIO_MAXIOV).
const prefetchChunk = 512

// touchers is the number of goroutines of PrefetchTouch.
const touchers = 8

// A pageRun is a run of pages [first, last] of the mapping, in pages.
type pageRun struct{ first, last int }

// rowPages describes where the token rows lie in a mapping, in pages.
type rowPages struct {
	data     []byte // the whole mapping, which starts on a page boundary
	base     int    // offset of row 0 in data
	stride   int    // bytes from one row to the next
	rowBytes int    // bytes of one row that lookups read
	rows     int64
	page     int
}

// key returns row id's first page and page count as one sortable value.
func (r *rowPages) key(id int64) uint64 {
	off := r.base + int(id)*r.stride
	first, last := off/r.page, (off+r.rowBytes-1)/r.page
	return uint64(first)<<16 | uint64(last-first)
}

// runs sorts keys (from key) and coalesces them into runs of adjacent or
// overlapping pages, appended to dst.
func runs(dst []pageRun, keys []uint64) []pageRun {
	slices.Sort(keys)
	for _, k := range keys {
		first := int(k >> 16)
		last := first + int(k&0xffff)
		if n := len(dst); n > 0 && first <= dst[n-1].last+1 {
			dst[n-1].last = max(dst[n-1].last, last)
			continue
		}
		dst = append(dst, pageRun{first, last})
	}
	return dst
}

// A prefetcher runs one Prefetch strategy over a table's rows.
type prefetcher struct {
	rowPages
	kind  Prefetch
	work  chan touchPiece // PrefetchTouch: the touchers' pieces
	wg    sync.WaitGroup  // running touchers
	vecOK bool            // PrefetchWillNeed: vectored madvise works (set at start)
}

// prefetchScratch holds the buffers of one prefetch step, recycled so that
// calls do not allocate.
type prefetchScratch struct {
	keys [prefetchChunk]uint64
	runs [prefetchChunk]pageRun
	wg   sync.WaitGroup
}

var prefetchPool = sync.Pool{New: func() any { return new(prefetchScratch) }}

// A touchPiece is the part of a step's runs one toucher reads.
type touchPiece struct {
	runs []pageRun
	wg   *sync.WaitGroup
}

func newPrefetcher(rp rowPages, kind Prefetch) *prefetcher {
	p := &prefetcher{rowPages: rp, kind: kind}
	switch kind {
	case PrefetchWillNeed:
		p.vecOK = vectoredAdviceWorks()
	case PrefetchTouch:
		p.work = make(chan touchPiece, touchers)
		p.wg.Add(touchers)
		for range touchers {
			go p.toucher()
		}
	}
	return p
}

// close stops the touchers.
func (p *prefetcher) close() {
	if p.work != nil {
		close(p.work)
		p.wg.Wait()
	}
}

// batch prefetches the pages of the rows of ids. Ids outside the table are
// skipped: the arguments were checked, and an id changed since is the
// gather's to report. It runs inside a call of the table (the mapping is
// valid) and under guard: a fault while touching is the call's fault.
func (p *prefetcher) batch(ids []int64) {
	s := prefetchPool.Get().(*prefetchScratch)
	defer prefetchPool.Put(s)
	for lo := 0; lo < len(ids); lo += prefetchChunk {
		keys := s.keys[:0]
		for _, id := range ids[lo:min(lo+prefetchChunk, len(ids))] {
			if uint64(id) < uint64(p.rows) {
				keys = append(keys, p.key(id))
			}
		}
		rs := runs(s.runs[:0], keys)
		if p.kind == PrefetchTouch {
			p.touchAll(rs, &s.wg)
		} else {
			p.willNeed(rs)
		}
	}
}

// willNeed advises MADV_WILLNEED on each run.
func (p *prefetcher) willNeed(rs []pageRun) {
	if len(rs) == 0 {
		return
	}
	if p.vecOK && adviseWillNeedVec(p.data, rs, p.page) {
		return
	}
	for _, r := range rs {
		adviseWillNeed(p.data[r.first*p.page : min(len(p.data), (r.last+1)*p.page)])
	}
}

// touchAll spreads the runs over the touchers and the caller, and waits for
// all of them.
func (p *prefetcher) touchAll(rs []pageRun, wg *sync.WaitGroup) {
	pieces := min(len(rs), touchers+1)
	if pieces == 0 {
		return
	}
	for i := 1; i < pieces; i++ {
		wg.Add(1)
		p.work <- touchPiece{runs: rs[len(rs)*i/pieces : len(rs)*(i+1)/pieces], wg: wg}
	}
	defer wg.Wait() // even if the caller's part faults: the touchers use rs
	p.touch(rs[:len(rs)/pieces])
}

func (p *prefetcher) toucher() {
	defer p.wg.Done()
	debug.SetPanicOnFault(true)
	for pc := range p.work {
		_ = guard(func() error { p.touch(pc.runs); return nil }) // a fault shows again in the gather
		pc.wg.Done()
	}
}

// touch reads one byte of every page of rs.
func (p *prefetcher) touch(rs []pageRun) {
	var sum byte
	for _, r := range rs {
		for pg := r.first; pg <= r.last; pg++ {
			sum += p.data[pg*p.page]
		}
	}
	prefetchSink.Store(uint32(sum))
}

// prefetchSink keeps the touching reads from being optimised away.
var prefetchSink atomic.Uint32
