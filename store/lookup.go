package store

import (
	"github.com/embstore/embstore/internal/errctx"
	"github.com/embstore/embstore/kernel"
)

// Lookup writes the rows of ids, as float32, to dst: row ids[i] goes to
// dst[i*Dim:(i+1)*Dim]. len(dst) must be len(ids)*Dim. Like
// torch.nn.Embedding, ids are int64; an id outside [0, Rows) is an error
// (*IndexError) naming the first such id, and dst is then left unchanged.
// Lookup does not allocate.
func (t *Table) Lookup(dst []float32, ids []int64) error {
	if err := t.bounds.CheckLookup(dst, ids); err != nil {
		return err
	}
	return t.gather(dst, ids, false, kernel.Sequence{})
}

// LookupPositions is Lookup with the positional table added: ids is a batch
// of sequences of seqLen ids each (len(ids) must be a multiple of seqLen),
// and the p-th id of every sequence gets position start+p, that is the
// positional row PositionOffset+start+p. start is where the sequences begin
// (non-zero when a prefix was processed before, as models with a key-value
// cache do). Every position must fall inside the positional table, else the
// error is a *PositionError.
func (t *Table) LookupPositions(dst []float32, ids []int64, seqLen int, start int64) error {
	if err := t.bounds.CheckLookupPositions(dst, ids, seqLen, start); err != nil {
		return err
	}
	return t.gather(dst, ids, true, kernel.Sequence{Start: t.hdr.PositionOffset + start, Len: seqLen})
}

// LookupPositionRows writes rows of the positional table itself to dst: row
// rows[i] goes to dst[i*Dim:(i+1)*Dim]. Rows are raw row numbers of the
// positional table, not positions: the position offset is not applied.
func (t *Table) LookupPositionRows(dst []float32, rows []int64) error {
	if err := t.bounds.CheckLookupPositionRows(dst, rows); err != nil {
		return err
	}
	return t.read(func() error {
		return t.kernelErr(kernel.Gather(dst, t.pos, rows), rows, t.bounds.Positions, "rows", "positional table")
	})
}

// gather runs the kernel over the token table (adding the positional rows
// seq says when positions is set) with checked arguments, inside a call of
// the table, split across the worker pool when the batch is large.
func (t *Table) gather(dst []float32, ids []int64, positions bool, seq kernel.Sequence) error {
	return t.read(func() error {
		var pos *kernel.Table
		if positions {
			pos = t.pos
		}
		if t.copyTo {
			return t.gatherCopyOut(dst, ids, pos, seq)
		}
		t.beforeGather(ids)
		if !t.workers.splits(len(ids), len(ids), t.hdr.Dim) {
			var err error
			if pos == nil {
				err = kernel.Gather(dst, t.tok, ids)
			} else {
				err = kernel.GatherPositions(dst, t.tok, ids, pos, seq)
			}
			return t.kernelErr(err, ids, t.bounds.Rows, "ids", "token table")
		}
		j := newJob()
		defer j.release()
		j.kind, j.tab, j.dst, j.ids, j.pos, j.seq = jobGather, t.tok, dst, ids, pos, seq
		return t.kernelErr(t.workers.do(j, len(ids)), ids, t.bounds.Rows, "ids", "token table")
	})
}

// kernelErr turns an error from the kernel into the store's: an *IDError
// (an id that changed after it was checked: the caller wrote to ids during
// the call) into the *IndexError the check would have returned, an
// argument error into one with the store's prefix (once); faults pass
// unchanged.
func (t *Table) kernelErr(err error, ids []int64, limit int64, arg, what string) error {
	switch e := err.(type) {
	case nil:
		return nil
	case *kernel.IDError:
		return &IndexError{Arg: arg, Index: e.Index, Value: e.ID, Limit: limit, What: what}
	case *FaultError:
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

// CheckIDs returns the *IndexError Lookup would return for ids, or nil if
// every id is in the token table. It lets callers validate a batch before
// producing any output.
func (t *Table) CheckIDs(ids []int64) error { return t.bounds.CheckIDs(ids) }

// CheckPositions returns the error LookupPositions would return for
// sequences of seqLen ids starting at position start, or nil if every
// position is in the positional table.
func (t *Table) CheckPositions(seqLen int, start int64) error {
	return t.bounds.CheckPositions(seqLen, start)
}
