package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/embstore/embstore/client"
	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/kernel"
	"github.com/embstore/embstore/store"
)

// A Table is a table of a cluster. Each call is answered from the version
// serving when it starts (see Snapshot); if that version disappears while
// a call runs (its servers stopped after a newer one took over), the call
// is answered again from the newer one. It is safe for concurrent use, and
// satisfies client.Source.
type Table struct {
	c      *Cluster
	st     *state
	own    bool // Close closes c
	closed atomic.Bool
}

var _ client.Source = (*Table)(nil)

// Name returns the table's name in the registry.
func (t *Table) Name() string { return t.st.name }

// Snapshot returns the version of the table serving now: every call on it
// is answered from that version only, with the replicas it has.
func (t *Table) Snapshot() (*Snapshot, error) {
	if t.closed.Load() || t.c.closed.Load() {
		return nil, ErrClosed
	}
	s := t.st.cur.Load()
	if s == nil {
		return nil, fmt.Errorf("embstore cluster: table %s: %w%s", t.st.name, ErrNoVersion, t.st.reasons())
	}
	return s, nil
}

func (t *Table) cur() *Snapshot {
	if s := t.st.cur.Load(); s != nil {
		return s
	}
	return &Snapshot{}
}

// Version returns the version serving now (0 for a table served whole, or
// when none is available).
func (t *Table) Version() uint64 { return t.cur().version }

// Rows returns the rows of the version serving now.
func (t *Table) Rows() int64 { return t.cur().rows }

// Dim returns the values per row (the same for every version the client
// takes: versions with another width are not used).
func (t *Table) Dim() int { return t.cur().dim }

// Positions returns the rows of the positional table, 0 if none.
func (t *Table) Positions() int64 { return t.cur().positions }

// PositionOffset returns the positional row of position 0.
func (t *Table) PositionOffset() int64 { return t.cur().positionOffset }

// CheckIDs returns the *store.IndexError a lookup of ids would return now.
func (t *Table) CheckIDs(ids []int64) error { return t.cur().CheckIDs(ids) }

// Close closes the Table, and the Cluster connection when Open made it.
func (t *Table) Close() error {
	if t.closed.Swap(true) {
		return nil
	}
	if t.own {
		return t.c.Close()
	}
	return nil
}

// call runs fn on the version serving now, and again on a newer one if the
// version went away under it.
func (t *Table) call(ctx context.Context, fn func(ctx context.Context, s *Snapshot) error) error {
	ctx, cancel := withDeadline(ctx, t.c.opts.Timeout)
	defer cancel()
	for {
		s, err := t.Snapshot()
		if err != nil {
			return err
		}
		err = fn(ctx, s)
		if err == nil || !errors.Is(err, errVersionGone) || ctx.Err() != nil {
			return err
		}
		if n := t.st.cur.Load(); n == nil || n.version == s.version {
			return err
		}
	}
}

// Lookup writes the rows of ids to dst, as store.Table.Lookup does.
func (t *Table) Lookup(ctx context.Context, dst []float32, ids []int64) error {
	return t.call(ctx, func(ctx context.Context, s *Snapshot) error { return s.Lookup(ctx, dst, ids) })
}

// LookupPositions is Lookup with the positional table added, as
// store.Table.LookupPositions.
func (t *Table) LookupPositions(ctx context.Context, dst []float32, ids []int64, seqLen int, start int64) error {
	return t.call(ctx, func(ctx context.Context, s *Snapshot) error {
		return s.LookupPositions(ctx, dst, ids, seqLen, start)
	})
}

// LookupPositionRows writes rows of the positional table, as
// store.Table.LookupPositionRows.
func (t *Table) LookupPositionRows(ctx context.Context, dst []float32, rows []int64) error {
	return t.call(ctx, func(ctx context.Context, s *Snapshot) error { return s.LookupPositionRows(ctx, dst, rows) })
}

