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

// Bag pools rows of t into one output row per bag, as
// torch.nn.functional.embedding_bag does: bag i is ids[offsets[i]:end], end
// being offsets[i+1], or len(ids) for the last bag, and its pooled row goes
// to dst[i*t.Dim:(i+1)*t.Dim]; len(dst) must be len(offsets)*t.Dim. Offsets
// must not decrease. They may also describe part of a longer id list: ids
// then holds that list from position offsets[0] on, and offsets are taken
// relative to offsets[0] (torch requires offsets[0] = 0 for a whole list).
//
// Ids equal to pad are skipped, and not counted by BagMean (pad < 0 means
// none). weights, if not nil, holds one weight per id and requires BagSum;
// each row is multiplied by its weight with a fused multiply-add into the
// sum. Sums accumulate in id order in float32; BagMean multiplies the sum by
// float32(1)/float32(n), as FBGEMM does. An empty bag, or one holding only
// padding, pools to zeros. BagMax takes the element-wise maximum as torch
// does: a bag's first row (the first id that is not padding) gives the
// starting values, and a later value replaces one only if it is strictly
// greater, so a NaN in the first row stays, a NaN in a later row is
// ignored, and of +0 and -0 the first is kept.
//
// It returns -1, or, when an id is outside [0, t.Rows), the index of the
// first such id, having written nothing. It returns an error for invalid
// arguments.
func Bag(dst []float32, t *Table, ids, offsets []int64, mode BagMode, weights []float32, pad int64) (bad int, err error) {
	if err := t.Validate(); err != nil {
		return -1, err
	}
	if err := checkBagArgs(dst, t.Dim, ids, offsets, mode, weights); err != nil {
		return -1, err
	}
	if bad := CheckIDs(ids, t.Rows); bad >= 0 {
		return bad, nil
	}
	dim := t.Dim
	for b := range offsets {
		lo, hi := int(offsets[b]-offsets[0]), len(ids)
		if b+1 < len(offsets) {
			hi = int(offsets[b+1] - offsets[0])
		}
		out := dst[b*dim : (b+1)*dim]
		if mode == BagMax {
			// The first row that is not padding starts the maximum.
			for lo < hi && ids[lo] == pad {
				lo++
			}
			if lo == hi {
				clear(out)
				continue
			}
			gatherChunk(out, t, ids[lo:lo+1], nil, 0)
			lo++
		} else {
			clear(out)
		}
		for s := lo; s < hi; s += bagStep {
			e := min(s+bagStep, hi)
			var w []float32
			if weights != nil {
				w = weights[s:e]
			}
			bagChunk(out, t, ids[s:e], w, mode, pad)
		}
		if mode != BagMax {
			n := hi - lo
			if pad >= 0 {
				for _, id := range ids[lo:hi] {
					if id == pad {
						n--
					}
				}
			}
			finishBag(out, mode, n)
		}
	}
	return -1, nil
}

func checkBagArgs(dst []float32, dim int, ids, offsets []int64, mode BagMode, weights []float32) error {
	switch {
	case mode != BagSum && mode != BagMean && mode != BagMax:
		return fmt.Errorf("kernel: invalid bag mode %d", int(mode))
	case len(dst) != len(offsets)*dim:
		return fmt.Errorf("kernel: output holds %d values, %d bags of %d need %d", len(dst), len(offsets), dim, len(offsets)*dim)
	case weights != nil && mode != BagSum:
		return fmt.Errorf("kernel: per-sample weights need mode sum, not %s", mode)
	case weights != nil && len(weights) != len(ids):
		return fmt.Errorf("kernel: %d per-sample weights for %d ids", len(weights), len(ids))
	case len(offsets) > 0 && offsets[0] < 0:
		return fmt.Errorf("kernel: offsets[0] = %d is negative", offsets[0])
	}
	for i := 1; i < len(offsets); i++ {
		if offsets[i] < offsets[i-1] || offsets[i]-offsets[0] > int64(len(ids)) {
			return fmt.Errorf("kernel: offsets[%d] = %d; offsets must not decrease and stay within the %d ids", i, offsets[i], len(ids))
		}
	}
	return nil
}

// finishBag turns the accumulated row of a bag of n pooled rows into its
// result.
func finishBag(out []float32, mode BagMode, n int) {
	switch {
	case n == 0:
		clear(out)
	case mode == BagMean:
		inv := 1 / float32(n)
		for i := range out {
			out[i] *= inv
		}
	}
}
