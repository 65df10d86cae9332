package store

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/embstore/embstore/kernel"
)

// Exact nearest-neighbour search: every row (of the first Restrict rows) is
// scored against every query in one pass over the table, split across the
// worker pool by row ranges; each query keeps its best k rows in a bounded
// heap. See Nearest.

// A Metric says how Nearest scores a row x against a query q.
type Metric int

// The metrics.
const (
	// Cosine scores x·q̂ × (1/‖x‖), q̂ the query scaled to unit length,
	// best first. Rows of norm zero have no cosine and are never returned;
	// nor are rows whose norm float32 arithmetic cannot carry: below 2^-63
	// (every value under about 1e-20, where the squared norm underflows)
	// or infinite.
	Cosine Metric = iota
	// Dot scores x·q, best first.
	Dot
	// L2 scores the Euclidean distance ‖x−q‖, nearest first, computed as
	// sqrt(‖x‖² − 2x·q + ‖q‖²) (rounded at 0 from below) from the dot
	// product and the squared norms, as faiss and scikit-learn compute it.
	L2
)

var metricNames = []string{"cosine", "dot", "l2"}

func (m Metric) String() string {
	if int(m) >= 0 && int(m) < len(metricNames) {
		return metricNames[m]
	}
	return fmt.Sprintf("Metric(%d)", int(m))
}

// ParseMetric returns the Metric named s, as String spells it.
func ParseMetric(s string) (Metric, error) {
	for i, name := range metricNames {
		if s == name {
			return Metric(i), nil
		}
	}
	return 0, fmt.Errorf("unknown metric %q (want cosine, dot or l2)", s)
}

// A Neighbour is a row found by Nearest: its id and its score (the metric's
// value: cosine similarity, dot product or Euclidean distance).
type Neighbour struct {
	ID    int64
	Score float32
}

// A NormSource gives the Euclidean norms ‖x‖ of rows, so that cosine and L2
// searches need not compute them (they do, in the same pass, when none is
// given and the table has no norms section, which searches use by
// default).
type NormSource interface {
	// RowNorms writes the norms of rows lo to lo+len(dst)-1 to dst.
	RowNorms(dst []float32, lo int64) error
}

// NormSlice is a NormSource holding the norm of row i at index i. It must
// cover every row searched.
type NormSlice []float32

// RowNorms copies the norms of rows lo to lo+len(dst)-1.
func (s NormSlice) RowNorms(dst []float32, lo int64) error {
	if lo < 0 || lo > int64(len(s)) || int64(len(dst)) > int64(len(s))-lo {
		return fmt.Errorf("embstore: norms of rows [%d, %d) asked of %d norms", lo, lo+int64(len(dst)), len(s))
	}
	copy(dst, s[lo:])
	return nil
}

// NormFunc is a NormSource that calls a function. It is called from
// several goroutines at once when the table has worker threads.
type NormFunc func(dst []float32, lo int64) error

// RowNorms calls f.
func (f NormFunc) RowNorms(dst []float32, lo int64) error { return f(dst, lo) }

// NearestOptions are the optional arguments of Nearest. The zero value
// means cosine similarity over every row, excluding none.
type NearestOptions struct {
	Metric Metric
	// Exclude lists ids never to return (gensim's most_similar leaves out
	// the words it was asked about). Ids outside the table are ignored. A
	// sorted list is searched by bisection, any other by a scan.
	Exclude []int64
	// Restrict, if positive, searches only rows 0 to Restrict-1 (gensim's
	// restrict_vocab: vocabularies are usually sorted by frequency). A
	// value past the table's rows searches them all.
	Restrict int64
	// Norms, if not nil, gives the rows' norms for Cosine and L2 instead
	// of computing them in the pass. When nil, a table with a norms
	// section (format 1.1; Layout.Norms) uses it, and a table without one
	// computes them in the pass.
	Norms NormSource
}

