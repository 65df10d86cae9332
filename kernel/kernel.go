// Package kernel gathers embedding rows: it turns a batch of token ids into
// float32 vectors, reading rows straight out of a table's bytes (usually a
// memory-mapped file), converting them from their storage dtype, optionally
// scaling them and adding positional rows in the same pass, and pools bags
// of rows as torch.nn.EmbeddingBag does.
//
// The functions are pure: they read the table bytes and write the caller's
// output, nothing else, and never read outside a Table's bytes. Work is done
// in chunks of rows per inner call, so that a large batch neither hides the
// cost of a call per row nor keeps a goroutine from being preempted for long.
//
// Dot (dot.go) takes the dot products of a run of rows with a set of
// queries, and the rows' squared norms, in one pass over the rows: the
// arithmetic of exact nearest-neighbour search.
//
// The portable implementation in this package is the reference: it defines
// the result, bit for bit, that any faster path must reproduce.
//
// # Who checks what
//
// Every check is made once, by one owner:
//
//   - NewTable checks a table's geometry (dtype, shape, stride, that its
//     rows lie inside its bytes) once, when the Table is built; Gather and
//     Bag rely on it and do not check again.
//   - NewBags checks the structure of a bag call (offsets that do not
//     decrease and stay within the ids, one weight per id) once; pieces cut
//     from it with Bags.Slice need no check.
//   - Gather, GatherPositions and Bag check their remaining arguments, each
//     O(1): the output's size (CheckSize, whose *SizeError is the one
//     "output holds" message of the module), the sequence of a positional
//     gather against the positional table, the pooling mode.
//   - Dot checks its own arguments (the rows asked for against the table,
//     the outputs' and scratch's sizes, the queries' width), each in O(1);
//     it takes no ids.
//   - Ids are not checked before any row is written: that is the caller's
//     job when it needs all-or-nothing results (the store checks a batch
//     once, before it splits it across goroutines). The inner loops (the
//     assembly and the reference) keep a backstop, one compare per id, so
//     that no id ever reads outside the table: an id outside it stops the
//     call with an *IDError, the rows before it written.
package kernel

import (
	"fmt"

	"github.com/embstore/embstore/format"
)

// A TableSpec describes stored rows for NewTable: Rows rows of Dim values
// of type DType (see the format specification for the encodings), Stride
// bytes apart.
type TableSpec struct {
	Rows   int64
	Dim    int
	Stride int
	DType  format.DType
	// Scale multiplies every row as it is read; 0 or 1 means none.
	Scale float32
	// ComputeDType, F16 or BF16, makes the kernels compute as a model that
	// holds its weights in that type does: row values, the scaled product
	// and the sum with a positional row are each rounded to it (the format
	// specification's "Lookups" gives the exact steps). 0 or F32 means
	// plain f32.
	ComputeDType format.DType
}

// A Table is stored rows that NewTable has checked: row i occupies
// data[i*Stride:] and holds Dim values. Its geometry cannot change after
// NewTable, so the kernels rely on the check. A Table is read-only and safe
// for concurrent use.
type Table struct {
	data    []byte
	rows    int64
	dim     int
	stride  int
	dtype   format.DType
	scale   float32 // 0 or 1: none
	compute format.DType
}

// NewTable returns the table spec describes over data, after checking that
// every row lies inside data (the last row's values, at least: not
// necessarily the padding after them), with a stride the kernels support (a
// multiple of 4 bytes, at least a row). It is the one check of a table's
// geometry: build a Table once and use it for every call.
func NewTable(data []byte, spec TableSpec) (*Table, error) {
	d := spec.DType
	rowSize := d.RowSize(spec.Dim)
	switch {
	case !d.Valid():
		return nil, fmt.Errorf("kernel: invalid dtype %d", d)
	case spec.Dim <= 0 || spec.Dim > format.MaxDim || spec.Rows < 0:
		return nil, fmt.Errorf("kernel: invalid shape %d x %d", spec.Rows, spec.Dim)
	case spec.ComputeDType != 0 && spec.ComputeDType != format.F32 && spec.ComputeDType != format.F16 && spec.ComputeDType != format.BF16:
		return nil, fmt.Errorf("kernel: invalid compute dtype %s", spec.ComputeDType)
	case int64(spec.Stride) < rowSize || spec.Stride%4 != 0:
		return nil, fmt.Errorf("kernel: stride %d invalid for %d-byte rows", spec.Stride, rowSize)
	case spec.Rows > 0 && (int64(len(data)) < rowSize || spec.Rows-1 > (int64(len(data))-rowSize)/int64(spec.Stride)):
		return nil, fmt.Errorf("kernel: %d rows of stride %d do not fit in %d bytes", spec.Rows, spec.Stride, len(data))
	}
	t := &Table{data: data, rows: spec.Rows, dim: spec.Dim, stride: spec.Stride, dtype: d, scale: spec.Scale, compute: spec.ComputeDType}
	if t.scale == 1 {
		t.scale = 0
	}
	if t.compute == format.F32 {
		t.compute = 0
	}
	return t, nil
}

// Spec returns what the table was built from.
func (t *Table) Spec() TableSpec {
	return TableSpec{Rows: t.rows, Dim: t.dim, Stride: t.stride, DType: t.dtype, Scale: t.scale, ComputeDType: t.compute}
}

