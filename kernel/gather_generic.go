package kernel

import (
	"github.com/embstore/embstore/format"
)

// gatherChunk is the reference gather over a chunk of already checked ids.
func gatherChunk(dst []float32, t *Table, ids []int64, pos *Positions) {
	dim := t.Dim
	for j, id := range ids {
		out := dst[j*dim : (j+1)*dim : (j+1)*dim]
		row := t.Data[id*int64(t.Stride):]
		format.DecodeRow(out, row, t.DType)
		if t.Scale != 0 && t.Scale != 1 {
			scaleRow(out, t.Scale, t.ScaleRounding)
		}
		if pos != nil {
			p := pos.Start + int64((pos.Phase+j)%pos.SeqLen)
			addRow(out, pos.Data[p*int64(pos.Stride):])
		}
	}
}