// Nearest finds the k rows most similar to query (Dim() values) under
// opts.Metric and writes them to dst, best first, returning how many it
// wrote: k, or fewer when fewer rows are searched (or have a score).
// Ties are broken by the lower id. len(dst) must be at least k. Nearest
// does not allocate once warm.
//
// Rows are scored as lookups return them (decoded, scaled and rounded as
// Lookup does). Scores are computed in float32, dot products in the order
// kernel.Dot defines, so every kernel level gives the same bits. The
// ranking is the exact one except between rows whose exact scores are
// closer than that rounding: with γ = (dim/16 + 9)·2^-24, each score is
// within γ·Σ|x_j q_j| of the exact dot product, within 2γ·(Σ|x_j q_j| /
// (‖x‖‖q‖) + 1) of the exact cosine, and its square within 2γ·(Σ|x_j q_j| +
// ‖x‖² + ‖q‖²) of the exact squared distance, and no row left out scores
// exactly better than the last one returned by more than both rows'
// bounds (the tests check this against a float64 ranking). Rows with the
// same float32 score rank by id. A row whose score is NaN is never
// returned. A query holding NaN or an infinity is refused, as is a zero
// query for Cosine.
//
// The arguments are checked by Bounds.CheckNearest before any row is read.
func (t *Table) Nearest(dst []Neighbour, query []float32, k int, opts *NearestOptions) (int, error) {
	if err := t.bounds.CheckNearest(dst, query, k, opts); err != nil {
		return 0, err
	}
	var n [1]int
	err := t.nearest(dst, n[:], query, k, opts, false)
	return n[0], err
}

// NearestBatch is Nearest for many queries at once: queries holds them one
// after the other (Dim() values each), and they are answered in one pass
// over the table, which costs far less than a pass per query. The results
// of query i go to dst[i*k:(i+1)*k], best first, and their number to
// counts[i]; slots past it hold ID -1. len(dst) must be at least
// len(queries)/Dim()*k and len(counts) at least the number of queries.
// The arguments are checked by Bounds.CheckNearestBatch before any row is
// read.
func (t *Table) NearestBatch(dst []Neighbour, counts []int, queries []float32, k int, opts *NearestOptions) error {
	if err := t.bounds.CheckNearestBatch(dst, counts, queries, k, opts); err != nil {
		return err
	}
	return t.nearest(dst, counts, queries, k, opts, false)
}

// nearest runs a search whose arguments are checked. unit says the
// queries are already of unit length (MostSimilar's mean), for Cosine.
func (t *Table) nearest(dst []Neighbour, counts []int, queries []float32, k int, opts *NearestOptions, unit bool) error {
	var o NearestOptions
	if opts != nil {
		o = *opts
	}
	nq := len(queries) / t.hdr.Dim
	rows := t.bounds.searched(o.Restrict)
	s := searchPool.Get().(*search)
	defer s.release()
	err := t.read(func() error {
		var section NormSlice
		if o.Norms == nil && o.Metric != Dot {
			var err error
			if section, err = t.sectionNorms(); err != nil {
				return err
			}
		}
		if err := s.init(t, queries, nq, min(int64(k), rows), &o, section, unit); err != nil {
			return err
		}
		j := newJob()
		defer j.release()
		j.kind, j.tab, j.runner = jobPieces, t.tok, s
		return t.kernelErr(t.workers.do(j, int(rows)), nil, 0, "", "")
	})
	if err != nil {
		return err
	}
	s.merge(dst, counts, k)
	return nil
}

// sectionNorms returns the norms searches use when NearestOptions.Norms is
// nil: the table's norms section when it has one (the mapped section
// itself, or on big-endian and copy-out platforms its copy, decoded once),
// else nil, and cosine and L2 searches compute the norms in their pass. It
// runs inside a table call.
func (t *Table) sectionNorms() (NormSlice, error) {
	if !t.sec.hasNorms {
		return nil, nil
	}
	return t.normsSlice()
}

// A search is the state of one call of Nearest. Searches are recycled
// through searchPool, with their buffers, so that calls do not allocate.
type search struct {
	t       *Table
	metric  Metric
	nq, k   int // k: the heap size, at most the rows searched
	exclude []int64
	sorted  bool // exclude is sorted
	norms   NormSource
	section NormSlice // the table's norms section, when norms points at it
	qs      kernel.Queries
	qbuf    []float32 // the queries as searched (unit length for Cosine)
	qq      []float64 // L2: the queries' squared norms
	block   int       // rows scored per kernel call
	slots   []*searchSlot
	claimed atomic.Int32 // slots taken by the pieces running
}

