package kernel

import "fmt"

// A BagMode says how Bag pools the rows of a bag, as torch.nn.EmbeddingBag's
// mode does.
type BagMode int

// The pooling modes.
const (
	BagSum  BagMode = iota // sum of the rows (weighted, with per-sample weights)
	BagMean                // sum of the rows times 1/n, n the number of rows pooled
	BagMax                 // element-wise maximum
)

func (m BagMode) String() string {
	switch m {
	case BagSum:
		return "sum"
	case BagMean:
		return "mean"
	case BagMax:
		return "max"
	}
	return fmt.Sprintf("BagMode(%d)", int(m))
}

// bagStep bounds the ids one inner call pools, so that a huge bag does not
// keep a goroutine from being preempted for long.
const bagStep = 1024

// Bags are the ids of a bag call cut into bags, checked by NewBags: bag i
// is ids[offsets[i]:end], end being offsets[i+1], or len(ids) for the last
// bag, with offsets taken relative to offsets[0] (so that Bags can describe
// part of a longer id list, ids holding that list from position offsets[0]
// on; torch requires offsets[0] = 0 for a whole list), and weights, if not
// nil, one per id.
type Bags struct {
	ids     []int64
	offsets []int64
	weights []float32
}

// NewBags checks offsets against ids (offsets[0] not negative, offsets that
// do not decrease, none past the ids) and weights (nil, or one per id), and
// returns them as Bags. It is the one check of a bag call's structure:
// pieces cut with Slice need none.
func NewBags(ids, offsets []int64, weights []float32) (Bags, error) {
	switch {
	case weights != nil && len(weights) != len(ids):
		return Bags{}, fmt.Errorf("kernel: %d per-sample weights for %d ids", len(weights), len(ids))
	case len(offsets) > 0 && offsets[0] < 0:
		return Bags{}, fmt.Errorf("kernel: offsets[0] = %d is negative", offsets[0])
	}
	for i := 1; i < len(offsets); i++ {
		if offsets[i] < offsets[i-1] || offsets[i]-offsets[0] > int64(len(ids)) {
			return Bags{}, fmt.Errorf("kernel: offsets[%d] = %d; offsets must not decrease and stay within the %d ids", i, offsets[i], len(ids))
		}
	}
	return Bags{ids: ids, offsets: offsets, weights: weights}, nil
}

// Len returns the number of bags.
func (b Bags) Len() int { return len(b.offsets) }

// IDs returns the ids of the bags, from the first bag's first id on.
func (b Bags) IDs() []int64 { return b.ids }

// Offsets returns the offsets of the bags, as given to NewBags.
func (b Bags) Offsets() []int64 { return b.offsets }

// Weights returns the per-sample weights, one per id, or nil.
func (b Bags) Weights() []float32 { return b.weights }

// bounds returns the range of bag i in b.ids.
func (b Bags) bounds(i int) (lo, hi int) {
	lo, hi = int(b.offsets[i]-b.offsets[0]), len(b.ids)
	if i+1 < len(b.offsets) {
		hi = int(b.offsets[i+1] - b.offsets[0])
	}
	return lo, hi
}

// Slice returns bags [lo, hi) of b, 0 <= lo <= hi <= b.Len().
func (b Bags) Slice(lo, hi int) Bags {
	if lo == hi {
		return Bags{ids: b.ids[:0], offsets: b.offsets[:0], weights: b.weights[:0:0]}
	}
	first, _ := b.bounds(lo)
	_, end := b.bounds(hi - 1)
	s := Bags{ids: b.ids[first:end], offsets: b.offsets[lo:hi]}
	if b.weights != nil {
		s.weights = b.weights[first:end]
	}
	return s
}

// Bag pools rows of t into one output row per bag of b, as
// torch.nn.functional.embedding_bag does; bag i's pooled row goes to
// dst[i*Dim:(i+1)*Dim], and len(dst) must be b.Len()*Dim.
//
// Ids equal to pad are skipped, and not counted by BagMean; a pad outside
// the table (pad < 0, for instance -1) means none, and an id equal to it is
// outside the table like any other. Weights, if b has them, require BagSum; each row is multiplied by
// its weight with a fused multiply-add into the sum. Sums accumulate in id
// order in float32; BagMean multiplies the sum by float32(1)/float32(n), as
// FBGEMM does. An empty bag, or one holding only padding, pools to zeros.
// BagMax takes the element-wise maximum as torch does: a bag's first row
// (the first id that is not padding) gives the starting values, and a later
// value replaces one only if it is strictly greater, so a NaN in the first
// row stays, a NaN in a later row is ignored, and of +0 and -0 the first is
// kept.
//
// An id outside the table stops it with an *IDError (see "Who checks
// what"), the bags before it written.
func Bag(dst []float32, t *Table, b Bags, mode BagMode, pad int64) error {
	switch {
	case mode != BagSum && mode != BagMean && mode != BagMax:
		return fmt.Errorf("kernel: invalid bag mode %d", int(mode))
	case b.weights != nil && mode != BagSum:
		return fmt.Errorf("kernel: per-sample weights need mode sum, not %s", mode)
	}
	if err := CheckSize(len(dst), b.Len(), t.dim, "bags"); err != nil {
		return err
	}
	dim, ids := t.dim, b.ids
	hasPad := uint64(pad) < uint64(t.rows) // a pad outside the table means none
	for i := range b.offsets {
		lo, hi := b.bounds(i)
		out := dst[i*dim : (i+1)*dim]
		if mode == BagMax {
			// The first row that is not padding starts the maximum.
			for lo < hi && hasPad && ids[lo] == pad {
				lo++
			}
			if lo == hi {
				clear(out)
				continue
			}
			if bad := gatherChunk(out, t, ids[lo:lo+1], nil, Sequence{}); bad >= 0 {
				return &IDError{Index: lo, ID: ids[lo], Rows: t.rows}
			}
			lo++
		} else {
			clear(out)
		}
		for s := lo; s < hi; s += bagStep {
			e := min(s+bagStep, hi)
			var w []float32
			if b.weights != nil {
				w = b.weights[s:e]
			}
			if bad := bagChunk(out, t, ids[s:e], w, mode, pad); bad >= 0 {
				return &IDError{Index: s + bad, ID: ids[s+bad], Rows: t.rows}
			}
		}
		if mode == BagMean {
			meanBag(out, ids[lo:hi], pad, hasPad)
		}
	}
	return nil
}

// meanBag turns the sum out of the rows of ids, those equal to pad left
// out if hasPad, into their mean. A bag with no row to count keeps the
// zeros it was cleared to.
func meanBag(out []float32, ids []int64, pad int64, hasPad bool) {
	n := len(ids)
	if hasPad {
		for _, id := range ids {
			if id == pad {
				n--
			}
		}
	}
	if n == 0 {
		return
	}
	inv := 1 / float32(n)
	for i := range out {
		out[i] *= inv
	}
}
