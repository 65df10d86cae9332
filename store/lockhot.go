package store

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultLockHotInterval is how often learned hot rows are locked anew
// unless Options.LockHotInterval says otherwise.
const DefaultLockHotInterval = 10 * time.Second

// A LockError reports that the kernel refused to lock rows in memory
// (mlock): Rows rows, Bytes bytes of pages in all, of which the refused
// call covered part.
type LockError struct {
	Rows  int
	Bytes int64
	Err   error // the system's error: EPERM, ENOMEM or EAGAIN
}

func (e *LockError) Error() string {
	msg := fmt.Sprintf("embstore: lock %d hot rows (%d bytes of pages) in memory: %v", e.Rows, e.Bytes, e.Err)
	if errors.Is(e.Err, syscall.EPERM) || errors.Is(e.Err, syscall.ENOMEM) || errors.Is(e.Err, syscall.EAGAIN) {
		msg += "; raise the locked-memory limit (ulimit -l, RLIMIT_MEMLOCK, systemd LimitMEMLOCK=) or grant CAP_IPC_LOCK, or lock fewer rows"
	}
	return msg
}

func (e *LockError) Unwrap() error { return e.Err }

// hotSamplesPerCall is how many ids of a call the hot-row learner records.
const hotSamplesPerCall = 8

// A hotLocker keeps the pages of a table's hottest rows locked in memory:
// given rows, or the most frequent rows of a sample of the traffic, locked
// anew every interval by a background goroutine.
type hotLocker struct {
	rowPages
	n        int
	interval time.Duration
	onErr    func(error)

	ring []int64 // sampled ids, -1 where empty; atomic access
	pos  atomic.Uint64

	mu       sync.Mutex
	locked   []int // pages locked now, sorted
	hotRows  int   // rows chosen at the last lock
	lastErr  error
	stop     chan struct{}
	finished chan struct{}
}

// newHotLocker returns a locker for rp. With ids, it locks their pages now
// and returns a *LockError if the kernel refuses (having unlocked what it
// locked); else it learns the n hottest rows and relocks every interval.
func newHotLocker(rp rowPages, n int, ids []int64, interval time.Duration, onErr func(error)) (*hotLocker, error) {
	h := &hotLocker{rowPages: rp, n: n, interval: interval, onErr: onErr}
	if len(ids) > 0 {
		h.n = len(ids)
		if err := h.lock(ids); err != nil {
			h.unlockAll()
			return nil, err
		}
		return h, nil
	}
	size := 1 << 16
	for size < 16*n && size < 1<<20 {
		size <<= 1
	}
	h.ring = make([]int64, size)
	for i := range h.ring {
		h.ring[i] = -1
	}
	h.stop, h.finished = make(chan struct{}), make(chan struct{})
	go h.learn()
	return h, nil
}

// sample records a few of a call's ids, evenly spaced from a start that
// changes from call to call (so that batches with a period do not hide
// some of their ids). It does not allocate or lock.
func (h *hotLocker) sample(ids []int64) {
	if h.ring == nil || len(ids) == 0 {
		return
	}
	n := uint64(len(ids))
	k := min(n, hotSamplesPerCall)
	at := h.pos.Add(k) - k
	start := (at * 0x9e3779b97f4a7c15 >> 33) % n
	mask := uint64(len(h.ring) - 1)
	for j := range k {
		atomic.StoreInt64(&h.ring[(at+j)&mask], ids[(start+j*n/k)%n])
	}
}

// learn relocks every interval until close.
func (h *hotLocker) learn() {
	defer close(h.finished)
	tick := time.NewTicker(h.interval)
	defer tick.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-tick.C:
		}
		if err := h.lock(h.hottest()); err != nil && h.onErr != nil {
			h.onErr(err)
		}
	}
}

// hottest returns the n most frequent ids of the sample, most frequent
// first. It sorts a copy of the sample and counts runs, which takes less
// memory than a map (the learner runs beside the page cache it protects).
func (h *hotLocker) hottest() []int64 {
	sample := make([]int64, 0, len(h.ring))
	for i := range h.ring {
		if id := atomic.LoadInt64(&h.ring[i]); id >= 0 && id < h.rows {
			sample = append(sample, id)
		}
	}
	slices.Sort(sample)
	type counted struct {
		id int64
		n  int
	}
	var c []counted
	for i := 0; i < len(sample); {
		j := i + 1
		for j < len(sample) && sample[j] == sample[i] {
			j++
		}
		c = append(c, counted{sample[i], j - i})
		i = j
	}
	slices.SortStableFunc(c, func(a, b counted) int { return cmp.Compare(b.n, a.n) }) // ties: smaller id first
	ids := sample[:0]
	for _, e := range c[:min(len(c), h.n)] {
		ids = append(ids, e.id)
	}
	return ids
}

// lock makes the locked pages those of ids: it unlocks the pages no longer
// wanted and locks the new ones. On an error it keeps what it locked, and
// records and returns a *LockError.
func (h *hotLocker) lock(ids []int64) error {
	keys := make([]uint64, 0, len(ids))
	for _, id := range ids {
		if id >= 0 && id < h.rows {
			keys = append(keys, h.key(id))
		}
	}
	var want []int
	for _, r := range runs(nil, keys) {
		for pg := r.first; pg <= r.last; pg++ {
			want = append(want, pg)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var drop, add, keep []int
	i, j := 0, 0
	for i < len(h.locked) || j < len(want) {
		switch {
		case j == len(want) || (i < len(h.locked) && h.locked[i] < want[j]):
			drop = append(drop, h.locked[i])
			i++
		case i == len(h.locked) || want[j] < h.locked[i]:
			add = append(add, want[j])
			j++
		default:
			keep = append(keep, want[j])
			i++
			j++
		}
	}
	for _, r := range pageRuns(drop) {
		_ = munlockRange(h.span(r)) // unlocking pages we locked does not fail
	}
	locked := keep
	var err error
	for _, r := range pageRuns(add) {
		if e := mlockRange(h.span(r)); e != nil {
			err = &LockError{Rows: len(ids), Bytes: int64(len(want)) * int64(h.page), Err: e}
			break
		}
		for pg := r.first; pg <= r.last; pg++ {
			locked = append(locked, pg)
		}
	}
	slices.Sort(locked)
	h.locked, h.hotRows, h.lastErr = locked, len(ids), err
	return err
}

// span returns the bytes of a run of pages.
func (h *hotLocker) span(r pageRun) []byte {
	return h.data[r.first*h.page : min(len(h.data), (r.last+1)*h.page)]
}

// pageRuns coalesces sorted pages into runs.
func pageRuns(pages []int) []pageRun {
	var rs []pageRun
	for _, pg := range pages {
		if n := len(rs); n > 0 && rs[n-1].last+1 == pg {
			rs[n-1].last = pg
			continue
		}
		rs = append(rs, pageRun{pg, pg})
	}
	return rs
}

// unlockAll unlocks every locked page.
func (h *hotLocker) unlockAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range pageRuns(h.locked) {
		_ = munlockRange(h.span(r))
	}
	h.locked = nil
}

// close stops learning and unlocks every page, before the mapping goes.
func (h *hotLocker) close() {
	if h.stop != nil {
		close(h.stop)
		<-h.finished
	}
	h.unlockAll()
}

// state returns the bytes locked now, the rows chosen at the last lock and
// the last lock's error.
func (h *hotLocker) state() (int64, int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return int64(len(h.locked)) * int64(h.page), h.hotRows, h.lastErr
}
