package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// The Writer's methods for the sections of version 1.1.

// WriteStrings appends the strings of the next len(strs) token rows, in row
// order; an empty string means the row has none. Strings are raw bytes
// (not necessarily UTF-8). The layout must have Layout.Vocabulary; by Close
// every row must have been given its string, and no two rows the same one.
// The index is built at Close from the strings alone, so the same strings
// always give the same section. The strings are copied.
func (w *Writer) WriteStrings(strs ...[]byte) error {
	switch {
	case w.closed:
		return w.closedErr()
	case w.err != nil:
		return w.err
	case w.vocab == nil:
		return errors.New("embstore: strings written to a layout without a vocabulary (Layout.Vocabulary)")
	}
	limit := w.layout.Rows
	if w.tokensEnded {
		limit = w.tokensDone
	}
	if n := int64(len(w.vocab.ends)) + int64(len(strs)); n > limit {
		return fmt.Errorf("embstore: %d strings written, the table has %d rows", n, limit)
	}
	for _, s := range strs {
		w.vocab.add(s)
	}
	return nil
}

// SetTokenizer sets the tokenizer section written by Close: doc is a
// Hugging Face tokenizer.json that passes ValidateTokenizerJSON, stored
// compressed with zstd (EncodeTokenizerSection).
func (w *Writer) SetTokenizer(doc []byte) error {
	if w.closed {
		return w.closedErr()
	}
	sec, err := EncodeTokenizerSection(doc)
	if err != nil {
		return err
	}
	w.tokSec = sec
	return nil
}

// SetTokenizerSection sets the tokenizer section written by Close to sec,
// the bytes of another table's tokenizer section (its fixed fields and
// compressed document) as they are stored: a copy of a table (a shard, a
// join, a conversion) keeps them without compressing again, which could give
// other bytes. sec is checked as verification checks it
// (ParseTokenizerSection). The bytes are copied.
func (w *Writer) SetTokenizerSection(sec []byte) error {
	if w.closed {
		return w.closedErr()
	}
	if _, err := ParseTokenizerSection(sec, 0); err != nil {
		return err
	}
	w.tokSec = bytes.Clone(sec)
	return nil
}

// WriteSubwords appends subword rows, after the positional rows: vals holds
// a whole number of rows of Dim values each, converted to the layout's dtype
// as they are written.
func (w *Writer) WriteSubwords(vals []float32) error {
	if err := w.beginRows(SectionSubwords); err != nil {
		return err
	}
	if err := w.check(vals, w.subwordsDone, w.layout.Subwords, "subword"); err != nil {
		return err
	}
	for i := 0; i < len(vals) && w.err == nil; i += w.layout.Dim {
		e, err := EncodeRow(w.row, vals[i:i+w.layout.Dim], w.layout.DType)
		if err != nil {
			w.err = fmt.Errorf("%w (subword row %d)", err, w.subwordsDone)
			break
		}
		w.maxErr = max(w.maxErr, e)
		w.write(w.row)
		w.subwordsDone++
	}
	w.rowsWritten(SectionSubwords, w.subwordsDone, w.layout.Subwords)
	return w.err
}

// writeNorms writes the norms computed from the token rows.
func (w *Writer) writeNorms() {
	var b [4096]byte
	for lo := 0; lo < len(w.norms) && w.err == nil; lo += len(b) / 4 {
		chunk := w.norms[lo:min(len(w.norms), lo+len(b)/4)]
		putNorms(b[:], chunk)
		w.write(b[:4*len(chunk)])
	}
}

// A vocabBuilder collects the strings of a vocabulary, in row order.
type vocabBuilder struct {
	blob  []byte
	ends  []uint64 // ends[i] is the end of string i in blob
	count int64    // non-empty strings
}

func (b *vocabBuilder) add(s []byte) {
	b.blob = append(b.blob, s...)
	b.ends = append(b.ends, uint64(len(b.blob)))
	if len(s) > 0 {
		b.count++
	}
}

// str returns string i.
func (b *vocabBuilder) str(i int64) []byte {
	start := uint64(0)
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.blob[start:b.ends[i]]
}

// A vocabSection is a vocabulary section ready to be written.
type vocabSection struct {
	b      *vocabBuilder
	info   VocabInfo
	index  []uint64
	length int64
}

// build checks the strings against the final layout l (one per row, no two
// alike) and builds the index.
func (b *vocabBuilder) build(l Layout) (*vocabSection, error) {
	if n := int64(len(b.ends)); n != l.Rows {
		return nil, fmt.Errorf("embstore: %d strings written for %d token rows (WriteStrings)", n, l.Rows)
	}
	info := VocabInfo{
		Rows: l.Rows, Count: b.count, Slots: VocabSlots(b.count), BlobLength: int64(len(b.blob)),
		Hash: VocabHashFNV1aFmix64,
	}
	if l.Subwords > 0 {
		info.Subwords, info.MinN, info.MaxN = SubwordsFastText, l.SubwordMinN, l.SubwordMaxN
	}
	index, x, y := buildVocabIndex(info.Rows, info.Slots, b.str)
	if x >= 0 {
		return nil, fmt.Errorf("%w: rows %d and %d have the same string %q", ErrBadVocabulary, x, y, b.str(x))
	}
	length, ok := vocabLength(info.Rows, info.Slots, info.BlobLength)
	if !ok {
		return nil, fmt.Errorf("%w: %d bytes of strings is too many", ErrBadVocabulary, info.BlobLength)
	}
	return &vocabSection{b: b, info: info, index: index, length: length}, nil
}

// writeTo writes the section: fixed fields, offsets, index, blob.
func (v *vocabSection) writeTo(w *Writer) {
	w.write(encodeVocabHeader(v.info))
	var buf [4096]byte
	n := 0
	put := func(x uint64) {
		binary.LittleEndian.PutUint64(buf[n:], x)
		if n += 8; n == len(buf) {
			w.write(buf[:])
			n = 0
		}
	}
	put(0)
	for _, e := range v.b.ends {
		put(e)
	}
	for _, e := range v.index {
		put(e)
	}
	w.write(buf[:n])
	w.write(v.b.blob)
}
