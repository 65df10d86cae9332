package server

import (
	"context"
	"encoding/json"

	"github.com/embstore/embstore/internal/shardmeta"
	"github.com/embstore/embstore/store"
)

// A Table is one version of a served table, held for one request: a table
// file mapped here (a store.Table), or a table whose rows live elsewhere
// (the shards of a cluster, for embquery route). Every response is computed
// from one Table. Its methods are those of store.Table, with a context for
// tables that answer over the network; errors are those store.Table returns
// (*store.IndexError, *store.PositionError, ...) or, for remote tables,
// errors that say which part failed.
type Table interface {
	Rows() int64
	Dim() int
	Positions() int64
	CheckIDs(ids []int64) error
	CheckPositions(seqLen int, start int64) error
	Lookup(ctx context.Context, dst []float32, ids []int64) error
	LookupPositions(ctx context.Context, dst []float32, ids []int64, seqLen int, start int64) error
	LookupPositionRows(ctx context.Context, dst []float32, rows []int64) error
	Bag(ctx context.Context, dst []float32, ids, offsets []int64, opts *store.BagOptions) error
}

// A Source is what the server serves under a name: it hands each request
// the Table it uses, and describes it.
type Source interface {
	// Acquire returns the Table a request uses and the function that
	// releases it when the request is done. It is called once per
	// request, so a source that changes (a file reloaded, a new version
	// of a cluster's table) never mixes two versions in one response. An
	// error (a cluster's table with no version served) is answered with
	// 503.
	Acquire() (t Table, release func(), err error)
	// Info describes t (for /v1/tables, /v1/models and /info); Name and
	// Tokenizer are filled in by the server. t is nil when Acquire failed:
	// Info then says why.
	Info(t Table) TableInfo
	// Close releases the source once the server stops serving it.
	Close() error
}

// A TableEncoder is a Source with a tokenizer for text inputs of its own.
type TableEncoder interface {
	Encoder(t Table) TextEncoder
}

// localTable is a store.Table as a Table: the same memory, the methods
// taking the context that a local lookup does not need.
type localTable store.Table

func (t *localTable) st() *store.Table { return (*store.Table)(t) }

func (t *localTable) Rows() int64                { return t.st().Header().Rows }
func (t *localTable) Dim() int                   { return t.st().Header().Dim }
func (t *localTable) Positions() int64           { return t.st().Header().Positions() }
func (t *localTable) CheckIDs(ids []int64) error { return t.st().CheckIDs(ids) }
func (t *localTable) CheckPositions(seqLen int, start int64) error {
	return t.st().CheckPositions(seqLen, start)
}
func (t *localTable) Lookup(_ context.Context, dst []float32, ids []int64) error {
	return t.st().Lookup(dst, ids)
}
func (t *localTable) LookupPositions(_ context.Context, dst []float32, ids []int64, seqLen int, start int64) error {
	return t.st().LookupPositions(dst, ids, seqLen, start)
}
func (t *localTable) LookupPositionRows(_ context.Context, dst []float32, rows []int64) error {
	return t.st().LookupPositionRows(dst, rows)
}
func (t *localTable) Bag(_ context.Context, dst []float32, ids, offsets []int64, opts *store.BagOptions) error {
	return t.st().Bag(dst, ids, offsets, opts)
}

// A fileSource is a table file, followed for replacements.
type fileSource struct {
	path     string
	follower *store.Follower
}

func (f *fileSource) Acquire() (Table, func(), error) {
	t, release := f.follower.Acquire()
	return (*localTable)(t), release, nil
}

func (f *fileSource) Close() error { return f.follower.Close() }

// Check makes the follower look at its file now (SIGHUP).
func (f *fileSource) Check() error { return f.follower.Check() }

func (f *fileSource) Info(tt Table) TableInfo {
	t := tt.(*localTable).st()
	h := t.Header()
	st := f.follower.Stats()
	info := TableInfo{
		Path: f.path, Rows: h.Rows, Dim: h.Dim, DType: h.DType.String(),
		Positions: h.Positions(), PositionOffset: h.PositionOffset, TokenScale: h.TokenScale,
		ComputeDType: computeName(h.ComputeDType), Pooling: "mean",
		Generation: st.Generation, LoadedAt: st.LoadedAt.UTC(), Reloads: st.Reloads, ReloadFailures: st.Failures,
		File:     &FileInfo{Size: h.FileSize, HeaderCRC: h.CRC, Checksums: "header only", Resident: -1},
		Metadata: json.RawMessage("null"),
		mapped:   -1,
	}
	if st.LastError != nil {
		info.LastError = st.LastError.Error()
	}
	if stats, err := t.Stats(); err == nil {
		if stats.VerifyDuration > 0 {
			info.File.Checksums = "verified"
		}
		info.File.MapMode = stats.Mode.String()
		info.File.Resident = stats.ResidentBytes
		info.mapped = stats.MappedBytes
	}
	if md := t.Metadata(); json.Valid(md) {
		info.Metadata = md
	}
	if d, err := shardmeta.Parse(t.Metadata()); err == nil && d.Info.Validate(h.Rows) == nil {
		info.Shard = &d.Info
	}
	return info
}

// An UpstreamError is the failure of a Table whose rows are elsewhere (the
// servers of a cluster's shards) that is not the request's fault. The
// server answers it with Status: 502 when the servers failed, 503 when
// none could be reached, 504 when they did not answer in time.
type UpstreamError struct {
	Status int
	Err    error
}

func (e *UpstreamError) Error() string { return e.Err.Error() }
func (e *UpstreamError) Unwrap() error { return e.Err }
