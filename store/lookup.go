package store

import (
	"fmt"

	"github.com/embstore/embstore/internal/errctx"
	"github.com/embstore/embstore/kernel"
)

// Lookup writes the rows of ids, as float32, to dst: row ids[i] goes to
// dst[i*Dim():(i+1)*Dim()]. len(dst) must be len(ids)*Dim(). Like
// torch.nn.Embedding, ids are int64; an id outside [0, Rows()) is an error
// (*IndexError) naming the first such id, and dst is then left unchanged.
// Lookup does not allocate.
func (t *Table) Lookup(dst []float32, ids []int64) error {
	return t.gather(dst, ids, nil)
}

// LookupPositions is Lookup with the positional table added: ids is a batch
// of sequences of seqLen ids each (len(ids) must be a multiple of seqLen),
// and the p-th id of every sequence gets position start+p, that is the
// positional row PositionOffset()+start+p. start is where the sequences begin
// (non-zero when a prefix was processed before, as models with a key-value
// cache do). Every position must fall inside the positional table, else the
// error is a *PositionError.
func (t *Table) LookupPositions(dst []float32, ids []int64, seqLen int, start int64) error {
	if seqLen <= 0 {
		return fmt.Errorf("embstore: sequence length %d must be positive", seqLen)
	}
	if len(ids)%seqLen != 0 {
		return fmt.Errorf("embstore: %d ids are not a whole number of sequences of %d", len(ids), seqLen)
	}
	if t.pos.Rows == 0 {
		return ErrNoPositions
	}
	if err := t.checkPositions(start, seqLen); err != nil {
		return err
	}
	return t.gather(dst, ids, &kernel.Positions{
		Rows: t.pos.Rows, Stride: t.pos.Stride, Start: t.hdr.PositionOffset + start, SeqLen: seqLen,
	})
}

// checkPositions checks that positions start to start+seqLen-1 map to rows
// of the positional table.
func (t *Table) checkPositions(start int64, seqLen int) error {
	if start < 0 {
		return &PositionError{Position: start, Row: start + t.hdr.PositionOffset, Rows: t.pos.Rows, Offset: t.hdr.PositionOffset}
	}
	avail := t.pos.Rows - t.hdr.PositionOffset // positions 0 .. avail-1 exist
	if start >= avail || int64(seqLen) > avail-start {
		p := max(start, avail)
		return &PositionError{Position: p, Row: p + t.hdr.PositionOffset, Rows: t.pos.Rows, Offset: t.hdr.PositionOffset}
	}
	return nil
}

// LookupPositionRows writes rows of the positional table itself to dst: row
// rows[i] goes to dst[i*Dim():(i+1)*Dim()]. Rows are raw row numbers of the
// positional table, not positions: the position offset is not applied.
func (t *Table) LookupPositionRows(dst []float32, rows []int64) error {
	if t.pos.Rows == 0 {
		return ErrNoPositions
	}
	return t.read(func() error {
		bad, err := kernel.Gather(dst, &t.posTab, rows, nil)
		return lookupErr(bad, err, "rows", rows, t.pos.Rows, "positional table")
	})
}

// gather runs the kernel over the token table with the table read-locked and
// memory faults turned into errors, split across the worker pool when the
// batch is large.
func (t *Table) gather(dst []float32, ids []int64, pos *kernel.Positions) error {
	return t.read(func() error {
		if pos != nil {
			pos.Data = t.pos.Data
		}
		if t.copyTo {
			return t.gatherCopyOut(dst, ids, pos)
		}
		if len(dst) != len(ids)*t.hdr.Dim {
			return fmt.Errorf("embstore: output holds %d values, %d ids of %d need %d", len(dst), len(ids), t.hdr.Dim, len(ids)*t.hdr.Dim)
		}
		if err := t.CheckIDs(ids); err != nil {
			return err
		}
		j := newJob()
		defer j.release()
		j.kind, j.tab, j.dst, j.ids = jobGather, &t.tok, dst, ids
		if pos != nil {
			j.pos, j.hasPos = *pos, true
		}
		return wrapKernelErr(t.workers.do(j, len(ids)))
	})
}

// wrapKernelErr gives an argument error from the kernel the store's prefix
// (once); store errors (faults) pass unchanged.
func wrapKernelErr(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*FaultError); ok {
		return err
	}
	return errctx.In("embstore", "", err)
}

// read runs fn as a call of the table: registered with the table's readers,
// so that Close waits for it, and with memory faults turned into a
// *FaultError that says what most likely caused them.
func (t *Table) read(fn func() error) error {
	s := t.rd.enter()
	if s == nil {
		return ErrClosed
	}
	defer s.leave()
	err := guard(fn)
	if fe, ok := err.(*FaultError); ok {
		t.diagnose(fe)
	}
	return err
}

// lookupErr turns a kernel result into an error: an *IndexError for the bad
// index, if any.
func lookupErr(bad int, err error, arg string, ids []int64, limit int64, what string) error {
	if err != nil {
		return wrapKernelErr(err)
	}
	if bad >= 0 {
		return &IndexError{Arg: arg, Index: bad, Value: ids[bad], Limit: limit, What: what}
	}
	return nil
}

// CheckIDs returns the *IndexError Lookup would return for ids, or nil if
// every id is in the token table. It lets callers validate a batch before
// producing any output.
func (t *Table) CheckIDs(ids []int64) error {
	if bad := kernel.CheckIDs(ids, t.hdr.Rows); bad >= 0 {
		return &IndexError{Arg: "ids", Index: bad, Value: ids[bad], Limit: t.hdr.Rows, What: "token table"}
	}
	return nil
}

// CheckPositions returns the error LookupPositions would return for
// sequences of seqLen ids starting at position start, or nil if every
// position is in the positional table.
func (t *Table) CheckPositions(seqLen int, start int64) error {
	if seqLen <= 0 {
		return fmt.Errorf("embstore: sequence length %d must be positive", seqLen)
	}
	if t.pos.Rows == 0 {
		return ErrNoPositions
	}
	return t.checkPositions(start, seqLen)
}
