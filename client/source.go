package client

import (
	"context"

	"github.com/embstore/embstore/store"
)

// A Source is what a Go service needs of an embedding table, wherever its
// rows are: mapped in this process (Local), on one server (*Table), or
// split over the servers of a cluster (*cluster.Table, in package
// client/cluster). Code written against Source runs against all three.
// The lookup methods are store.Table's, with a context, and so are their
// errors (*store.IndexError for an id out of range, ...); Rows, Dim,
// Positions and PositionOffset are what store.Table's Header holds.
type Source interface {
	Rows() int64
	Dim() int
	Positions() int64
	PositionOffset() int64
	CheckIDs(ids []int64) error
	Lookup(ctx context.Context, dst []float32, ids []int64) error
	LookupPositions(ctx context.Context, dst []float32, ids []int64, seqLen int, start int64) error
	LookupPositionRows(ctx context.Context, dst []float32, rows []int64) error
	Bag(ctx context.Context, dst []float32, ids, offsets []int64, opts *store.BagOptions) error
	Close() error
}

var _ Source = (*Table)(nil)

// LocalTable is a store.Table as a Source: lookups run in this process and
// ignore the context (they take microseconds, and cannot be interrupted).
type LocalTable struct{ T *store.Table }

var _ Source = LocalTable{}

// Local returns t as a Source; its Close closes t.
func Local(t *store.Table) LocalTable { return LocalTable{t} }

// Rows is store.Table.Header().Rows.
func (l LocalTable) Rows() int64 { return l.T.Header().Rows }

// Dim is store.Table.Header().Dim.
func (l LocalTable) Dim() int { return l.T.Header().Dim }

// Positions is store.Table.Header().Positions().
func (l LocalTable) Positions() int64 { return l.T.Header().Positions() }

// PositionOffset is store.Table.Header().PositionOffset.
func (l LocalTable) PositionOffset() int64 { return l.T.Header().PositionOffset }

// CheckIDs is store.Table.CheckIDs.
func (l LocalTable) CheckIDs(ids []int64) error { return l.T.CheckIDs(ids) }

// Close closes the table.
func (l LocalTable) Close() error { return l.T.Close() }

// Lookup is store.Table.Lookup.
func (l LocalTable) Lookup(_ context.Context, dst []float32, ids []int64) error {
	return l.T.Lookup(dst, ids)
}

// LookupPositions is store.Table.LookupPositions.
func (l LocalTable) LookupPositions(_ context.Context, dst []float32, ids []int64, seqLen int, start int64) error {
	return l.T.LookupPositions(dst, ids, seqLen, start)
}

// LookupPositionRows is store.Table.LookupPositionRows.
func (l LocalTable) LookupPositionRows(_ context.Context, dst []float32, rows []int64) error {
	return l.T.LookupPositionRows(dst, rows)
}

// Bag is store.Table.Bag.
func (l LocalTable) Bag(_ context.Context, dst []float32, ids, offsets []int64, opts *store.BagOptions) error {
	return l.T.Bag(dst, ids, offsets, opts)
}
