package kernel

import (
	"fmt"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/fma32"
)

// Dot products for nearest-neighbour search.
//
// Dot computes the dot products of a run of table rows with a set of
// queries, and optionally each row's squared norm, in one pass over the
// rows: each block of rows is read once from memory and serves every query
// (the queries stay in L1), so a batch of queries costs little more memory
// traffic than one. Rows are the values a lookup returns (decoded, and for
// tables with a token scale or a compute dtype, scaled and rounded as
// Gather does).
//
// # Results
//
// A dot product is defined, bit for bit, by dotRef below: the row and the
// query are padded with zeros to a multiple of 16 values; value j goes to
// partial sum j mod 16, accumulated in ascending j with a fused multiply-add
// (one rounding) from +0; the 16 partial sums are then added pairwise,
// s[l] += s[l+h] for h = 8, 4, 2, 1. That is the order a 16-lane vector
// computes in, so the AVX-512 and AVX2 kernels give the same bits as the
// portable reference, except the payload of NaN results (a NaN is a NaN:
// search drops rows whose score is NaN). The error against the exact dot
// product is that of float32 summation in about dim/16 + 4 steps: at most
// (ceil(dim/16)+4) * 2^-24 * sum |x_j q_j| (to first order), which is what
// "ties closer than float32 rounding" means for search results.

// dotLanes is the number of partial sums a dot product accumulates.
const dotLanes = 16

// dotGroup is the largest number of queries packed together: the kernels
// read each block of rows once per group of up to dotGroup queries.
const dotGroup = 8

// dotChunks returns the number of 16-value chunks of a row of dim values.
func dotChunks(dim int) int { return (dim + dotLanes - 1) / dotLanes }

// Queries holds query vectors laid out for Dot: in groups of up to 8
// queries, each group interleaved chunk by chunk (16 values of each query
// of the group, then the next 16 values of each), zero-padded to a multiple
// of 16 values. The zero value is empty; Set fills it, reusing its memory.
type Queries struct {
	dim, n int
	packed []float32
	flat   []float32 // the queries as given, for the reference
}

// Set lays out the queries in vals (n queries of dim values each, one after
// the other) for Dot. It allocates only when it needs more memory than it
// has. It returns an error if dim is out of range or len(vals) is not a
// multiple of dim.
func (qs *Queries) Set(vals []float32, dim int) error {
	if dim <= 0 || dim > format.MaxDim {
		return fmt.Errorf("kernel: query width %d out of range", dim)
	}
	if len(vals)%dim != 0 {
		return fmt.Errorf("kernel: %d query values are not a whole number of queries of %d", len(vals), dim)
	}
	n := len(vals) / dim
	size := n * dotChunks(dim) * dotLanes
	if cap(qs.packed) < size {
		qs.packed = make([]float32, size)
	}
	qs.packed = qs.packed[:size]
	qs.flat = append(qs.flat[:0], vals...)
	qs.dim, qs.n = dim, n
	for g := 0; g < n; g += dotGroup {
		gs := min(dotGroup, n-g)
		off := qs.groupOffset(g)
		for q := range gs {
			v := vals[(g+q)*dim : (g+q+1)*dim]
			for c := range dotChunks(dim) {
				dst := qs.packed[off+(c*gs+q)*dotLanes:][:dotLanes]
				src := v[c*dotLanes : min(len(v), (c+1)*dotLanes)]
				copy(dst, src)
				clear(dst[len(src):])
			}
		}
	}
	return nil
}

// Len returns the number of queries.
func (qs *Queries) Len() int { return qs.n }

// Dim returns the number of values of each query.
func (qs *Queries) Dim() int { return qs.dim }

// groupOffset returns where the group of query g (a multiple of dotGroup)
// starts in packed.
func (qs *Queries) groupOffset(g int) int { return g * dotChunks(qs.dim) * dotLanes }

// query returns the values of query q.
func (qs *Queries) query(q int) []float32 { return qs.flat[q*qs.dim : (q+1)*qs.dim] }

// DotScratch returns the number of float32 values of scratch space Dot needs
// for rows of dim values: rows are decoded into it where the kernels cannot
// take them as stored (tables with a token scale or a compute dtype; every
// table on the reference path).
func DotScratch(dim int) int { return decodeRows(dim) * dim }

