package wordvec

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strconv"
)

var errWriterClosed = errors.New("wordvec: writer closed")

// WriterOptions control a Writer.
type WriterOptions struct {
	// NoNewline leaves out the "\n" after each binary row, as gensim's
	// writer does; by default it is written, as the original word2vec tool
	// writes it. Readers accept both.
	NoNewline bool
}

// A Writer writes word vectors in one of the classic formats, a row at a
// time: Word2Vec (binary), Word2VecText or FastTextVec (text with a "rows
// dim" header) or GloVe (text without). Binary values are written as their
// float32 bits, so a file read and written back is the same bit for bit;
// text values with the fewest digits that read back (as gensim and this
// package read them) to the same float32, strconv.FormatFloat(v, 'g', -1,
// 32). NaN is written "nan" or "-nan", which keeps its sign but not its
// payload.
type Writer struct {
	w    *bufio.Writer
	f    Format
	rows int64
	dim  int
	opts WriterOptions
	n    int64
	buf  []byte
	err  error
}

// NewWriter starts a file of rows vectors of width dim on w and writes its
// header. rows is required for the formats with a header; for GloVe it may
// be -1 (not checked).
func NewWriter(w io.Writer, f Format, rows int64, dim int, opts *WriterOptions) (*Writer, error) {
	switch f {
	case Word2Vec, Word2VecText, FastTextVec, GloVe:
	default:
		return nil, newErr(f, ErrUnsupported, "cannot write this format")
	}
	if dim <= 0 || dim > MaxDim {
		return nil, newErr(f, ErrLimit, "dim %d is not in [1, %d]", dim, MaxDim)
	}
	if rows < 0 && f != GloVe || rows > MaxRows {
		return nil, newErr(f, ErrLimit, "row count %d is not in [0, %d]", rows, int64(MaxRows))
	}
	wr := &Writer{w: bufio.NewWriterSize(w, 1<<20), f: f, rows: rows, dim: dim}
	if opts != nil {
		wr.opts = *opts
	}
	if f != GloVe {
		if _, err := wr.w.WriteString(strconv.FormatInt(rows, 10) + " " + strconv.Itoa(dim) + "\n"); err != nil {
			return nil, err
		}
	}
	return wr, nil
}

// WriteRow writes one row. The word must be one the format can hold and
// this package reads back as the same bytes: not empty, no NUL, and in
// binary no space and no leading newline, in text no newline and, if it
// has a space, not ending in something that reads as a number.
func (w *Writer) WriteRow(word []byte, vec []float32) error {
	if w.err != nil {
		return w.err
	}
	if len(vec) != w.dim {
		return newErr(w.f, ErrLimit, "a row of %d values for dim %d", len(vec), w.dim)
	}
	if w.rows >= 0 && w.n >= w.rows {
		return newErr(w.f, ErrRowCount, "more rows than the %d declared", w.rows)
	}
	if err := w.checkWord(word); err != nil {
		return err
	}
	b := append(w.buf[:0], word...)
	if w.f == Word2Vec {
		b = append(b, ' ')
		for _, v := range vec {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
		if !w.opts.NoNewline {
			b = append(b, '\n')
		}
	} else {
		for _, v := range vec {
			b = append(b, ' ')
			b = appendValue(b, v)
		}
		b = append(b, '\n')
	}
	w.buf = b
	if _, err := w.w.Write(b); err != nil {
		w.err = err
		return err
	}
	w.n++
	return nil
}

// appendValue appends the shortest decimal that reads back as v.
func appendValue(b []byte, v float32) []byte {
	if v != v {
		if math.Float32bits(v)&signBit32 != 0 {
			return append(b, "-nan"...)
		}
		return append(b, "nan"...)
	}
	return strconv.AppendFloat(b, float64(v), 'g', -1, 32)
}

func (w *Writer) checkWord(word []byte) error {
	bad := func(why string) error {
		return rowErr(w.f, w.n, ErrWord, "cannot write the word %s: %s", quote(word), why)
	}
	switch {
	case len(word) == 0:
		return bad("it is empty")
	case len(word) > MaxWordBytes:
		return bad("it is longer than " + strconv.Itoa(MaxWordBytes) + " bytes")
	case bytes.IndexByte(word, 0) >= 0:
		return bad("it holds a NUL byte")
	}
	if w.f == Word2Vec {
		switch {
		case bytes.IndexByte(word, ' ') >= 0:
			return bad("binary word2vec ends a word at its first space")
		case word[0] == '\n':
			return bad("binary word2vec drops a word's leading newlines")
		}
		return nil
	}
	if bytes.IndexByte(word, '\n') >= 0 {
		return bad("text formats end a row at a newline")
	}
	if be := checkWord(word, w.dim, false); be != nil {
		return bad(be.msg)
	}
	return nil
}

// Close flushes the rows written; it fails if fewer rows were written than
// declared. It does not close the underlying io.Writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if err := w.w.Flush(); err != nil {
		w.err = err
		return err
	}
	if w.rows >= 0 && w.n != w.rows {
		w.err = newErr(w.f, ErrRowCount, "%d rows written, %d declared", w.n, w.rows)
		return w.err
	}
	w.err = errWriterClosed
	return nil
}
