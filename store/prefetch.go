package store

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// residentCheckInterval is how often a prefetcher checks whether every
// page of the token rows is in memory.
const residentCheckInterval = time.Second

// prefetchChunk is how many ids one prefetch step covers: one vectored
// madvise call (at most 1024 ranges, the kernel's UIO_MAXIOV).
const prefetchChunk = 512

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

// A prefetcher asks the kernel for the pages of a batch's rows before
// they are gathered (Options.Prefetch).
type prefetcher struct {
	rowPages
	vecOK bool // vectored madvise works (checked at start)
	// resident is set while every page of the token rows was in memory at
	// the last check (every residentCheckInterval, by mincore): batches
	// then skip the advice, which costs the kernel about as much for a
	// page in memory as for one on disk. A table that fits in memory thus
	// pays for prefetching only until it is all read in.
	resident atomic.Bool
	stop     chan struct{}
	done     chan struct{}
}

// prefetchScratch holds the buffers of one prefetch step, recycled so that
// calls do not allocate.
type prefetchScratch struct {
	keys [prefetchChunk]uint64
	runs [prefetchChunk]pageRun
}

var prefetchPool = sync.Pool{New: func() any { return new(prefetchScratch) }}

func newPrefetcher(rp rowPages) *prefetcher {
	p := &prefetcher{rowPages: rp, vecOK: vectoredAdviceWorks(), stop: make(chan struct{}), done: make(chan struct{})}
	go p.watch(residentCheckInterval)
	return p
}

// watch sets p.resident from the residency of the token rows' pages every
// interval until close. Where residency cannot be read, resident stays
// false and every batch is advised.
func (p *prefetcher) watch(interval time.Duration) {
	defer close(p.done)
	lo := p.base / p.page * p.page
	hi := min(len(p.data), p.base+int(p.rows-1)*p.stride+p.rowBytes)
	rows := p.data[lo:hi]
	vec := make([]byte, (len(rows)+p.page-1)/p.page)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		p.resident.Store(allResident(rows, vec))
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
	}
}

// close stops the residency checks, before the table is unmapped.
func (p *prefetcher) close() {
	close(p.stop)
	<-p.done
}

// batch advises MADV_WILLNEED on the pages of the rows of ids (unless the
// whole table was in memory at the last check): sorted,
// coalesced into runs of adjacent pages, and on Linux passed to one
// process_madvise call per prefetchChunk ids (else one madvise per run).
// The kernel starts reading the pages that are not in memory and returns;
// the gather that follows then waits for reads already under way, which
// overlap, instead of taking its faults one after another. Ids outside the
// table are skipped: the arguments were checked, and an id changed since is
// the gather's to report.
func (p *prefetcher) batch(ids []int64) {
	if p.resident.Load() {
		return
	}
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
		if len(rs) == 0 || (p.vecOK && adviseWillNeedVec(p.data, rs, p.page)) {
			continue
		}
		for _, r := range rs {
			adviseWillNeed(p.data[r.first*p.page : min(len(p.data), (r.last+1)*p.page)])
		}
	}
}