// decodeRows is how many rows Dot decodes into its scratch space at a time.
func decodeRows(dim int) int { return max(1, min(32, 8192/dim)) }

// dotBlockBytes bounds the row bytes one inner call reads, so that a call
// takes tens of microseconds at most even with many queries.
const dotBlockBytes = 32 << 10

// Dot computes, for the n rows lo to lo+n-1 of t and every query q of qs,
// dst[q*n+r] = row(lo+r) · query(q), and, when sq is not nil,
// sq[r] = row(lo+r) · row(lo+r). len(dst) must be at least qs.Len()*n, and
// len(sq) at least n, and len(scratch) at least DotScratch(t.Dim()); qs holds
// at least one query. See "Results" in dot.go for how the sums are rounded.
// Dot does not allocate.
//
// It returns an error for invalid arguments, having written nothing; the
// table's geometry is NewTable's to check, and Dot checks only its other
// arguments, each in O(1).
func Dot(dst, sq []float32, t *Table, lo int64, n int, qs *Queries, scratch []float32) error {
	switch {
	case qs.n == 0:
		return fmt.Errorf("kernel: no queries")
	case qs.dim != t.dim:
		return fmt.Errorf("kernel: queries of %d values for rows of %d", qs.dim, t.dim)
	case lo < 0 || n < 0 || lo > t.rows || int64(n) > t.rows-lo:
		return fmt.Errorf("kernel: rows [%d, %d+%d) outside the table's %d rows", lo, lo, n, t.rows)
	case len(dst) < qs.n*n:
		return fmt.Errorf("kernel: output holds %d values, %d queries of %d rows need %d", len(dst), qs.n, n, qs.n*n)
	case sq != nil && len(sq) < n:
		return fmt.Errorf("kernel: norms output holds %d values for %d rows", len(sq), n)
	case len(scratch) < DotScratch(t.dim):
		return fmt.Errorf("kernel: scratch holds %d values, rows of %d need %d", len(scratch), t.dim, DotScratch(t.dim))
	}
	if n == 0 {
		return nil
	}
	step := max(1, dotBlockBytes/t.stride)
	if !t.plain() {
		step = decodeRows(t.dim)
	}
	for r := 0; r < n; r += step {
		m := min(step, n-r)
		var s []float32
		if sq != nil {
			s = sq[r : r+m]
		}
		dotRows(dst[r:], n, s, t, lo+int64(r), m, qs, scratch)
	}
	return nil
}

// dotRows is the inner function Dot calls per block of rows: it writes
// dst[q*ldq+r] for r < n and, when sq is not nil, sq[r]. It starts as the
// reference; a platform file may replace it with a faster one that gives
// the same results.
var dotRows = dotRowsRef

// dotRowsRef is the reference implementation of dotRows. scratch holds at
// least t.Dim() values.
func dotRowsRef(dst []float32, ldq int, sq []float32, t *Table, lo int64, n int, qs *Queries, scratch []float32) {
	x := scratch[:t.dim]
	for r := range n {
		readRow(x, t, lo+int64(r))
		if sq != nil {
			sq[r] = dotRef(x, x)
		}
		for q := range qs.n {
			dst[q*ldq+r] = dotRef(x, qs.query(q))
		}
	}
}

// dotRef is the definition of a dot product (see "Results"): x against y,
// of the same length, both padded with zeros to a multiple of 16 values.
func dotRef(x, y []float32) float32 {
	var acc [dotLanes]float32
	y = y[:len(x)]
	for c := 0; c < len(x); c += dotLanes {
		for l := range dotLanes {
			var a, b float32
			if c+l < len(x) {
				a, b = x[c+l], y[c+l]
			}
			acc[l] = fma32.FMA(a, b, acc[l])
		}
	}
	for h := dotLanes / 2; h >= 1; h /= 2 {
		for l := range h {
			acc[l] += acc[l+h]
		}
	}
	return acc[0]
}

// useDotKernels makes Dot use the kernels of level l, one of
// supportedLevels(), and returns a function that restores the ones in use
// before. It lets tests and benchmarks force each path; it must not run
// concurrently with Dot.
func useDotKernels(l kernelLevel) (restore func()) {
	d := dotRows
	setDotKernels(l)
	return func() { dotRows = d }
}