// Bag pools bags of ids, as store.Table.Bag; see Snapshot.Bag for how the
// shards' partial results are combined.
func (t *Table) Bag(ctx context.Context, dst []float32, ids, offsets []int64, opts *store.BagOptions) error {
	return t.call(ctx, func(ctx context.Context, s *Snapshot) error { return s.Bag(ctx, dst, ids, offsets, opts) })
}

// withDeadline bounds ctx by d when it has no deadline of its own.
func withDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// errVersionGone marks a part whose version has no registered replica of
// its shard any more.
var errVersionGone = errors.New("the version is no longer served")

// A Snapshot is one version of a table with the replicas registered when it
// was taken (and, for retries, those registered for the same version
// later). Its methods answer from that version only. It is safe for
// concurrent use.
type Snapshot struct {
	st             *state
	version        uint64
	rows           int64
	dim            int
	dtype          string
	positions      int64
	positionOffset int64
	compute        format.DType
	scale          float32
	pooling        string // the default pooling its servers report, "" for the mean
	normalize      bool
	shards         []shardSet
	since          time.Time // when the version began to serve
}

type shardSet struct {
	start, end int64
	replicas   []*replica
	lat        *latency
}

// Version returns the snapshot's version.
func (s *Snapshot) Version() uint64 { return s.version }

// Rows returns the rows of the whole table.
func (s *Snapshot) Rows() int64 { return s.rows }

// Dim returns the values per row.
func (s *Snapshot) Dim() int { return s.dim }

// Pooling returns the table's default pooling for /v1/embeddings, as its
// servers report it from the table's metadata: a mode ("mean", "max",
// "cls" or "last") and whether the pooled vector is L2-normalised.
func (s *Snapshot) Pooling() (mode string, normalize bool) {
	if s.pooling == "" {
		return "mean", s.normalize
	}
	return s.pooling, s.normalize
}

// Positions returns the rows of the positional table, 0 if none.
func (s *Snapshot) Positions() int64 { return s.positions }

// PositionOffset returns the positional row of position 0.
func (s *Snapshot) PositionOffset() int64 { return s.positionOffset }

// ShardInfo describes a shard of a snapshot.
type ShardInfo struct {
	Index    int      `json:"index"`
	RowStart int64    `json:"row_start"`
	RowEnd   int64    `json:"row_end"`
	Replicas []string `json:"replicas"` // base URLs
	// P95 is the 95th percentile of the shard's recent answer times,
	// after which slow parts are hedged (0 until 20 were measured).
	P95 time.Duration `json:"p95_ns"`
}

// Info describes the snapshot: its shape and conventions, and its shards.
type Info struct {
	Table          string      `json:"table"`
	Version        uint64      `json:"version"`
	Rows           int64       `json:"rows"`
	Dim            int         `json:"dim"`
	DType          string      `json:"dtype"`
	Positions      int64       `json:"positions"`
	PositionOffset int64       `json:"position_offset"`
	TokenScale     float32     `json:"token_scale"`
	ComputeDType   string      `json:"compute_dtype"`
	Pooling        string      `json:"pooling"`   // the default pooling: mean, max, cls or last
	Normalize      bool        `json:"normalize"` // whether pooled vectors are L2-normalised
	Since          time.Time   `json:"since"`     // when the version began to serve here
	Shards         []ShardInfo `json:"shards"`
}

// Info describes the snapshot.
func (s *Snapshot) Info() Info {
	info := Info{Table: s.st.name, Version: s.version, Rows: s.rows, Dim: s.dim, DType: s.dtype,
		Positions: s.positions, PositionOffset: s.positionOffset, TokenScale: s.scale, ComputeDType: "f32", Since: s.since}
	if s.compute != 0 {
		info.ComputeDType = s.compute.String()
	}
	info.Pooling, info.Normalize = s.Pooling()
	for i, sh := range s.shards {
		si := ShardInfo{Index: i, RowStart: sh.start, RowEnd: sh.end, P95: time.Duration(sh.lat.p95.Load())}
		for _, r := range sh.replicas {
			si.Replicas = append(si.Replicas, r.e.URL)
		}
		info.Shards = append(info.Shards, si)
	}
	return info
}