// A searchSlot is what one piece of a search works in: its heaps and
// buffers.
type searchSlot struct {
	heaps   []Neighbour // nq heaps of k
	sizes   []int
	dots    []float32 // block*nq dot products
	sq      []float32 // the block's squared norms (or norms, see rowNorms)
	inv     []float32 // Cosine, several queries: the block's 1/‖x‖
	scratch []float32
	rows    []byte        // copy-out: the block's rows
	tab     *kernel.Table // copy-out: a table of block rows over rows
	tabOf   *kernel.Table // copy-out: the token table tab was built for
}

var searchPool = sync.Pool{New: func() any { return new(search) }}

func (s *search) release() {
	s.t, s.exclude, s.norms, s.section = nil, nil, nil, nil
	searchPool.Put(s)
}

// blockRows returns how many rows a piece scores per kernel call: enough
// to amortise the call, few enough that the dot products stay in L2.
func blockRows(nq int) int { return max(64, min(maxBlockRows, 16384/nq)) }

// maxBlockRows is the most rows blockRows returns.
const maxBlockRows = 1024

// init readies s for a search of t with checked arguments. It allocates
// only when s's buffers are too small, and on the copy-out path when a
// slot first serves t.
// section, if not nil, is the table's norms section, used when o has no
// norms.
func (s *search) init(t *Table, queries []float32, nq int, k int64, o *NearestOptions, section NormSlice, unit bool) error {
	dim := t.hdr.Dim
	s.t, s.metric, s.nq, s.k = t, o.Metric, nq, int(k)
	s.exclude, s.sorted = o.Exclude, slices.IsSorted(o.Exclude)
	s.norms = o.Norms
	if s.norms == nil && section != nil {
		s.section = section
		s.norms = &s.section // a pointer into s: no allocation to box it
	}
	if s.metric == Dot {
		s.norms = nil
	}
	s.qbuf = append(s.qbuf[:0], queries...)
	s.qq = s.qq[:0]
	for q := range nq {
		v := s.qbuf[q*dim : (q+1)*dim]
		n2 := sumSquares(v)
		switch s.metric {
		case Cosine: // n2 > 0: checked
			if !unit {
				n := math.Sqrt(n2)
				for j, x := range v {
					v[j] = float32(float64(x) / n)
				}
			}
		case L2:
			s.qq = append(s.qq, n2)
		}
	}
	if err := s.qs.Set(s.qbuf, dim); err != nil {
		return err
	}
	s.block = blockRows(nq)
	s.claimed.Store(0)
	for len(s.slots) < t.threads {
		s.slots = append(s.slots, new(searchSlot))
	}
	for _, sl := range s.slots[:t.threads] {
		sl.heaps = grow(sl.heaps, nq*s.k)
		sl.sizes = grow(sl.sizes, nq)
		clear(sl.sizes)
		sl.dots = grow(sl.dots, nq*s.block)
		sl.sq = grow(sl.sq, s.block)
		sl.inv = grow(sl.inv, s.block)
		sl.scratch = grow(sl.scratch, kernel.DotScratch(dim))
		if t.copyTo && sl.tabOf != t.tok {
			// A table over the slot's copy of a block, built once per
			// table, for the largest block.
			stride := int(t.hdr.RowStride)
			sl.rows = grow(sl.rows, maxBlockRows*stride)
			tab, err := t.scratchTable(sl.rows, maxBlockRows)
			if err != nil {
				return err
			}
			sl.tab, sl.tabOf = tab, t.tok
		}
	}
	return nil
}

// sumSquares returns the sum of the squares of v, each square and partial
// sum rounded to float64, in index order: no fused multiply-add, so the
// same bits at any GOAMD64.
func sumSquares(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(float64(x) * float64(x))
	}
	return s
}

// grow returns b with length n, reusing its memory when it has enough.
func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}

