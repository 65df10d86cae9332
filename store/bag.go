package store

import (
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
	// PaddingIdx, if not nil, is an id whose rows are skipped (and not
	// counted by BagMean). As in torch, a negative value counts from the
	// end of the table: -1 is the last row.
	PaddingIdx *int64
}

// Bag pools the rows of bags of ids into one row per bag, as
// torch.nn.functional.embedding_bag does (see kernel.Bag for the exact
// arithmetic): bag i holds ids[offsets[i]:offsets[i+1]] (to the end of ids
// for the last bag, unless IncludeLastOffset), and its pooled row goes to
// dst[i*Dim:(i+1)*Dim]. offsets[0] must be 0 and offsets must not
// decrease or pass len(ids). Empty bags, and bags holding only padding, pool
// to zeros. A nil opts means the defaults. Every argument is checked before
// any row is read (Bounds.CheckBag). Bag does not allocate.
func (t *Table) Bag(dst []float32, ids, offsets []int64, opts *BagOptions) error {
	call, err := t.bounds.CheckBag(dst, ids, offsets, opts)
	if err != nil {
		return err
	}
	return t.read(func() error {
		if call.Bags.Len() == 0 {
			return nil // no output; the pieces of a call are cut at offsets
		}
		if !t.copyTo {
			t.beforeGather(call.Bags.IDs())
		}
		if !t.copyTo && !t.workers.splits(len(call.Bags.IDs()), call.Bags.Len(), t.hdr.Dim) {
			err := kernel.Bag(dst, t.tok, call.Bags, call.Mode, call.Pad)
			return t.kernelErr(err, call.Bags.IDs(), t.bounds.Rows, "ids", "token table")
		}
		j := newJob()
		defer j.release()
		j.kind, j.dst, j.bags, j.mode, j.pad = jobBag, dst, call.Bags, call.Mode, call.Pad
		var err error
		if !t.copyTo {
			j.tab = t.tok
			err = t.workers.do(j, call.Bags.Len())
		} else {
			err = t.bagCopyOut(j)
		}
		return t.kernelErr(err, call.Bags.IDs(), t.bounds.Rows, "ids", "token table")
	})
}