// bounds returns what the snapshot's arguments are checked against (with
// store.Bounds, as store.Table's are).
func (s *Snapshot) bounds() store.Bounds {
	return store.Bounds{Rows: s.rows, Dim: s.dim, Positions: s.positions, PositionOffset: s.positionOffset}
}

// CheckIDs returns the *store.IndexError a lookup of ids would return, or
// nil.
func (s *Snapshot) CheckIDs(ids []int64) error { return s.bounds().CheckIDs(ids) }

// CheckPositions returns the error LookupPositions would return for
// sequences of seqLen ids starting at position start, as
// store.Table.CheckPositions.
func (s *Snapshot) CheckPositions(seqLen int, start int64) error {
	return s.bounds().CheckPositions(seqLen, start)
}

// shardOf returns the shard holding row id (a valid id).
func (s *Snapshot) shardOf(id int64) int {
	if len(s.shards) == 1 {
		return 0
	}
	return sort.Search(len(s.shards), func(i int) bool { return s.shards[i].end > id })
}

// Lookup writes the rows of ids to dst, as store.Table.Lookup does, each
// from the shard holding it. After an error other than a bad argument,
// dst's content is unspecified.
func (s *Snapshot) Lookup(ctx context.Context, dst []float32, ids []int64) error {
	if err := s.bounds().CheckLookup(dst, ids); err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := withDeadline(ctx, s.st.c.opts.Timeout)
	defer cancel()
	return s.gather(ctx, dst, ids)
}

// A piece is part of a call for one shard: the rows idx[k] of the output
// come from local row local[k] of the shard.
type piece struct {
	shard int
	idx   []int32
	local []int64
}

// split cuts ids by shard into pieces of at most MaxPartIDs ids.
func (s *Snapshot) split(ids []int64) []piece {
	per := make([]piece, len(s.shards))
	for i := range per {
		per[i].shard = i
	}
	for i, id := range ids {
		k := s.shardOf(id)
		per[k].idx = append(per[k].idx, int32(i))
		per[k].local = append(per[k].local, id-s.shards[k].start)
	}
	max := s.st.c.opts.MaxPartIDs
	var out []piece
	for _, p := range per {
		for lo := 0; lo < len(p.idx); lo += max {
			hi := min(lo+max, len(p.idx))
			out = append(out, piece{shard: p.shard, idx: p.idx[lo:hi], local: p.local[lo:hi]})
		}
	}
	return out
}

// gather fetches the rows of ids (checked) into dst.
func (s *Snapshot) gather(ctx context.Context, dst []float32, ids []int64) error {
	dim := s.dim
	return s.run(ctx, s.split(ids), func(p piece) (doFunc, int, func([]float32)) {
		do := func(ctx context.Context, r *replica, buf []float32) error { return r.t.Lookup(ctx, buf, p.local) }
		scatter := func(buf []float32) {
			for k, i := range p.idx {
				copy(dst[int(i)*dim:(int(i)+1)*dim], buf[k*dim:(k+1)*dim])
			}
		}
		return do, len(p.local) * dim, scatter
	})
}