// runPiece scores rows [lo, hi) into the heaps of a slot of its own.
func (s *search) runPiece(lo, hi int) error {
	sl := s.slots[s.claimed.Add(1)-1]
	t := s.t
	for b := int64(lo); b < int64(hi); b += int64(s.block) {
		m := int(min(int64(s.block), int64(hi)-b))
		tab, first := t.tok, b
		if t.copyTo {
			if err := s.readRows(sl, b, m); err != nil {
				return err
			}
			tab, first = sl.tab, 0
		}
		var sq []float32
		if s.metric != Dot && s.norms == nil {
			sq = sl.sq[:m]
		}
		if err := kernel.Dot(sl.dots, sq, tab, first, m, &s.qs, sl.scratch); err != nil {
			return err
		}
		if err := s.rowNorms(sl, b, m); err != nil {
			return err
		}
		for q := range s.nq {
			s.offer(sl, q, sl.dots[q*m:(q+1)*m], b)
		}
	}
	return nil
}

// readRows copies rows [b, b+m) to the first m rows of sl.tab (platforms
// without a usable mapping).
func (s *search) readRows(sl *searchSlot, b int64, m int) error {
	t := s.t
	stride := t.hdr.RowStride
	if _, err := t.ra.ReadAt(sl.rows[:int64(m)*stride], t.hdr.Tokens().Offset+b*stride); err != nil {
		return fmt.Errorf("embstore: read rows [%d, %d): %w", b, b+int64(m), err)
	}
	return nil
}

// rowNorms fills sl.sq, when the norms come from a NormSource, with what
// offer reads there: the norms for Cosine, their squares for L2 (the
// kernel writes the squared norms there itself otherwise); and for Cosine
// with several queries, sl.inv with each row's 1/‖x‖.
func (s *search) rowNorms(sl *searchSlot, b int64, m int) error {
	sq := sl.sq[:m]
	if s.norms == nil {
		if s.metric == Cosine && s.nq > 1 {
			for r, n2 := range sq {
				sl.inv[r] = inverse(math.Sqrt(float64(n2)))
			}
		}
		return nil
	}
	switch ns := s.norms.(type) {
	case NormSlice:
		copy(sq, ns[b:b+int64(m)])
	case *NormSlice:
		copy(sq, (*ns)[b:b+int64(m)])
	default:
		if err := s.norms.RowNorms(sq, b); err != nil {
			return fmt.Errorf("embstore: nearest: norms of rows [%d, %d): %w", b, b+int64(m), err)
		}
	}
	switch {
	case s.metric == L2:
		for r, n := range sq {
			sq[r] = n * n
		}
	case s.nq > 1:
		for r, n := range sq {
			sl.inv[r] = inverse(float64(n))
		}
	}
	return nil
}

// inverse returns float32(1/n), or NaN when n is not a finite number of at
// least 2^-63 (see Cosine).
func inverse(n float64) float32 {
	if !(n >= 0x1p-63) || math.IsInf(n, 0) {
		return float32(math.NaN())
	}
	return float32(1 / n)
}

// cosineMargin widens the test that spares most rows the square root and
// division of their cosine: it lets through every row whose cosine can
// reach the threshold, float32 rounding of the cosine included.
const cosineMargin = 1 - 0x1p-20

// offer scores one query's dot products with the rows from b on and keeps
// the best in its heap. While a piece runs, heaps rank by a key whose
// higher value is better: the score, or for L2 minus the squared distance.
func (s *search) offer(sl *searchSlot, q int, dots []float32, b int64) {
	h := sl.heaps[q*s.k : (q+1)*s.k]
	size := sl.sizes[q]
	thr := float32(math.Inf(-1))
	if size == s.k {
		thr = h[0].Score
	}
	sq := sl.sq[:len(dots)]
	switch {
	case s.metric == Dot:
		for r, d := range dots {
			if d >= thr { // false for NaN
				size, thr = s.push(h, size, Neighbour{b + int64(r), d})
			}
		}
	case s.metric == Cosine && s.nq > 1:
		// 1/‖x‖ of each row, computed once for all the queries.
		inv := sl.inv[:len(dots)]
		for r, d := range dots {
			if c := d * inv[r]; c >= thr {
				size, thr = s.push(h, size, Neighbour{b + int64(r), c})
			}
		}
	case s.metric == Cosine && s.norms == nil:
		// One query: cos = d/sqrt(sq) can reach thr > 0 only if d > 0 and
		// d*d >= thr*thr*sq, which spares most rows a square root and a
		// division.
		// max(d, 0) folds the sign test into the comparison, which then
		// fails for nearly every row once the heap is full: a branch the
		// CPU predicts, where "d > 0" is a coin toss per row.
		for r, d := range dots {
			if thr > 0 {
				t, dp := float64(thr), float64(max(d, 0))
				if !(dp*dp >= t*t*cosineMargin*float64(sq[r])) {
					continue
				}
			}
			if c := d * inverse(math.Sqrt(float64(sq[r]))); c >= thr {
				size, thr = s.push(h, size, Neighbour{b + int64(r), c})
			}
		}
	case s.metric == Cosine:
		for r, d := range dots { // sq holds the norms
			// With thr > 0 the right side is >= 0 (or NaN), so rows with
			// d <= 0 fail this one test, which is predictable (see above).
			if thr > 0 && !(float64(d) >= float64(thr)*cosineMargin*float64(sq[r])) {
				continue
			}
			if c := d * inverse(float64(sq[r])); c >= thr {
				size, thr = s.push(h, size, Neighbour{b + int64(r), c})
			}
		}
	default: // L2
		qq := s.qq[q]
		for r, d := range dots {
			key := float32(float64(2*float64(d)) - float64(sq[r]) - qq) // unfused
			if key >= thr {
				size, thr = s.push(h, size, Neighbour{b + int64(r), key})
			}
		}
	}
	sl.sizes[q] = size
}

