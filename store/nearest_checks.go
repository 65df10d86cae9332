package store

import (
	"fmt"
	"math"
)

// The argument rules of Nearest, NearestBatch and MostSimilar: like the
// lookups' (checks.go), checked once, by Bounds, before any row is read
// and before a search is split across the worker pool; the search itself
// relies on them and does not check again.

// CheckNearest checks the arguments of Nearest(dst, query, k, opts): a
// query of Dim values, then what CheckNearestBatch checks.
func (b Bounds) CheckNearest(dst []Neighbour, query []float32, k int, opts *NearestOptions) error {
	if len(query) != b.Dim {
		return fmt.Errorf("embstore: nearest: query of %d values for rows of %d", len(query), b.Dim)
	}
	return b.checkSearch(dst, 1, query, k, opts)
}

// CheckNearestBatch checks the arguments of NearestBatch(dst, counts,
// queries, k, opts): a whole, non-zero number of queries of Dim values and
// a count for each; then the metric, k (at least 1), an output of k
// neighbours per query, Restrict (not negative), a NormSlice that covers
// the rows searched, and the queries' values (finite; not zero for Cosine).
func (b Bounds) CheckNearestBatch(dst []Neighbour, counts []int, queries []float32, k int, opts *NearestOptions) error {
	if len(queries) == 0 || len(queries)%b.Dim != 0 {
		return fmt.Errorf("embstore: nearest: %d query values are not a whole number of queries of %d", len(queries), b.Dim)
	}
	nq := len(queries) / b.Dim
	if len(counts) < nq {
		return fmt.Errorf("embstore: nearest: counts holds %d values for %d queries", len(counts), nq)
	}
	return b.checkSearch(dst, nq, queries, k, opts)
}

// checkSearch checks what a search of nq queries takes besides their
// number: the options, k, the output and the queries' values.
func (b Bounds) checkSearch(dst []Neighbour, nq int, queries []float32, k int, opts *NearestOptions) error {
	var o NearestOptions
	if opts != nil {
		o = *opts
	}
	if err := b.checkSearchOptions(dst, nq, k, o.Metric, o.Restrict, o.Norms); err != nil {
		return err
	}
	for q := range nq {
		var n2 float64
		for j, x := range queries[q*b.Dim : (q+1)*b.Dim] {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("embstore: nearest: query %d value %d is %v", q, j, x)
			}
			n2 += float64(float64(x) * float64(x)) // unfused, as the search computes it
		}
		if o.Metric == Cosine && n2 == 0 {
			return fmt.Errorf("embstore: nearest: query %d is zero; it has no cosine similarity", q)
		}
	}
	return nil
}

// checkSearchOptions checks the arguments every search takes: the metric,
// k, an output of k neighbours for each of nq queries, restrict and the
// length of a NormSlice.
func (b Bounds) checkSearchOptions(dst []Neighbour, nq, k int, m Metric, restrict int64, norms NormSource) error {
	switch {
	case m < Cosine || m > L2:
		return fmt.Errorf("embstore: nearest: metric %d is not one of cosine, dot, l2", int(m))
	case k <= 0:
		return fmt.Errorf("embstore: nearest: k = %d; want at least 1", k)
	case len(dst)/k < nq: // len(dst) < nq*k without overflow
		return fmt.Errorf("embstore: nearest: output holds %d neighbours, %d queries of k = %d need %d", len(dst), nq, k, int64(nq)*int64(k))
	case restrict < 0:
		return fmt.Errorf("embstore: nearest: restrict %d is negative", restrict)
	}
	if ns, ok := norms.(NormSlice); ok && m != Dot {
		if rows := b.searched(restrict); int64(len(ns)) < rows {
			return fmt.Errorf("embstore: nearest: %d norms for %d rows searched", len(ns), rows)
		}
	}
	return nil
}

// searched returns the number of rows a search with this Restrict scores.
func (b Bounds) searched(restrict int64) int64 {
	if restrict > 0 {
		return min(b.Rows, restrict)
	}
	return b.Rows
}

// CheckMostSimilar checks the arguments of MostSimilar(dst, positive,
// negative, topn, opts): at least one input, every input id inside the
// token table (an *IndexError whose Arg is "positive" or "negative"),
// every input vector of Dim values, then topn, the output, Restrict and
// the norms as CheckNearest does. The inputs' values are MostSimilar's to
// check as it reads them (a row's values are known only then).
func (b Bounds) CheckMostSimilar(dst []Neighbour, positive, negative []Term, topn int, opts *SimilarOptions) error {
	var o SimilarOptions
	if opts != nil {
		o = *opts
	}
	if len(positive)+len(negative) == 0 {
		return fmt.Errorf("embstore: most similar: no inputs")
	}
	for i := range len(positive) + len(negative) {
		arg, at, terms := "positive", i, positive
		if i >= len(positive) {
			arg, at, terms = "negative", i-len(positive), negative
		}
		switch term := terms[at]; {
		case term.Vector == nil && uint64(term.ID) >= uint64(b.Rows):
			return &IndexError{Arg: arg, Index: at, Value: term.ID, Limit: b.Rows, What: "token table"}
		case term.Vector != nil && len(term.Vector) != b.Dim:
			return fmt.Errorf("embstore: most similar: %s[%d] has %d values for rows of %d", arg, at, len(term.Vector), b.Dim)
		}
	}
	return b.checkSearchOptions(dst, 1, topn, Cosine, o.Restrict, o.Norms)
}
