package store

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// FollowOptions configure Follow. A nil *FollowOptions means the defaults.
type FollowOptions struct {
	// Open is passed to Open for every version of the file (nil: the
	// defaults). Set Open.Verify to check every checksum of a new file
	// before it replaces the one being served.
	Open *Options
	// Interval is how often the path is checked for a new file. 0 means
	// DefaultFollowInterval; a negative value turns polling off, so that
	// only Check (for instance on SIGHUP) looks.
	Interval time.Duration
	// OnReload, if not nil, is called after every check that found a new
	// file, whether it was swapped in (Err nil) or refused (Err set).
	// It runs on the goroutine that checked, with the Follower's lock held:
	// it must not call Check or Close.
	OnReload func(Reload)
}

// DefaultFollowInterval is how often a Follower checks its path unless
// FollowOptions.Interval says otherwise.
const DefaultFollowInterval = time.Second

// A Reload reports one attempt of a Follower to serve a new file.
type Reload struct {
	Path       string
	Generation uint64        // the generation now served: unchanged when Err is set
	Err        error         // why the new file was refused; nil if it now serves
	Duration   time.Duration // how long opening (and verifying) the new file took
}

// FollowStats counts what a Follower did.
type FollowStats struct {
	Generation uint64    // 1 for the file opened by Follow, +1 per swap
	Reloads    uint64    // new files swapped in
	Failures   uint64    // new files refused (the old one kept serving)
	LastError  error     // the most recent refusal, nil if none
	LoadedAt   time.Time // when the served file was opened
}

// A Follower serves the table file at a path and follows it: when the file is
// replaced (renamed over, as every embstore writer does), the Follower opens
// the new file and swaps it in. Lookups take a table with Acquire and give it
// back with the release function; a replaced table is closed (unmapped) only
// after its last release, so a lookup never sees its table closed or changed
// underneath it, and every row one Acquire gives comes from one file. A new
// file that fails to open (or to verify) leaves the old one serving; the
// failure is counted, reported to OnReload and returned by Check.
//
// A Follower is safe for concurrent use.
type Follower struct {
	path string
	opts FollowOptions

	cur atomic.Pointer[version]

	mu       sync.Mutex // serialises checks, swaps and Close
	closed   atomic.Bool
	refused  fileID // the last file refused, not retried until it changes
	stats    FollowStats
	stop     chan struct{}
	stopped  chan struct{}
	lastSeen fileID
}

// A version is one opened file and the references to it: one held by the
// Follower while it is current, one per Acquire not yet released.
type version struct {
	t       *Table
	id      fileID
	gen     uint64
	refs    atomic.Int64
	release func() // v.unref, bound once so that Acquire does not allocate
}

// fileID identifies a file at a path well enough to see that it was
// replaced: the inode changes on rename-over; size and modification time
// catch files rewritten in place.
type fileID struct {
	ok    bool
	fi    os.FileInfo
	size  int64
	mtime time.Time
}

func (a fileID) same(b fileID) bool {
	return a.ok && b.ok && os.SameFile(a.fi, b.fi) && a.size == b.size && a.mtime.Equal(b.mtime)
}

func statID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	return fileID{ok: true, fi: fi, size: fi.Size(), mtime: fi.ModTime()}, nil
}

// Follow opens the table file at path and starts following it. It fails if
// the file cannot be opened. Close stops following and closes the table once
// every Acquire has been released.
func Follow(path string, opts *FollowOptions) (*Follower, error) {
	f := &Follower{path: path, stop: make(chan struct{}), stopped: make(chan struct{})}
	if opts != nil {
		f.opts = *opts
	}
	v, err := f.open()
	if err != nil {
		return nil, err
	}
	v.gen = 1
	f.cur.Store(v)
	f.lastSeen = v.id
	f.stats = FollowStats{Generation: 1, LoadedAt: time.Now()}
	interval := f.opts.Interval
	if interval == 0 {
		interval = DefaultFollowInterval
	}
	if interval > 0 {
		go f.poll(interval)
	} else {
		close(f.stopped)
	}
	return f, nil
}

// open opens the file now at the path, and returns it as a version holding
// the Follower's reference. The file is identified before and after opening:
// if it was replaced while it was being opened, the newer file is opened.
func (f *Follower) open() (*version, error) {
	for attempt := 0; ; attempt++ {
		before, err := statID(f.path)
		if err != nil {
			return nil, err
		}
		t, err := Open(f.path, f.opts.Open)
		if err != nil {
			return nil, err
		}
		after, err := statID(f.path)
		if err == nil && before.same(after) || attempt == 3 {
			v := &version{t: t, id: before}
			v.refs.Store(1)
			v.release = v.unref
			return v, nil
		}
		t.Close()
	}
}