// Rows returns the number of rows.
func (t *Table) Rows() int64 { return t.rows }

// Dim returns the number of values per row.
func (t *Table) Dim() int { return t.dim }

// plain reports whether rows are gathered as stored, with no scale and no
// rounding: the case the fast paths handle.
func (t *Table) plain() bool { return t.scale == 0 && t.compute == 0 }

// A Sequence says which positional rows GatherPositions adds. A batch is a
// run of sequences of Len ids each; the id at batch index j is at position
// (Phase+j) mod Len of its sequence and gets positional row Start + that
// position. Start is the row of the first position; Phase is the position
// of the batch's first id, non-zero when a batch is a piece of a longer
// one.
type Sequence struct {
	Start int64
	Len   int
	Phase int
}

// next returns the sequence of the batch that starts n ids later.
func (s Sequence) next(n int) Sequence {
	s.Phase = (s.Phase + n) % s.Len
	return s
}

// A SizeError says that an output slice does not hold what a call writes:
// N units (ids, or bags) of Dim values.
type SizeError struct {
	Len  int    // the output's length
	N    int    // rows or bags to write
	Dim  int    // values per row
	What string // "ids" or "bags"
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("kernel: output holds %d values, %d %s of %d need %d", e.Len, e.N, e.What, e.Dim, e.N*e.Dim)
}

// CheckSize returns a *SizeError unless an output of n values holds units
// rows (what: "ids" or "bags") of dim values. Gather and Bag call it; so do
// callers that cut an output into pieces before calling them.
func CheckSize(n, units, dim int, what string) error {
	if n != units*dim {
		return &SizeError{Len: n, N: units, Dim: dim, What: what}
	}
	return nil
}

// An IDError reports an id outside its table, found by the kernels' own
// range check while writing: the rows of the ids before it have been
// written. Callers that check ids first (the store does) never see one.
type IDError struct {
	Index int   // index of the id in the call's ids
	ID    int64 // the id
	Rows  int64 // the table's rows
}

func (e *IDError) Error() string {
	return fmt.Sprintf("kernel: ids[%d] = %d is outside the %d-row table", e.Index, e.ID, e.Rows)
}

// chunkBytes bounds the output one inner call writes, so that a call takes
// tens of microseconds at most.
const chunkBytes = 64 << 10

// chunkRows returns how many rows of dim values one inner call handles.
func chunkRows(dim int) int { return max(1, chunkBytes/(4*dim)) }

// CheckIDs returns the index of the first id outside [0, rows), or -1.
func CheckIDs(ids []int64, rows int64) int {
	for i, id := range ids {
		if uint64(id) >= uint64(rows) {
			return i
		}
	}
	return -1
}

// Gather writes row ids[i] of t, converted to float32 (and scaled, if t says
// so), to dst[i*Dim:(i+1)*Dim]; len(dst) must be len(ids)*Dim. An id outside
// the table stops it with an *IDError (see "Who checks what").
func Gather(dst []float32, t *Table, ids []int64) error {
	if err := CheckSize(len(dst), len(ids), t.dim, "ids"); err != nil {
		return err
	}
	return gather(dst, t, ids, nil, Sequence{})
}

// GatherPositions is Gather with positional rows added in the same pass:
// the id at batch index j gets the row of pos that seq assigns to it. pos
// holds plain f32 rows of t's width (no scale, no compute dtype of its
// own); the sums are computed in t's compute dtype.
func GatherPositions(dst []float32, t *Table, ids []int64, pos *Table, seq Sequence) error {
	if err := CheckSize(len(dst), len(ids), t.dim, "ids"); err != nil {
		return err
	}
	switch {
	case pos.dtype != format.F32 || pos.dim != t.dim || !pos.plain():
		return fmt.Errorf("kernel: positional table of %d %s values (scale %v, compute dtype %s); want plain f32 rows of %d values",
			pos.dim, pos.dtype, pos.scale, pos.compute, t.dim)
	case seq.Len <= 0 || seq.Phase < 0 || seq.Phase >= seq.Len:
		return fmt.Errorf("kernel: invalid sequence length %d or phase %d", seq.Len, seq.Phase)
	case seq.Start < 0 || pos.rows < int64(seq.Len) || seq.Start > pos.rows-int64(seq.Len):
		return fmt.Errorf("kernel: positions [%d, %d) outside the %d-row positional table", seq.Start, seq.Start+int64(seq.Len), pos.rows)
	}
	return gather(dst, t, ids, pos, seq)
}

// gather runs the inner gather chunk by chunk over checked arguments.
func gather(dst []float32, t *Table, ids []int64, pos *Table, seq Sequence) error {
	step := chunkRows(t.dim)
	for lo := 0; lo < len(ids); lo += step {
		hi := min(lo+step, len(ids))
		if bad := gatherChunk(dst[lo*t.dim:hi*t.dim], t, ids[lo:hi], pos, seq); bad >= 0 {
			return &IDError{Index: lo + bad, ID: ids[lo+bad], Rows: t.rows}
		}
		if pos != nil {
			seq = seq.next(hi - lo)
		}
	}
	return nil
}
