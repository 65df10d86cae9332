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

// gatherCopyOut is gather for platforms where the mapping cannot be read in
// place: it copies the rows of each step into a scratch buffer with ReadAt
// and runs the kernel over the copy.
func (t *Table) gatherCopyOut(dst []float32, ids []int64, pos *kernel.Positions) error {
	if len(dst) != len(ids)*t.hdr.Dim {
		return fmt.Errorf("embstore: output holds %d values, %d ids of %d need %d", len(dst), len(ids), t.hdr.Dim, len(ids)*t.hdr.Dim)
	}
	if bad := kernel.CheckIDs(ids, t.hdr.Rows); bad >= 0 {
		return lookupErr(bad, nil, "ids", ids, t.hdr.Rows, "token table")
	}
	s := copyOutPool.Get().(*copyOutScratch)
	defer copyOutPool.Put(s)
	stride := int64(t.tok.Stride)
	if need := copyOutRows * int(stride); cap(s.rows) < need || len(s.ids) < copyOutRows {
		s.rows, s.ids = make([]byte, need), make([]int64, copyOutRows)
	}
	base := t.hdr.Tokens().Offset
	for lo := 0; lo < len(ids); lo += copyOutRows {
		hi := min(lo+copyOutRows, len(ids))
		for j, id := range ids[lo:hi] {
			if _, err := t.ra.ReadAt(s.rows[int64(j)*stride:int64(j+1)*stride], base+id*stride); err != nil {
				return fmt.Errorf("embstore: read row %d: %w", id, err)
			}
			s.ids[j] = int64(j)
		}
		step := t.tok
		step.Data, step.Rows = s.rows[:int64(hi-lo)*stride], int64(hi-lo)
		var p *kernel.Positions
		if pos != nil {
			q := *pos
			q.Phase = (q.Phase + lo) % q.SeqLen
			p = &q
		}
		bad, err := kernel.Gather(dst[lo*t.hdr.Dim:hi*t.hdr.Dim], &step, s.ids[:hi-lo], p)
		if err := lookupErr(bad, err, "ids", ids, t.hdr.Rows, "token table"); err != nil {
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
	stride := int64(t.tok.Stride)
	base := t.hdr.Tokens().Offset
	dim := t.hdr.Dim
	for b := range j.offsets {
		lo, hi := j.offsets[b], int64(len(j.ids))
		if b+1 < len(j.offsets) {
			hi = j.offsets[b+1]
		}
		n := int(hi - lo)
		if need := (n + 1) * int(stride); cap(s.rows) < need || cap(s.ids) < n {
			s.rows, s.ids = make([]byte, need), make([]int64, n)
		}
		for k, id := range j.ids[lo:hi] {
			if id == j.pad {
				s.ids[k] = int64(n)
				continue
			}
			if _, err := t.ra.ReadAt(s.rows[int64(k)*stride:int64(k+1)*stride], base+id*stride); err != nil {
				return fmt.Errorf("embstore: read row %d: %w", id, err)
			}
			s.ids[k] = int64(k)
		}
		step := t.tok
		step.Data, step.Rows = s.rows[:int64(n+1)*stride], int64(n+1)
		var w []float32
		if j.weights != nil {
			w = j.weights[lo:hi]
		}
		_, err := kernel.Bag(j.dst[b*dim:(b+1)*dim], &step, s.ids[:n], []int64{0}, j.mode, w, int64(n))
		if err != nil {
			return wrapKernelErr(err)
		}
	}
	return nil
}