// push offers c to the heap h holding size entries (capacity len(h)) and
// returns its new size and the score a candidate must reach to enter it.
func (s *search) push(h []Neighbour, size int, c Neighbour) (int, float32) {
	if !s.excluded(c.ID) {
		size = heapPush(h, size, c)
	}
	if size < len(h) {
		return size, float32(math.Inf(-1))
	}
	return size, h[0].Score
}

func (s *search) excluded(id int64) bool {
	if s.sorted {
		_, found := slices.BinarySearch(s.exclude, id)
		return found
	}
	return slices.Contains(s.exclude, id)
}

// worse reports whether a ranks below b: a lower key, or the same key and
// a higher id.
func worse(a, b Neighbour) bool {
	return a.Score < b.Score || a.Score == b.Score && a.ID > b.ID
}

// heapPush adds c to the min-heap (by worse) h[:size] of capacity len(h),
// replacing its worst entry when full and c ranks above it, and returns
// the new size.
func heapPush(h []Neighbour, size int, c Neighbour) int {
	if size < len(h) {
		h[size] = c
		for i := size; i > 0; {
			p := (i - 1) / 2
			if !worse(h[i], h[p]) {
				break
			}
			h[i], h[p] = h[p], h[i]
			i = p
		}
		return size + 1
	}
	if !worse(h[0], c) {
		return size
	}
	h[0] = c
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < size && worse(h[l], h[m]) {
			m = l
		}
		if l+1 < size && worse(h[l+1], h[m]) {
			m = l + 1
		}
		if m == i {
			return size
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// merge gathers the pieces' heaps of each query into dst[q*k:], best first,
// turns L2 keys into distances and writes the counts.
func (s *search) merge(dst []Neighbour, counts []int, k int) {
	used := int(s.claimed.Load())
	for q := range s.nq {
		out := dst[q*k : q*k+s.k]
		size := 0
		for _, sl := range s.slots[:used] {
			for _, c := range sl.heaps[q*s.k : q*s.k+sl.sizes[q]] {
				size = heapPush(out, size, c)
			}
		}
		out = out[:size]
		slices.SortFunc(out, func(a, b Neighbour) int {
			switch {
			case worse(b, a):
				return -1
			case worse(a, b):
				return 1
			}
			return 0
		})
		if s.metric == L2 {
			// Distances, nearest first; squared distances that differ can
			// round to the same distance, which then ranks by id.
			for i := range out {
				out[i].Score = float32(math.Sqrt(max(0, -float64(out[i].Score))))
			}
			slices.SortFunc(out, func(a, b Neighbour) int {
				switch {
				case a.Score < b.Score || a.Score == b.Score && a.ID < b.ID:
					return -1
				case a.Score == b.Score && a.ID == b.ID:
					return 0
				}
				return 1
			})
		}
		for i := q*k + size; i < (q+1)*k; i++ {
			dst[i] = Neighbour{ID: -1}
		}
		counts[q] = size
	}
}