// run fetches every piece, in parallel, and hands each answer to its
// scatter function (from the piece's goroutine: pieces write disjoint
// parts of the output). The first failure cancels the others.
func (s *Snapshot) run(ctx context.Context, pieces []piece, plan func(piece) (do doFunc, n int, scatter func([]float32))) error {
	if len(pieces) == 1 {
		do, n, scatter := plan(pieces[0])
		buf, err := s.fetch(ctx, pieces[0].shard, n, do)
		if err != nil {
			return err
		}
		scatter(*buf)
		putBuf(buf)
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, p := range pieces {
		do, n, scatter := plan(p)
		wg.Go(func() {
			buf, err := s.fetch(ctx, p.shard, n, do)
			if err != nil {
				once.Do(func() { first = err; cancel() })
				return
			}
			scatter(*buf)
			putBuf(buf)
		})
	}
	wg.Wait()
	return first
}

var bufPool = sync.Pool{New: func() any { return new([]float32) }}

func getBuf(n int) *[]float32 {
	b := bufPool.Get().(*[]float32)
	if cap(*b) < n {
		*b = make([]float32, n)
	}
	*b = (*b)[:n]
	return b
}

func putBuf(b *[]float32) {
	if cap(*b) <= 1<<22 {
		bufPool.Put(b)
	}
}

// attempt is the outcome of one request of a part to one replica.
type attempt struct {
	buf *[]float32
	err error
}

// doFunc sends a part's request to r and writes the answer's values to
// dst.
type doFunc func(ctx context.Context, r *replica, dst []float32) error

// try sends a part to r, keeping the replica's books: requests in flight,
// failures (not counting a request cancelled by the caller) and latency.
func (s *Snapshot) try(ctx context.Context, shard int, r *replica, buf *[]float32, do doFunc) attempt {
	r.inflight.Add(1)
	t0 := time.Now()
	err := do(ctx, r, *buf)
	r.inflight.Add(-1)
	switch {
	case err == nil:
		r.succeeded()
		s.shards[shard].lat.observe(time.Since(t0))
	case ctx.Err() == nil && retryable(err):
		r.failed()
	}
	return attempt{buf: buf, err: err}
}

// A hedge is a second request of a part, sent when the first is slow.
type hedge struct {
	r      *replica
	timer  *time.Timer
	cancel context.CancelFunc // cancels the hedged request
	done   chan attempt       // its outcome
}

// fetch gets one part of a call from a replica of shard: do sends the
// request to a replica and writes the n values of the answer to its
// buffer. It sends the part to another replica when one fails in a way
// another may not, and to every replica again (after a pause that doubles
// to 200 ms) until the deadline. When the shard's 95th percentile is known
// (see hedgeDelay), a request that outlasts it is doubled to a second
// replica and the first answer wins. The first request runs on the
// caller's goroutine; only a hedge starts another. It returns the answer in
// a buffer from getBuf.
func (s *Snapshot) fetch(ctx context.Context, shard, n int, do doFunc) (*[]float32, error) {
	sh := &s.shards[shard]
	replicas := sh.replicas
	var tried []*replica
	tries, wait := 0, 10*time.Millisecond
	var last error
	giveUp := func(err error) (*[]float32, error) {
		if last != nil {
			err = fmt.Errorf("%w (last failure: %v)", err, last)
		}
		return nil, s.partErr(shard, tries, err)
	}
	for {
		if ctx.Err() != nil {
			return giveUp(ctx.Err())
		}
		r := pick(replicas, tried)
		if r == nil {
			// Every replica failed: look again at those registered for
			// this version, and try them all again after a pause.
			if replicas = s.st.replicasOf(s.version, shard); len(replicas) == 0 {
				return giveUp(errVersionGone)
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return giveUp(ctx.Err())
			case <-t.C:
			}
			wait = min(2*wait, 200*time.Millisecond)
			tried = tried[:0]
			continue
		}
		tried = append(tried, r)
		tries++
		actx, cancel := ctx, context.CancelFunc(func() {})
		var h *hedge
		if d := s.hedgeDelay(sh); d > 0 {
			if r2 := pick(replicas, tried); r2 != nil {
				actx, cancel = context.WithCancel(ctx)
				h = s.armHedge(ctx, shard, n, do, r2, d, cancel)
			}
		}
		buf := getBuf(n)
		a := s.try(actx, shard, r, buf, do)
		if h != nil && !h.timer.Stop() {
			// The hedge was sent: the first success wins.
			tried = append(tried, h.r)
			tries++
			if a.err == nil {
				h.cancel() // its buffer is dropped: it may still be written
				cancel()
				return buf, nil
			}
			var ha attempt
			select {
			case ha = <-h.done:
			case <-ctx.Done():
				h.cancel()
				cancel()
				return giveUp(ctx.Err())
			}
			cancel()
			if ha.err == nil {
				putBuf(buf)
				return ha.buf, nil
			}
			putBuf(ha.buf)
			if !errors.Is(a.err, context.Canceled) || ctx.Err() != nil {
				last = a.err
			}
			if a.err == nil || errors.Is(a.err, context.Canceled) {
				a.err = ha.err
			}
		} else if h != nil {
			h.cancel()
		}
		cancel()
		if a.err == nil {
			return buf, nil
		}
		putBuf(buf)
		last = a.err
		if !retryable(a.err) && ctx.Err() == nil {
			return nil, a.err
		}
	}
}

// armHedge starts the timer that sends the part to r after d; a success
// of the hedge cancels the first request (cancelFirst).
func (s *Snapshot) armHedge(ctx context.Context, shard, n int, do doFunc, r *replica, d time.Duration, cancelFirst context.CancelFunc) *hedge {
	hctx, hcancel := context.WithCancel(ctx)
	h := &hedge{r: r, cancel: hcancel, done: make(chan attempt, 1)}
	h.timer = time.AfterFunc(d, func() {
		a := s.try(hctx, shard, r, getBuf(n), do)
		if a.err == nil {
			cancelFirst()
		}
		h.done <- a
	})
	return h
}

func (s *Snapshot) partErr(shard, tries int, err error) error {
	return &PartError{Table: s.st.name, Version: s.version, Shard: shard, Tries: tries, Err: err}
}

// hedgeDelay returns when to send a part of shard sh to a second replica,
// or 0 for never.
func (s *Snapshot) hedgeDelay(sh *shardSet) time.Duration {
	o := &s.st.c.opts
	switch {
	case o.Hedge < 0:
		return 0
	case o.Hedge > 0:
		return o.Hedge
	}
	p95 := time.Duration(sh.lat.p95.Load())
	if p95 == 0 {
		return 0
	}
	return max(p95, o.MinHedge)
}

// retryable reports whether a part that failed with err may succeed on
// another replica: failures of the connection or the server (see
// client.Temporary), and 404, which a replica answers when it stopped
// serving the table but is still registered.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Status == http.StatusNotFound || ce.Status >= 500 || ce.Status == http.StatusTooManyRequests
	}
	var ie *store.IndexError
	if errors.As(err, &ie) || errors.Is(err, store.ErrNoPositions) {
		return false // the part itself is wrong: no replica would take it
	}
	// Failures of the connection, and answers of the wrong size (a
	// replica serving another file under the name).
	return true
}