func (v *version) unref() {
	if n := v.refs.Add(-1); n == 0 {
		v.t.Close() // waits for nothing: no lookup holds it any more
	} else if n < 0 {
		panic("embstore: Follower release function called more than once")
	}
}

// Acquire returns the table being served and a function that gives it back.
// The table stays open until release is called, even if a new file is swapped
// in meanwhile; call release exactly once, when the lookups are done. After
// Close, Acquire returns the last table, closed (its methods return
// ErrClosed), and a release that does nothing.
func (f *Follower) Acquire() (t *Table, release func()) {
	for {
		v := f.cur.Load()
		n := v.refs.Load()
		if n <= 0 {
			if f.closed.Load() {
				return v.t, func() {}
			}
			continue // swapped out and released meanwhile: load the new one
		}
		if v.refs.CompareAndSwap(n, n+1) {
			return v.t, v.release
		}
	}
}

// Path returns the path the Follower follows.
func (f *Follower) Path() string { return f.path }

// Generation returns the generation of the file being served: 1 for the file
// Follow opened, one more for each file swapped in since.
func (f *Follower) Generation() uint64 { return f.cur.Load().gen }

// Stats returns what the Follower has done so far.
func (f *Follower) Stats() FollowStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// ErrFollowerClosed is returned by Check after Close.
var ErrFollowerClosed = errors.New("embstore: follower is closed")

// Check looks at the path now and swaps in the file there if it is not the
// one being served, as the periodic check does. Unlike the periodic check it
// also retries a file that was refused before (send SIGHUP, call Check). It
// returns nil if the file is unchanged or was swapped in, and the reason
// otherwise, in which case the old file keeps serving.
func (f *Follower) Check() error { return f.check(true) }

func (f *Follower) check(force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed.Load() {
		return ErrFollowerClosed
	}
	id, err := statID(f.path)
	if err != nil {
		// The file is gone or unreadable: keep serving the open one. Report
		// it once per disappearance, and on every forced check.
		if f.lastSeen.ok || force {
			f.lastSeen = fileID{}
			return f.refuse(fileID{}, fmt.Errorf("embstore: follow %s: %w; still serving the open file", f.path, err), 0)
		}
		return nil
	}
	f.lastSeen = id
	cur := f.cur.Load()
	if id.same(cur.id) || (!force && id.same(f.refused)) {
		return nil
	}
	start := time.Now()
	v, err := f.open()
	if err != nil {
		return f.refuse(id, fmt.Errorf("embstore: reload %s: %w; still serving generation %d", f.path, err, cur.gen), time.Since(start))
	}
	v.gen = cur.gen + 1
	f.cur.Store(v)
	cur.unref() // the Follower's reference; closes it if no lookup holds it
	f.refused = fileID{}
	f.stats.Generation = v.gen
	f.stats.Reloads++
	f.stats.LoadedAt = time.Now()
	if f.opts.OnReload != nil {
		f.opts.OnReload(Reload{Path: f.path, Generation: v.gen, Duration: time.Since(start)})
	}
	return nil
}

// refuse records a refused file (f.mu held) and returns err.
func (f *Follower) refuse(id fileID, err error, d time.Duration) error {
	f.refused = id
	f.stats.Failures++
	f.stats.LastError = err
	if f.opts.OnReload != nil {
		f.opts.OnReload(Reload{Path: f.path, Generation: f.cur.Load().gen, Err: err, Duration: d})
	}
	return err
}

func (f *Follower) poll(interval time.Duration) {
	defer close(f.stopped)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-tick.C:
			_ = f.check(false) // reported through stats and OnReload
		}
	}
}

// Close stops following the path and drops the Follower's reference to the
// table: it is closed once every Acquire has been released (Close does not
// wait for that). Closing twice returns ErrFollowerClosed.
func (f *Follower) Close() error {
	f.mu.Lock()
	if f.closed.Load() {
		f.mu.Unlock()
		return ErrFollowerClosed
	}
	f.closed.Store(true)
	close(f.stop)
	f.mu.Unlock()
	<-f.stopped
	f.cur.Load().unref()
	return nil
}
