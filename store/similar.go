package store

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/embstore/embstore/kernel"
)

// A Term is one input of MostSimilar: a row of the table (ID), or, when
// Vector is not nil, a vector of Dim() values given directly (for instance
// a fastText out-of-vocabulary word's subword vector).
type Term struct {
	ID     int64
	Vector []float32
}

// SimilarOptions are the optional arguments of MostSimilar.
type SimilarOptions struct {
	// Restrict, if positive, searches only rows 0 to Restrict-1, as
	// gensim's restrict_vocab.
	Restrict int64
	// Norms, if not nil, gives the rows' norms (see NearestOptions).
	Norms NormSource
}

// errNoMean is returned by MostSimilar when the inputs cancel out.
var errNoMean = errors.New("embstore: most similar: the mean of the inputs is zero: it has no cosine similarity")

// MostSimilar is gensim's KeyedVectors.most_similar (gensim 4.2): each
// input is scaled to unit length, the positives added and the negatives
// subtracted (3CosAdd: king - man + woman), the sum divided by the number
// of inputs and scaled to unit length; the topn rows of highest cosine
// similarity to it are written to dst, best first, leaving out the rows
// given as inputs, and their number returned. The arithmetic is gensim's,
// in float32 and in its order, so scores agree with gensim's to float32
// rounding; ties are broken by the lower id where gensim's order is
// arbitrary. A vector input is scaled to unit length as gensim scales the
// vector of a key (an out-of-vocabulary fastText word's), and is not left
// out of the results.
//
// The arguments are checked by Bounds.CheckMostSimilar before any row is
// read: an input id outside the table is an *IndexError; no inputs and a
// vector of the wrong length are errors; len(dst) must be at least topn.
// An input with NaN, infinities or a zero norm, and inputs that cancel
// out, are errors too.
func (t *Table) MostSimilar(dst []Neighbour, positive, negative []Term, topn int, opts *SimilarOptions) (int, error) {
	if err := t.bounds.CheckMostSimilar(dst, positive, negative, topn, opts); err != nil {
		return 0, err
	}
	var o SimilarOptions
	if opts != nil {
		o = *opts
	}
	dim := t.hdr.Dim
	b := meanPool.Get().(*meanBuf)
	defer meanPool.Put(b)
	b.mean = grow(b.mean, dim)
	b.row = grow(b.row, dim)
	b.exclude = b.exclude[:0]
	clear(b.mean)
	ids := b.ids[:1]
	for i := range len(positive) + len(negative) {
		arg, at, sign := "positive", i, float32(1)
		term := Term{}
		if i < len(positive) {
			term = positive[i]
		} else {
			arg, at, sign = "negative", i-len(positive), -1
			term = negative[at]
		}
		v := term.Vector
		if v == nil { // an id inside the table: checked
			ids[0] = term.ID
			if err := t.gather(b.row, ids, false, kernel.Sequence{}); err != nil {
				return 0, err
			}
			v = b.row
			b.exclude = append(b.exclude, term.ID)
		}
		// gensim: vectors[i] / norms[i], in float32.
		n := norm32(v)
		if !(n > 0) || math.IsInf(float64(n), 0) {
			return 0, fmt.Errorf("embstore: most similar: %s[%d] has norm %v; it has no direction", arg, at, n)
		}
		for j, x := range v {
			b.mean[j] += float32(sign * (x / n)) // unfused, as numpy computes it
		}
	}
	// mean / total weight, then unitvec: mean * float32(1/‖mean‖).
	total := float32(len(positive) + len(negative))
	for j := range b.mean {
		b.mean[j] /= total
	}
	n := norm32(b.mean)
	if !(n > 0) {
		return 0, errNoMean
	}
	inv := float32(1 / float64(n))
	for j := range b.mean {
		b.mean[j] *= inv
	}
	var count [1]int
	nopts := &b.opts
	slices.Sort(b.exclude) // sorted: the search bisects it
	*nopts = NearestOptions{Metric: Cosine, Exclude: b.exclude, Restrict: o.Restrict, Norms: o.Norms}
	err := t.nearest(dst, count[:], b.mean, topn, nopts, true)
	*nopts = NearestOptions{}
	return count[0], err
}

// meanBuf is MostSimilar's scratch, recycled through meanPool.
type meanBuf struct {
	mean, row []float32
	ids       [1]int64
	exclude   []int64
	opts      NearestOptions
}

var meanPool = sync.Pool{New: func() any { return new(meanBuf) }}

// norm32 returns the Euclidean norm of v rounded to float32 (numpy's
// np.linalg.norm of a float32 vector, to its rounding).
func norm32(v []float32) float32 { return float32(math.Sqrt(sumSquares(v))) }
