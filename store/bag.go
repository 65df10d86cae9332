package store

import (
	"fmt"

	"github.com/embstore/embstore/kernel"
)

// BagMode is how Bag pools rows: kernel.BagSum, kernel.BagMean or
// kernel.BagMax.
type BagMode = kernel.BagMode

// The pooling modes, re-exported from the kernel package.
const (
	BagSum  = kernel.BagSum
	BagMean = kernel.BagMean
	BagMax  = kernel.BagMax
)

// BagOptions are the optional arguments of Bag, as torch.nn.EmbeddingBag
// names them. The zero value means mode sum, offsets without the last one,
// no weights and no padding id.
type BagOptions struct {
	Mode BagMode
	// IncludeLastOffset says that offsets has one more entry than there are
	// bags: the end of the last bag. Ids past it are ignored.
	IncludeLastOffset bool
	// PerSampleWeights, if not nil, holds one weight per id; each row is
	// multiplied by its weight before it is summed. Only with BagSum.
	PerSampleWeights []float32
	// PaddingIdx, when HasPaddingIdx is set, is an id whose rows are skipped
	// (and not counted by BagMean). As in torch, a negative value counts
	// from the end of the table: -1 is the last row.
	PaddingIdx    int64
	HasPaddingIdx bool
}

// Bag pools the rows of bags of ids into one row per bag, as
// torch.nn.functional.embedding_bag does (see kernel.Bag for the exact
// arithmetic): bag i holds ids[offsets[i]:offsets[i+1]] (to the end of ids
// for the last bag, unless IncludeLastOffset), and its pooled row goes to
// dst[i*Dim():(i+1)*Dim()]. offsets[0] must be 0 and offsets must not
// decrease or pass len(ids). Empty bags, and bags holding only padding, pool
// to zeros. A nil opts means the defaults. Bag does not allocate.
func (t *Table) Bag(dst []float32, ids, offsets []int64, opts *BagOptions) error {
	var o BagOptions
	if opts != nil {
		o = *opts
	}
	bags := len(offsets)
	if o.IncludeLastOffset {
		if bags == 0 {
			return fmt.Errorf("embstore: include-last-offset needs at least one offset")
		}
		bags--
		last := offsets[bags]
		if last < 0 || last > int64(len(ids)) || (bags > 0 && last < offsets[bags-1]) {
			return fmt.Errorf("embstore: offsets[%d] = %d; the last offset must lie in [offsets[%d], %d]", bags, last, max(0, bags-1), len(ids))
		}
		ids = ids[:last]
		if o.PerSampleWeights != nil && len(o.PerSampleWeights) >= int(last) {
			o.PerSampleWeights = o.PerSampleWeights[:last]
		}
		offsets = offsets[:bags]
	}
	switch {
	case bags > 0 && offsets[0] != 0:
		return fmt.Errorf("embstore: offsets[0] = %d; the first bag must start at 0, as in torch", offsets[0])
	case bags == 0 && len(dst) != 0:
		return fmt.Errorf("embstore: offsets is empty, so there are no bags, but the output holds %d values; "+
			"offsets []int64{0} pools all %d ids into one bag", len(dst), len(ids))
	case len(dst) != bags*t.hdr.Dim:
		return fmt.Errorf("embstore: output holds %d values, %d bags of %d need %d", len(dst), bags, t.hdr.Dim, bags*t.hdr.Dim)
	case o.PerSampleWeights != nil && len(o.PerSampleWeights) != len(ids):
		return fmt.Errorf("embstore: %d per-sample weights for %d ids", len(o.PerSampleWeights), len(ids))
	}
	// Offsets are checked here, not only by the kernel: a call is split
	// into pieces, and ids and weights sliced, by offset.
	for i := 1; i < bags; i++ {
		if offsets[i] < offsets[i-1] || offsets[i] > int64(len(ids)) {
			return fmt.Errorf("embstore: offsets[%d] = %d; offsets must not decrease or pass the %d ids", i, offsets[i], len(ids))
		}
	}
	pad := int64(-1)
	if o.HasPaddingIdx {
		pad = o.PaddingIdx
		if pad < -t.hdr.Rows || pad >= t.hdr.Rows {
			return fmt.Errorf("embstore: padding index %d out of range [%d, %d)", o.PaddingIdx, -t.hdr.Rows, t.hdr.Rows)
		}
		if pad < 0 {
			pad += t.hdr.Rows
		}
	}
	return t.read(func() error {
		if err := t.CheckIDs(ids); err != nil {
			return err
		}
		if bags == 0 {
			return nil // no output; the pieces of a call are cut at offsets
		}
		j := newJob()
		defer j.release()
		j.kind, j.dst, j.ids, j.offsets = jobBag, dst, ids, offsets
		j.mode, j.weights, j.pad = o.Mode, o.PerSampleWeights, pad
		if !t.copyTo {
			j.tab = &t.tok
			return wrapKernelErr(t.workers.do(j, bags))
		}
		return t.bagCopyOut(j)
	})
}
