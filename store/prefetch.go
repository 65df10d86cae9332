package store

import (
	"slices"
	"sync"
)

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
}

// prefetchScratch holds the buffers of one prefetch step, recycled so that
// calls do not allocate.
type prefetchScratch struct {
	keys [prefetchChunk]uint64
	runs [prefetchChunk]pageRun
}

var prefetchPool = sync.Pool{New: func() any { return new(prefetchScratch) }}

func newPrefetcher(rp rowPages) *prefetcher {
	return &prefetcher{rowPages: rp, vecOK: vectoredAdviceWorks()}
}

// batch advises MADV_WILLNEED on the pages of the rows of ids: sorted,
// coalesced into runs of adjacent pages, and on Linux passed to one
// process_madvise call per prefetchChunk ids (else one madvise per run).
// The kernel starts reading the pages that are not in memory and returns;
// the gather that follows then waits for reads already under way, which
// overlap, instead of taking its faults one after another. Ids outside the
// table are skipped: the arguments were checked, and an id changed since is
// the gather's to report.
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
		if len(rs) == 0 || (p.vecOK && adviseWillNeedVec(p.data, rs, p.page)) {
			continue
		}
		for _, r := range rs {
			adviseWillNeed(p.data[r.first*p.page : min(len(p.data), (r.last+1)*p.page)])
		}
	}
}
