package store

import (
	"fmt"
	"time"
)

// A MapMode says how Open maps a table and what it asks of the kernel's
// page cache. Rows are read the same way in every mode; the modes trade open
// time and memory for steadier lookup latency.
type MapMode int

// The mapping modes.
const (
	// MapLazy maps the file and lets lookups fault pages in as they touch
	// them. Open is O(header); the first lookups of cold rows pay for the
	// page faults (and disk reads if the file is not cached).
	MapLazy MapMode = iota
	// MapPopulate faults the whole file in at open (MAP_POPULATE on Linux,
	// a read of every page elsewhere), so that lookups never take a page
	// fault. Open costs time proportional to the file size.
	MapPopulate
	// MapRandom advises the kernel that access is random (MADV_RANDOM), which
	// turns off read-ahead: for tables much larger than memory, where
	// read-ahead would evict useful pages with neighbours nobody asked for.
	MapRandom
	// MapHugePages asks for the mapping to be backed by transparent huge
	// pages (MADV_HUGEPAGE, then MADV_COLLAPSE), cutting TLB misses on
	// random gathers. Linux backs file mappings with huge pages only on
	// some file systems and kernels; Stats reports how much is
	// huge-page-mapped. Not supported outside Linux.
	MapHugePages
	// MapAnonHugePages copies the table into private anonymous memory backed
	// by transparent huge pages, for where MapHugePages cannot get huge
	// pages for the file. The copy costs time and memory proportional to the
	// file and is not shared with other processes. Linux only.
	MapAnonHugePages
)

var mapModeNames = []string{"lazy", "populate", "random", "hugepages", "anon-hugepages"}

func (m MapMode) String() string {
	if int(m) >= 0 && int(m) < len(mapModeNames) {
		return mapModeNames[m]
	}
	return fmt.Sprintf("MapMode(%d)", int(m))
}

// ParseMapMode returns the MapMode named s, as String spells it.
func ParseMapMode(s string) (MapMode, error) {
	for i, name := range mapModeNames {
		if s == name {
			return MapMode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown map mode %q (want lazy, populate, random, hugepages or anon-hugepages)", s)
}

// Options configure Open. A nil *Options means the defaults: every field's
// zero value.
type Options struct {
	// Verify makes Open read the whole file and check every checksum and all
	// padding before returning (see format.Reader.Verify). Open then costs
	// time proportional to the file size; Stats reports how long (VerifyDuration).
	Verify bool
	// Mode says how to map the file; the zero value is MapLazy.
	Mode MapMode
	// Threads is the number of goroutines a large lookup is split across.
	// 0 or 1 means every call runs on its caller's goroutine only. With
	// n > 1, Open starts n-1 worker goroutines that live until Close, and
	// calls of at least a few hundred rows are cut into contiguous pieces
	// that the caller and the workers gather together.
	Threads int
	// WorkerSpin is how long an idle worker keeps polling for the next piece
	// before it sleeps. Calls that come back to back then find the workers
	// awake instead of paying to wake them, at the price of that much CPU
	// time per worker after each call. 0 means DefaultWorkerSpin; a negative
	// value makes workers sleep at once.
	WorkerSpin time.Duration
	// Prefetch makes every lookup and bag first advise the kernel that the
	// pages of its rows will be needed (MADV_WILLNEED on the batch's pages,
	// sorted and coalesced; on Linux one process_madvise call per 512 ids),
	// so that the disk reads of one batch's missing rows overlap instead of
	// being taken one page fault after another. For tables larger than
	// memory: the advice costs the kernel about 0.4 us per run of pages
	// even when they are in memory (BenchmarkPrefetchResident, 2-vCPU VM:
	// the advice for 256 random rows takes 110-140 us, the lookup itself
	// 5-7 us), which a batch that waits for disk reads does not notice but
	// a table in memory would. So a prefetching table checks every second
	// (mincore, on Linux) whether all its token rows are in memory, and
	// while they are it skips the advice: a table that fits pays for it
	// only until it has been read in. Not with the copy-out reads of
	// platforms without mmap.
	Prefetch bool
	// LockHot, if positive, locks the pages of the LockHot most used rows
	// in memory (mlock), learned from the traffic: every call records a
	// few of its ids, and every LockHotInterval the most frequent rows of
	// the recent sample are locked and rows that fell out are unlocked.
	// Locked pages count against RLIMIT_MEMLOCK (unless the process has
	// CAP_IPC_LOCK) and against a memory cgroup's limit; when the kernel
	// refuses, the rows stay unlocked, Stats reports the error, and
	// OnLockError is called. Close unlocks them.
	LockHot int
	// LockHotIDs, if not empty, are the rows to lock instead of learning
	// them: Open locks their pages before it returns, and fails with a
	// *LockError if the kernel refuses. It excludes LockHot.
	LockHotIDs []int64
	// LockHotInterval is how often the learned hot rows are locked anew;
	// 0 means DefaultLockHotInterval.
	LockHotInterval time.Duration
	// OnLockError, if not nil, is called (from a background goroutine) with
	// a *LockError each time locking the learned hot rows fails.
	OnLockError func(error)
}
