package store

import "time"

// Stats describes how a table was opened and is mapped, for monitoring: its
// mapping mode and threads, how long Open spent verifying it, how much of it
// is in memory and how much is backed by huge pages, which together move
// gather throughput by more than half again.
type Stats struct {
	Mode    MapMode
	Threads int // goroutines a large call is split across (Options.Threads, at least 1)
	// VerifyDuration is how long Open spent verifying checksums, 0 if
	// Options.Verify was not set.
	VerifyDuration time.Duration
	// MappedBytes is the size of the mapping: the whole file.
	MappedBytes int64
	// ResidentBytes is how much of the mapping is in memory (the page cache
	// or, for MapAnonHugePages, the private copy); -1 where the platform
	// cannot tell.
	ResidentBytes int64
	// HugePageBytes is how much of the mapping this process maps with huge
	// pages (2 MiB on x86-64); -1 where the platform cannot tell.
	HugePageBytes int64
	// Prefetch says whether calls prefetch their rows (Options.Prefetch).
	Prefetch bool
	// LockedBytes is how much of the mapping is locked in memory for hot
	// rows (Options.LockHot or LockHotIDs), HotRows how many rows the
	// last lock chose, and LockErr the last lock's error, nil if it
	// succeeded (a *LockError).
	LockedBytes int64
	HotRows     int
	LockErr     error
}

// ResidentFraction returns ResidentBytes/MappedBytes, or -1 if unknown.
func (s Stats) ResidentFraction() float64 { return fraction(s.ResidentBytes, s.MappedBytes) }

// HugePageFraction returns HugePageBytes/MappedBytes, or -1 if unknown.
func (s Stats) HugePageFraction() float64 { return fraction(s.HugePageBytes, s.MappedBytes) }

func fraction(n, of int64) float64 {
	if n < 0 || of <= 0 {
		return -1
	}
	return float64(n) / float64(of)
}

// Stats reports how the table is mapped. It reads process and kernel
// information (on Linux, mincore and /proc/self/smaps), so it costs far more
// than a lookup: call it for monitoring, not per request.
func (t *Table) Stats() (Stats, error) {
	in := t.rd.enter()
	if in == nil {
		return Stats{}, ErrClosed
	}
	defer in.leave()
	s := Stats{Mode: t.mode, Threads: t.threads, VerifyDuration: t.verifyDur, MappedBytes: t.hdr.FileSize, ResidentBytes: -1, HugePageBytes: -1}
	if data := t.m.bytes(); data != nil {
		s.ResidentBytes, s.HugePageBytes = residency(data)
	}
	s.Prefetch = t.pf != nil
	if t.hot != nil {
		s.LockedBytes, s.HotRows, s.LockErr = t.hot.state()
	}
	return s, nil
}
