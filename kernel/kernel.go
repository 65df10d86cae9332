// Package kernel gathers embedding rows: it turns a batch of token ids into
// float32 vectors, reading rows straight out of a table's bytes (usually a
// memory-mapped file), converting them from their storage dtype, optionally
// scaling them and adding positional rows in the same pass.
//
// The functions are pure: they read the table bytes and write the caller's
// output, nothing else. They check every id before reading any row and never
// read outside Table.Data. Work is done in chunks of rows per inner call, so
// that a large batch neither hides the cost of a call per row nor keeps a
// goroutine from being preempted for long.
//
// Dot (dot.go) takes the dot products of a run of rows with a set of
// queries, and the rows' squared norms, in one pass over the rows: the
// arithmetic of exact nearest-neighbour search.
//
// The portable implementation in this package is the reference: it defines
// the result, bit for bit, that any faster path must reproduce.
package kernel

import (
	"fmt"

	"github.com/embstore/embstore/format"
)

// A Table describes stored rows: row i occupies Data[i*Stride:] and holds Dim
// values of type DType (see the format specification for the encodings).
type Table struct {
	Data   []byte
	Rows   int64
	Dim    int
	Stride int
	DType  format.DType
	// Scale multiplies every row as it is read; 0 or 1 means none.
	Scale float32
	// ComputeDType, F16 or BF16, makes the kernels compute as a model that
	// holds its weights in that type does: row values, the scaled product
	// and the sum with a positional row are each rounded to it (the format
	// specification's "Lookups" gives the exact steps). 0 means plain f32.
	ComputeDType format.DType
}

// plain reports whether rows are gathered as stored, with no scale and no
// rounding: the case the fast paths handle.
func (t *Table) plain() bool { return (t.Scale == 0 || t.Scale == 1) && t.ComputeDType == 0 }

// Validate checks that t describes rows that lie inside t.Data, padding
// included (fast paths may read a row's whole stride), with a stride the
// kernels support. Gather and Bag call it; callers that build a Table
// once may call it once and rely on it afterwards.
func (t *Table) Validate() error {
	rowSize := t.DType.RowSize(t.Dim)
	switch {
	case !t.DType.Valid():
		return fmt.Errorf("kernel: invalid dtype %d", t.DType)
	case t.Dim <= 0 || t.Dim > format.MaxDim || t.Rows < 0:
		return fmt.Errorf("kernel: invalid shape %d x %d", t.Rows, t.Dim)
	case t.ComputeDType != 0 && t.ComputeDType != format.F16 && t.ComputeDType != format.BF16:
		return fmt.Errorf("kernel: invalid compute dtype %s", t.ComputeDType)
	case int64(t.Stride) < rowSize || t.Stride%4 != 0:
		return fmt.Errorf("kernel: stride %d invalid for %d-byte rows", t.Stride, rowSize)
	case t.Rows > int64(len(t.Data))/int64(t.Stride):
		return fmt.Errorf("kernel: %d rows of stride %d do not fit in %d bytes", t.Rows, t.Stride, len(t.Data))
	}
	return nil
}

// Positions describes a positional table added to gathered rows: f32 rows at
// Data[i*Stride:], of the gathered table's Dim values each.
//
// A batch is a run of sequences of SeqLen ids each. The id at batch index j
// gets positional row Start + (Phase+j) % SeqLen: Start is the row of the
// first position, and Phase is the position (within its sequence) of the
// first id, non-zero when a batch is split into pieces.
type Positions struct {
	Data   []byte
	Rows   int64
	Stride int
	Start  int64
	SeqLen int
	Phase  int
}

func (p *Positions) validate(dim int) error {
	switch {
	case p.SeqLen <= 0 || p.Phase < 0 || p.Phase >= p.SeqLen:
		return fmt.Errorf("kernel: invalid sequence length %d or phase %d", p.SeqLen, p.Phase)
	case p.Rows < int64(p.SeqLen) || p.Start < 0 || p.Start > p.Rows-int64(p.SeqLen):
		return fmt.Errorf("kernel: positions [%d, %d) outside the %d-row positional table", p.Start, p.Start+int64(p.SeqLen), p.Rows)
	case p.Stride < 4*dim || p.Stride%4 != 0:
		return fmt.Errorf("kernel: positional stride %d invalid for %d values", p.Stride, dim)
	case int64(len(p.Data)) < 4*int64(dim) || p.Rows-1 > (int64(len(p.Data))-4*int64(dim))/int64(p.Stride):
		// The last row needs only its values, not its padding.
		return fmt.Errorf("kernel: %d positional rows of stride %d do not fit in %d bytes", p.Rows, p.Stride, len(p.Data))
	}
	return nil
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
// so), to dst[i*t.Dim:(i+1)*t.Dim], adding the positional row that pos
// assigns to index i when pos is not nil. len(dst) must be len(ids)*t.Dim.
//
// It returns -1, or, when an id is outside [0, t.Rows), the index of the
// first such id, having written nothing. It returns an error only for
// invalid arguments.
func Gather(dst []float32, t *Table, ids []int64, pos *Positions) (bad int, err error) {
	if err := t.Validate(); err != nil {
		return -1, err
	}
	if len(dst) != len(ids)*t.Dim {
		return -1, fmt.Errorf("kernel: output holds %d values, %d ids of %d need %d", len(dst), len(ids), t.Dim, len(ids)*t.Dim)
	}
	if pos != nil {
		if err := pos.validate(t.Dim); err != nil {
			return -1, err
		}
	}
	if bad := CheckIDs(ids, t.Rows); bad >= 0 {
		return bad, nil
	}
	step := chunkRows(t.Dim)
	phase := 0
	if pos != nil {
		phase = pos.Phase
	}
	for lo := 0; lo < len(ids); lo += step {
		hi := min(lo+step, len(ids))
		gatherChunk(dst[lo*t.Dim:hi*t.Dim], t, ids[lo:hi], pos, phase)
		if pos != nil {
			phase = (phase + hi - lo) % pos.SeqLen
		}
	}
	return -1, nil
}