// LookupPositions is Lookup with the positional table added, as
// store.Table.LookupPositions: the token rows come from the shards holding
// the ids, the positional rows of the positions used from one replica (any
// shard: each holds the whole positional table, and a version's shards were
// split from one file), and they are added here with the arithmetic of
// format/SPEC.md, "Lookups" (v = r(v + r(q)), r rounding to the compute
// dtype): the same bits as the table's own lookup.
func (s *Snapshot) LookupPositions(ctx context.Context, dst []float32, ids []int64, seqLen int, start int64) error {
	if err := s.bounds().CheckLookupPositions(dst, ids, seqLen, start); err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := withDeadline(ctx, s.st.c.opts.Timeout)
	defer cancel()
	pos := getBuf(seqLen * s.dim)
	defer putBuf(pos)
	rows := make([]int64, seqLen)
	for p := range rows {
		rows[p] = s.positionOffset + start + int64(p)
	}
	var perr error
	var wg sync.WaitGroup
	pctx, cancelPos := context.WithCancel(ctx)
	defer cancelPos()
	wg.Go(func() { perr = s.positionRows(pctx, *pos, rows) })
	err := s.gather(ctx, dst, ids)
	if err != nil {
		cancelPos()
	}
	wg.Wait()
	if err != nil {
		return err
	}
	if perr != nil {
		return perr
	}
	addPositions(dst, *pos, s.dim, seqLen, s.compute)
	return nil
}

// addPositions adds positional row p of pos to row i of dst, p = i mod
// seqLen, as the kernel does (format/SPEC.md, "Lookups"; kernel.AddPosition).
func addPositions(dst, pos []float32, dim, seqLen int, c format.DType) {
	for i := 0; i < len(dst)/dim; i++ {
		out := dst[i*dim : (i+1)*dim]
		q := pos[(i%seqLen)*dim : (i%seqLen+1)*dim]
		kernel.AddPosition(out, q, c)
	}
}

