package wordvec

// A Block is a run of consecutive rows delivered by Reader.Next: their
// words and their vectors. It is valid until the next call to Next or
// Close, which may reuse its memory.
type Block struct {
	// Vectors holds the rows' vectors, Len()*Dim values, row after row:
	// what format.Writer.WriteTokens takes.
	Vectors []float32
	dim     int
	first   int64
	data    []byte   // the bytes the words are in
	spans   []span   // the words' places in data
	hashes  []uint64 // the words' Vocab hashes, when the parser computed them
}

type span struct{ start, end uint32 }

// Len returns the number of rows.
func (b *Block) Len() int { return len(b.spans) }

// Word returns the word of row i (0 <= i < Len()) as bytes, which may not be
// valid UTF-8. It aliases the Block.
func (b *Block) Word(i int) []byte {
	s := b.spans[i]
	return b.data[s.start:s.end:s.end]
}

// Vector returns the vector of row i. It aliases the Block.
func (b *Block) Vector(i int) []float32 {
	return b.Vectors[i*b.dim : (i+1)*b.dim : (i+1)*b.dim]
}

// FirstRow returns the row number (counting delivered rows from 0) of the
// Block's first row.
func (b *Block) FirstRow() int64 { return b.first }

// reset empties b for rows of width dim over data.
func (b *Block) reset(dim int, data []byte) {
	b.dim = dim
	b.data = data
	b.spans = b.spans[:0]
	b.hashes = b.hashes[:0]
	b.Vectors = b.Vectors[:0]
}

// filter retains the rows for which keep(i) is true, in order. keep sees
// each row before any later row moves.
func (b *Block) filter(keep func(i int) bool) {
	n := 0
	for i := range b.spans {
		if !keep(i) {
			continue
		}
		if n != i {
			b.spans[n] = b.spans[i]
			if len(b.hashes) > 0 {
				b.hashes[n] = b.hashes[i]
			}
			copy(b.Vectors[n*b.dim:(n+1)*b.dim], b.Vectors[i*b.dim:(i+1)*b.dim])
		}
		n++
	}
	b.spans = b.spans[:n]
	if len(b.hashes) > 0 {
		b.hashes = b.hashes[:n]
	}
	b.Vectors = b.Vectors[:n*b.dim]
}
