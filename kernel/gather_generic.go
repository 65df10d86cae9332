package kernel

import (
	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/fma32"
)

// The inner functions Gather and Bag call per chunk. They start as the
// reference implementations below; a platform file may replace them with
// faster ones at init, which must produce the same bits. Each checks every
// id against the table's rows as it goes (the backstop of "Who checks
// what") and returns the index of the first one outside, having written
// the rows before it, or -1.
var (
	gatherChunk = gatherChunkRef
	bagChunk    = bagChunkRef
)

// gatherChunkRef is the reference gather over a chunk of ids. When pos is
// not nil, the id at chunk index j gets positional row
// seq.Start + (seq.Phase+j) % seq.Len.
func gatherChunkRef(dst []float32, t *Table, ids []int64, pos *Table, seq Sequence) int {
	dim := t.dim
	for j, id := range ids {
		if uint64(id) >= uint64(t.rows) {
			return j
		}
		out := dst[j*dim : (j+1)*dim : (j+1)*dim]
		readRow(out, t, id)
		if pos != nil {
			p := seq.Start + int64((seq.Phase+j)%seq.Len)
			addRow(out, pos.data[p*int64(pos.stride):], t.compute)
		}
	}
	return -1
}

// readRow decodes row id of t into out, rounding to the compute dtype and
// scaling it if t says so.
func readRow(out []float32, t *Table, id int64) {
	format.DecodeRow(out, t.data[id*int64(t.stride):], t.dtype)
	if c := t.compute; c != 0 {
		for i, v := range out {
			out[i] = Round(v, c)
		}
	}
	if t.scale != 0 {
		scaleRow(out, t.scale, t.compute)
	}
}

// bagChunkRef is the reference pooling step: it accumulates the rows of
// ids, except those equal to pad, into out, which holds the bag's running
// sum or maximum (for BagMax, started by the bag's first row). weights, if
// not nil, holds one weight per id.
func bagChunkRef(out []float32, t *Table, ids []int64, weights []float32, mode BagMode, pad int64) int {
	var buf [256]float32
	row := buf[:0]
	if t.dim <= len(buf) {
		row = buf[:t.dim]
	} else {
		row = make([]float32, t.dim)
	}
	for j, id := range ids {
		if uint64(id) >= uint64(t.rows) {
			return j // even if it equals pad: a pad outside the table means none
		}
		if id == pad {
			continue
		}
		readRow(row, t, id)
		switch {
		case mode == BagMax:
			// torch's rule: only a strictly greater value replaces the
			// maximum.
			for i, v := range row {
				if v > out[i] {
					out[i] = v
				}
			}
		case weights != nil:
			w := weights[j]
			for i, v := range row {
				out[i] = fma32.FMA(w, v, out[i])
			}
		default:
			for i, v := range row {
				out[i] += v
			}
		}
	}
	return -1
}