// positionRows fetches rows of the positional table (checked) into dst,
// from a replica of a shard drawn at random.
func (s *Snapshot) positionRows(ctx context.Context, dst []float32, rows []int64) error {
	dim := s.dim
	shard := rand.IntN(len(s.shards))
	var pieces []piece
	for lo := 0; lo < len(rows); lo += s.st.c.opts.MaxPartIDs {
		hi := min(lo+s.st.c.opts.MaxPartIDs, len(rows))
		pieces = append(pieces, piece{shard: shard, idx: []int32{int32(lo)}, local: rows[lo:hi]})
	}
	return s.run(ctx, pieces, func(p piece) (doFunc, int, func([]float32)) {
		do := func(ctx context.Context, r *replica, buf []float32) error {
			return r.t.LookupPositionRows(ctx, buf, p.local)
		}
		scatter := func(buf []float32) { copy(dst[int(p.idx[0])*dim:], buf) }
		return do, len(p.local) * dim, scatter
	})
}

// LookupPositionRows writes rows of the positional table itself, as
// store.Table.LookupPositionRows, from a replica of any shard.
func (s *Snapshot) LookupPositionRows(ctx context.Context, dst []float32, rows []int64) error {
	if err := s.bounds().CheckLookupPositionRows(dst, rows); err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	ctx, cancel := withDeadline(ctx, s.st.c.opts.Timeout)
	defer cancel()
	return s.positionRows(ctx, dst, rows)
}

// Bag pools bags of ids, as store.Table.Bag: each shard pools the ids of
// each bag that it holds (sum, or max; a mean is a sum here), and the
// client combines the shards' partial results in shard order: sums are
// added, maxima compared, and a mean is the sum times 1/n, n the bag's ids
// that are not padding (padding ids are left out before sending, as the
// table skips them).
//
// Max is exact: the maximum of the shards' maxima is the maximum of the
// bag, the same value whatever the grouping (IEEE comparison does not
// round). The client combines the parts as the table pools rows, by
// torch's rule: the part that holds the bag's first id starts the maximum
// (so a NaN first in the bag gives NaN, as in torch), and another part's
// value replaces it only if strictly greater. Two cases depend on an order
// that the shards' partial maxima no longer hold, where a bag holds NaN or
// zeros of both signs: a NaN that comes first among the ids of one part,
// but not first in the bag, makes that part's maximum NaN, so its other
// values are not counted (torch ignores the NaN and counts them); and of +0
// and −0 in different parts, the one of the part combined first is kept
// (torch keeps the first in the bag).
//
// Sums and means differ from the unsharded table's in the last bits: the
// table adds a bag's rows in id order in float32, the cluster adds each
// shard's rows in id order and then the shards' sums in shard order, a
// different order of float32 additions. Both are within n·2^-24·Σ|w·x| of
// the exact sum for a bag of n ids (weights w, values x); the tests check
// this bound against the unsharded table.
func (s *Snapshot) Bag(ctx context.Context, dst []float32, ids, offsets []int64, opts *store.BagOptions) error {
	call, err := s.bounds().CheckBag(dst, ids, offsets, opts)
	if err != nil || call.Bags.Len() == 0 {
		return err
	}
	ctx, cancel := withDeadline(ctx, s.st.c.opts.Timeout)
	defer cancel()
	b := call.Bags
	return s.bag(ctx, dst, b.IDs(), b.Offsets(), call.Mode, b.Weights(), call.Pad)
}

// A bagPart is the part of a bag call for one shard: sub-bags, each the
// ids of one bag (bag[k]) that the shard holds, as local rows.
type bagPart struct {
	shard   int
	bag     []int32   // the call's bag of each sub-bag
	offsets []int64   // sub-bag k is local[offsets[k]:offsets[k+1]]
	local   []int64   // local rows
	weights []float32 // per local row, or nil
}

