package store

import (
	"fmt"
	"sync"

	"github.com/embstore/embstore/kernel"
)

// copyOutRows is how many rows one copy-out step reads.
const copyOutRows = 256

// copyOutScratch holds the buffers of one copy-out step.
type copyOutScratch struct {
	rows []byte
	ids  []int64
}

var copyOutPool = sync.Pool{New: func() any { return new(copyOutScratch) }}

// scratchTable returns a table of n rows of the token table's spec over
// the copied rows in data.
func (t *Table) scratchTable(data []byte, n int64) (*kernel.Table, error) {
	spec := t.tok.Spec()
	spec.Rows = n
	return kernel.NewTable(data, spec)
}

// gatherCopyOut is gather for platforms where the mapping cannot be read in
// place: it copies the rows of each step into a scratch buffer with ReadAt
// and runs the kernel over the copy. The arguments are checked.
func (t *Table) gatherCopyOut(dst []float32, ids []int64, pos *kernel.Table, seq kernel.Sequence) error {
	s := copyOutPool.Get().(*copyOutScratch)
	defer copyOutPool.Put(s)
	stride := int64(t.tok.Spec().Stride)
	if need := copyOutRows * int(stride); cap(s.rows) < need || len(s.ids) < copyOutRows {
		s.rows, s.ids = make([]byte, need), make([]int64, copyOutRows)
	}
	base := t.hdr.Tokens().Offset
	dim := t.hdr.Dim
	for lo := 0; lo < len(ids); lo += copyOutRows {
		hi := min(lo+copyOutRows, len(ids))
		for j, id := range ids[lo:hi] {
			if uint64(id) >= uint64(t.hdr.Rows) { // changed since it was checked
				return &kernel.IDError{Index: lo + j, ID: id, Rows: t.hdr.Rows}
			}
			if _, err := t.ra.ReadAt(s.rows[int64(j)*stride:int64(j+1)*stride], base+id*stride); err != nil {
				return fmt.Errorf("embstore: read row %d: %w", id, err)
			}
			s.ids[j] = int64(j)
		}
		step, err := t.scratchTable(s.rows[:int64(hi-lo)*stride], int64(hi-lo))
		if err != nil {
			return err
		}
		if pos == nil {
			err = kernel.Gather(dst[lo*dim:hi*dim], step, s.ids[:hi-lo])
		} else {
			err = kernel.GatherPositions(dst[lo*dim:hi*dim], step, s.ids[:hi-lo], pos, seq)
			seq.Phase = (seq.Phase + hi - lo) % seq.Len
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// bagCopyOut is Bag for platforms where the mapping cannot be read in
// place: for each bag it copies the bag's rows into a scratch table, in
// order, and pools that. Padding ids map to one extra scratch row that is
// passed to the kernel as the padding id, so they are skipped and not
// counted exactly as in place.
func (t *Table) bagCopyOut(j *job) error {
	s := copyOutPool.Get().(*copyOutScratch)
	defer copyOutPool.Put(s)
	stride := int64(t.tok.Spec().Stride)
	base := t.hdr.Tokens().Offset
	dim := t.hdr.Dim
	ids, offsets, weights := j.bags.IDs(), j.bags.Offsets(), j.bags.Weights()
	for b := range offsets {
		lo, hi := offsets[b], int64(len(ids))
		if b+1 < len(offsets) {
			hi = offsets[b+1]
		}
		n := int(hi - lo)
		if need := (n + 1) * int(stride); cap(s.rows) < need || cap(s.ids) < n {
			s.rows, s.ids = make([]byte, need), make([]int64, n)
		}
		for k, id := range ids[lo:hi] {
			if id == j.pad {
				s.ids[k] = int64(n)
				continue
			}
			if uint64(id) >= uint64(t.hdr.Rows) { // changed since it was checked
				return &kernel.IDError{Index: int(lo) + k, ID: id, Rows: t.hdr.Rows}
			}
			if _, err := t.ra.ReadAt(s.rows[int64(k)*stride:int64(k+1)*stride], base+id*stride); err != nil {
				return fmt.Errorf("embstore: read row %d: %w", id, err)
			}
			s.ids[k] = int64(k)
		}
		step, err := t.scratchTable(s.rows[:int64(n+1)*stride], int64(n+1))
		if err != nil {
			return err
		}
		var w []float32
		if weights != nil {
			w = weights[lo:hi]
		}
		bag, err := kernel.NewBags(s.ids[:n], []int64{0}, w)
		if err != nil {
			return err
		}
		if err := kernel.Bag(j.dst[b*dim:(b+1)*dim], step, bag, j.mode, int64(n)); err != nil {
			return err
		}
	}
	return nil
}
