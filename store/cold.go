package store

import (
	"fmt"
	"os"
)

// checkColdOptions checks the options for tables larger than memory
// (LockHot, LockHotIDs, LockHotInterval) that do not need the file.
func checkColdOptions(path string, o *Options) error {
	bad := func(option string, value any, reason string) error {
		return &OptionError{Path: path, Option: option, Value: value, Reason: reason}
	}
	switch {
	case o.LockHot < 0:
		return bad("LockHot", o.LockHot, "want 0 (off) or a positive number of rows")
	case o.LockHot > 0 && len(o.LockHotIDs) > 0:
		return bad("LockHot", o.LockHot, "give the number of rows to learn or LockHotIDs, not both")
	case o.LockHotInterval < 0:
		return bad("LockHotInterval", o.LockHotInterval, "want a positive interval, or 0 for the default")
	}
	return nil
}

// startCold checks the options that need the table and starts the
// prefetcher and the hot-row locker.
func (t *Table) startCold(path string, o *Options) error {
	if !o.Prefetch && o.LockHot == 0 && len(o.LockHotIDs) == 0 {
		return nil
	}
	bad := func(option string, value any, reason string) error {
		return &OptionError{Path: path, Option: option, Value: value, Reason: reason}
	}
	if t.copyTo {
		if o.Prefetch {
			return bad("Prefetch", o.Prefetch, "needs a table mapped in place (this platform copies rows out)")
		}
		return bad("LockHot", o.LockHot, "needs a table mapped in place (this platform copies rows out)")
	}
	if int64(o.LockHot) > t.hdr.Rows {
		return bad("LockHot", o.LockHot, fmt.Sprintf("more rows than the table's %d", t.hdr.Rows))
	}
	for i, id := range o.LockHotIDs {
		if id < 0 || id >= t.hdr.Rows {
			return bad("LockHotIDs", id, fmt.Sprintf("LockHotIDs[%d] is outside the table's %d rows", i, t.hdr.Rows))
		}
	}
	rp := rowPages{data: t.m.bytes(), base: int(t.hdr.Tokens().Offset), stride: int(t.hdr.RowStride),
		rowBytes: int(t.hdr.DType.RowSize(t.hdr.Dim)), rows: t.hdr.Rows, page: os.Getpagesize()}
	if o.LockHot > 0 || len(o.LockHotIDs) > 0 {
		interval := o.LockHotInterval
		if interval == 0 {
			interval = DefaultLockHotInterval
		}
		h, err := newHotLocker(rp, o.LockHot, o.LockHotIDs, interval, o.OnLockError)
		if err != nil {
			return err
		}
		t.hot = h
	}
	if o.Prefetch {
		t.pf = newPrefetcher(rp)
	}
	return nil
}

// stopCold stops the hot-row learner and unlocks the hot rows, before
// Close unmaps the table.
func (t *Table) stopCold() {
	if t.hot != nil {
		t.hot.close()
	}
	if t.pf != nil {
		t.pf.close()
	}
}

// beforeGather prefetches the rows of ids and samples them for the hot-row
// locker, as configured. It runs inside a call of the table.
func (t *Table) beforeGather(ids []int64) {
	if t.hot != nil {
		t.hot.sample(ids)
	}
	if t.pf != nil {
		t.pf.batch(ids)
	}
}