// bag pools checked, normalised arguments.
func (s *Snapshot) bag(ctx context.Context, dst []float32, ids, offsets []int64, mode store.BagMode, weights []float32, pad int64) error {
	bags, dim := len(offsets), s.dim
	counts := make([]int32, bags)
	firstShard := make([]int32, bags) // the shard of each bag's first id (max)
	parts := make([]bagPart, len(s.shards))
	maxIDs, maxBags := s.st.c.opts.MaxPartIDs, s.st.c.opts.MaxPartBags
	var done []bagPart
	flush := func(k int) {
		if p := &parts[k]; len(p.bag) > 0 {
			done = append(done, *p)
			*p = bagPart{shard: k}
		}
	}
	for k := range parts {
		parts[k].shard = k
	}
	for b := range bags {
		lo, hi := offsets[b], int64(len(ids))
		if b+1 < bags {
			hi = offsets[b+1]
		}
		for i := lo; i < hi; i++ {
			id := ids[i]
			if id == pad {
				continue
			}
			k := s.shardOf(id)
			if counts[b] == 0 {
				firstShard[b] = int32(k)
			}
			counts[b]++
			p := &parts[k]
			if len(p.local) == maxIDs || (len(p.bag) == maxBags && p.bag[len(p.bag)-1] != int32(b)) {
				flush(k)
				p = &parts[k]
			}
			if len(p.bag) == 0 || p.bag[len(p.bag)-1] != int32(b) || len(p.offsets) == 0 {
				p.bag = append(p.bag, int32(b))
				p.offsets = append(p.offsets, int64(len(p.local)))
			}
			p.local = append(p.local, id-s.shards[k].start)
			if weights != nil {
				p.weights = append(p.weights, weights[i])
			}
		}
	}
	for k := range parts {
		flush(k)
	}
	// done is in shard order, then in the order of the ids: the order the
	// partial results are combined in.
	results := make([][]float32, len(done))
	pieces := make([]piece, len(done))
	for i, p := range done {
		pieces[i] = piece{shard: p.shard, idx: []int32{int32(i)}}
	}
	remoteMode := store.BagSum
	if mode == store.BagMax {
		remoteMode = store.BagMax
	}
	err := s.run(ctx, pieces, func(pc piece) (doFunc, int, func([]float32)) {
		p := done[pc.idx[0]]
		bo := &store.BagOptions{Mode: remoteMode, PerSampleWeights: p.weights}
		do := func(ctx context.Context, r *replica, buf []float32) error {
			return r.t.Bag(ctx, buf, p.local, p.offsets, bo)
		}
		keep := func(buf []float32) { results[pc.idx[0]] = append([]float32(nil), buf...) }
		return do, len(p.bag) * dim, keep
	})
	if err != nil {
		return err
	}
	clear(dst)
	// firstPart[b] is the part that starts bag b's maximum: the first part
	// (in id order) of the shard holding the bag's first id.
	var firstPart []int
	if mode == store.BagMax {
		firstPart = make([]int, bags)
		for b := range firstPart {
			firstPart[b] = -1
		}
		for i, p := range done {
			for k, b := range p.bag {
				if firstPart[b] < 0 && int32(p.shard) == firstShard[b] {
					firstPart[b] = i
					copy(dst[int(b)*dim:(int(b)+1)*dim], results[i][k*dim:(k+1)*dim])
				}
			}
		}
	}
	for i, p := range done {
		res := results[i]
		for k, b := range p.bag {
			out := dst[int(b)*dim : (int(b)+1)*dim]
			part := res[k*dim : (k+1)*dim]
			if mode == store.BagMax {
				if i == firstPart[b] {
					continue
				}
				for j, v := range part {
					if v > out[j] { // torch: only a greater value replaces the maximum
						out[j] = v
					}
				}
				continue
			}
			for j, v := range part {
				out[j] += v
			}
		}
	}
	for b, n := range counts {
		out := dst[b*dim : (b+1)*dim]
		switch {
		case n == 0:
			clear(out)
		case mode == store.BagMean:
			inv := 1 / float32(n)
			for j := range out {
				out[j] *= inv
			}
		}
	}
	return nil
}
