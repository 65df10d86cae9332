package kernel

import (
	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/fma32"
)

// The inner functions Gather and Bag call per chunk. They start as the
// reference implementations below; a platform file may replace them with
// faster ones at init, which must produce the same bits.
var (
	gatherChunk = gatherChunkRef
	bagChunk    = bagChunkRef
)

// gatherChunkRef is the reference gather over a chunk of checked ids. When
// pos is not nil, the id at chunk index j gets positional row
// pos.Start + (phase+j) % pos.SeqLen; phase replaces pos.Phase, so that
// Gather can walk a batch chunk by chunk without copying pos (a copy would
// escape to the heap through the indirect call).
func gatherChunkRef(dst []float32, t *Table, ids []int64, pos *Positions, phase int) {
	dim := t.Dim
	for j, id := range ids {
		out := dst[j*dim : (j+1)*dim : (j+1)*dim]
		readRow(out, t, id)
		if pos != nil {
			p := pos.Start + int64((phase+j)%pos.SeqLen)
			addRow(out, pos.Data[p*int64(pos.Stride):], t.ComputeDType)
		}
	}
}

// readRow decodes row id of t into out, rounding to the compute dtype and
// scaling it if t says so.
func readRow(out []float32, t *Table, id int64) {
	format.DecodeRow(out, t.Data[id*int64(t.Stride):], t.DType)
	if c := t.ComputeDType; c != 0 {
		for i, v := range out {
			out[i] = Round(v, c)
		}
	}
	if t.Scale != 0 && t.Scale != 1 {
		scaleRow(out, t.Scale, t.ComputeDType)
	}
}

// bagChunkRef is the reference pooling step: it accumulates the rows of ids
// (checked), except those equal to pad, into out, which holds the bag's
// running sum or maximum (for BagMax, started by the bag's first row). weights, if not nil, holds one weight per id.
func bagChunkRef(out []float32, t *Table, ids []int64, weights []float32, mode BagMode, pad int64) {
	var buf [256]float32
	row := buf[:0]
	if t.Dim <= len(buf) {
		row = buf[:t.Dim]
	} else {
		row = make([]float32, t.Dim)
	}
	for j, id := range ids {
		if id == pad {
			continue
		}
		readRow(row, t, id)
		switch {
		case mode == BagMax:
			// torch's rule: only a strictly greater value replaces the
			// maximum (Bag starts it with the bag's first row).
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
}
