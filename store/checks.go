package store

import (
	"fmt"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/errctx"
	"github.com/embstore/embstore/kernel"
)

// Bounds are what the arguments of a call are checked against: a table's
// rows and width, and its positional table. Their Check methods, one per
// method of Table that takes ids, are the one implementation of the
// argument rules of those methods: every table with them (a mapped Table;
// client.Table and the cluster client's Table, for tables served
// elsewhere) checks its arguments with them, so that all of them refuse
// the same arguments with the same errors, before any row is read.
type Bounds struct {
	Rows           int64 // rows of the token table
	Dim            int   // values per row
	Positions      int64 // rows of the positional table, 0 for none
	PositionOffset int64 // the positional row of position 0
}

// BoundsOf returns the bounds of the table h describes.
func BoundsOf(h *format.Header) Bounds {
	return Bounds{Rows: h.Rows, Dim: h.Dim, Positions: h.Positions(), PositionOffset: h.PositionOffset}
}

// CheckIDs returns an *IndexError for the first id outside the token table,
// or nil: what Lookup, LookupPositions and Bag return for such an id.
func (b Bounds) CheckIDs(ids []int64) error {
	if bad := kernel.CheckIDs(ids, b.Rows); bad >= 0 {
		return &IndexError{Arg: "ids", Index: bad, Value: ids[bad], Limit: b.Rows, What: "token table"}
	}
	return nil
}

// CheckPositionRows returns ErrNoPositions for a table without positional
// table, an *IndexError for the first row outside it, or nil: what
// LookupPositionRows returns.
func (b Bounds) CheckPositionRows(rows []int64) error {
	if b.Positions == 0 {
		return ErrNoPositions
	}
	if bad := kernel.CheckIDs(rows, b.Positions); bad >= 0 {
		return &IndexError{Arg: "rows", Index: bad, Value: rows[bad], Limit: b.Positions, What: "positional table"}
	}
	return nil
}

// CheckPositions returns the error LookupPositions returns for sequences of
// seqLen ids whose first is at position start, or nil: a sequence length
// that is not positive, ErrNoPositions, or a *PositionError for the first
// position outside the positional table.
func (b Bounds) CheckPositions(seqLen int, start int64) error {
	if seqLen <= 0 {
		return fmt.Errorf("embstore: sequence length %d must be positive", seqLen)
	}
	if b.Positions == 0 {
		return ErrNoPositions
	}
	if start < 0 {
		return &PositionError{Position: start, Row: start + b.PositionOffset, Rows: b.Positions, Offset: b.PositionOffset}
	}
	avail := b.Positions - b.PositionOffset // positions 0 .. avail-1 exist
	if start >= avail || int64(seqLen) > avail-start {
		p := max(start, avail)
		return &PositionError{Position: p, Row: p + b.PositionOffset, Rows: b.Positions, Offset: b.PositionOffset}
	}
	return nil
}

// CheckLookup checks the arguments of Lookup(dst, ids), before any row is
// read: the output's size, then every id.
func (b Bounds) CheckLookup(dst []float32, ids []int64) error {
	if err := b.checkOutput(dst, len(ids), "ids"); err != nil {
		return err
	}
	return b.CheckIDs(ids)
}

// CheckLookupPositions checks the arguments of LookupPositions(dst, ids,
// seqLen, start), before any row is read: whole sequences of a positive
// length, a positional table that holds their positions, the output's
// size, then every id.
func (b Bounds) CheckLookupPositions(dst []float32, ids []int64, seqLen int, start int64) error {
	if seqLen > 0 && len(ids)%seqLen != 0 {
		return fmt.Errorf("embstore: %d ids are not a whole number of sequences of %d", len(ids), seqLen)
	}
	if err := b.CheckPositions(seqLen, start); err != nil {
		return err
	}
	return b.CheckLookup(dst, ids)
}

// CheckLookupPositionRows checks the arguments of LookupPositionRows(dst,
// rows): a positional table, the output's size, then every row.
func (b Bounds) CheckLookupPositionRows(dst []float32, rows []int64) error {
	if b.Positions == 0 {
		return ErrNoPositions
	}
	if err := b.checkOutput(dst, len(rows), "rows"); err != nil {
		return err
	}
	return b.CheckPositionRows(rows)
}

// checkOutput returns an error unless dst holds n rows (what: "ids" or
// "rows") or bags ("bags") of Dim values: the kernel's *kernel.SizeError,
// as this package's error.
func (b Bounds) checkOutput(dst []float32, n int, what string) error {
	return errctx.In("embstore", "", kernel.CheckSize(len(dst), n, b.Dim, what))
}

// A BagCall is a Bag call's arguments checked and normalised by
// Bounds.CheckBag: the bags as the kernel pools them (the ids past the
// last offset dropped with IncludeLastOffset), the mode, and the padding
// id as a row (-1 for none).
type BagCall struct {
	Bags kernel.Bags
	Mode BagMode
	Pad  int64
}

// CheckBag checks the arguments of a Bag call into dst as Table.Bag does,
// before any row is read: the offsets (offsets[0] must be 0, none may
// decrease or pass the ids; with IncludeLastOffset the last one ends the
// last bag), the per-sample weights (one per id, mode sum only), the mode,
// the padding index (a negative one counts from the end), the output's
// size and every id. It returns the call normalised.
func (b Bounds) CheckBag(dst []float32, ids, offsets []int64, opts *BagOptions) (BagCall, error) {
	var o BagOptions
	if opts != nil {
		o = *opts
	}
	call := BagCall{Mode: o.Mode, Pad: -1}
	bags := len(offsets)
	weights := o.PerSampleWeights
	if o.IncludeLastOffset {
		if bags == 0 {
			return call, fmt.Errorf("embstore: include-last-offset needs at least one offset")
		}
		bags--
		last := offsets[bags]
		if last < 0 || last > int64(len(ids)) || (bags > 0 && last < offsets[bags-1]) {
			return call, fmt.Errorf("embstore: offsets[%d] = %d; the last offset must lie in [offsets[%d], %d]", bags, last, max(0, bags-1), len(ids))
		}
		ids = ids[:last]
		if weights != nil && len(weights) >= int(last) {
			weights = weights[:last]
		}
		offsets = offsets[:bags]
	}
	switch {
	case o.Mode != BagSum && o.Mode != BagMean && o.Mode != BagMax:
		return call, fmt.Errorf("embstore: invalid bag mode %d", int(o.Mode))
	case weights != nil && o.Mode != BagSum:
		return call, fmt.Errorf("embstore: per-sample weights need mode sum, not %s", o.Mode)
	case bags > 0 && offsets[0] != 0:
		return call, fmt.Errorf("embstore: offsets[0] = %d; the first bag must start at 0, as in torch", offsets[0])
	case bags == 0 && len(dst) != 0:
		return call, fmt.Errorf("embstore: offsets is empty, so there are no bags, but the output holds %d values; "+
			"offsets []int64{0} pools all %d ids into one bag", len(dst), len(ids))
	}
	if err := b.checkOutput(dst, bags, "bags"); err != nil {
		return call, err
	}
	kb, err := kernel.NewBags(ids, offsets, weights)
	if err != nil {
		return call, errctx.In("embstore", "", err)
	}
	call.Bags = kb
	if o.PaddingIdx != nil {
		pad := *o.PaddingIdx
		if pad < -b.Rows || pad >= b.Rows {
			return call, fmt.Errorf("embstore: padding index %d out of range [%d, %d)", pad, -b.Rows, b.Rows)
		}
		if pad < 0 {
			pad += b.Rows
		}
		call.Pad = pad
	}
	if err := b.CheckIDs(ids); err != nil {
		return call, err
	}
	return call, nil
}
