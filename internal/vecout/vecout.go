// Package vecout writes float32 vectors (embedding rows) in the output
// formats of embquery: text, JSON, raw little-endian float32 and .npy.
// Writers stream: rows are written as they come, never collected.
package vecout

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Formats lists the format names New accepts.
var Formats = []string{"text", "json", "raw", "npy"}

// A Writer writes rows of a fixed width. Close must be called to finish the
// output (it writes closing brackets and flushes); it does not close the
// underlying writer.
type Writer interface {
	// WriteRows writes len(vals)/dim rows.
	WriteRows(vals []float32) error
	// Flush writes what is buffered to the underlying writer, so that a
	// reader waiting for the rows written so far gets them.
	Flush() error
	Close() error
}

// New returns a Writer of rows of dim values in the named format to w. The
// npy format needs the number of rows up front; the others ignore rows.
//
//   - text: one row per line, values separated by spaces, each printed with
//     the fewest digits that read back as the same float32 (never elided).
//   - json: a JSON array of arrays of numbers, with the same digits. NaN and
//     infinities, which JSON cannot hold, are written as null, so that the
//     output stays one valid document whatever the rows hold.
//   - raw: little-endian float32 values, row-major, nothing else.
//   - npy: a NumPy .npy file (format 1.0) holding a float32 array of shape
//     (rows, dim), readable with numpy.load.
func New(w io.Writer, format string, dim int, rows int64) (Writer, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	switch format {
	case "text":
		return &textWriter{w: bw, dim: dim}, nil
	case "json":
		return &jsonWriter{w: bw, dim: dim}, nil
	case "raw":
		return &rawWriter{w: bw}, nil
	case "npy":
		if err := writeNpyHeader(bw, rows, dim); err != nil {
			return nil, err
		}
		return &rawWriter{w: bw, rowsLeft: rows * int64(dim), counted: true}, nil
	}
	return nil, fmt.Errorf("unknown output format %q (want %s)", format, strings.Join(Formats, ", "))
}

// AppendFloat appends v with the fewest digits that parse back to the same
// float32.
func AppendFloat(b []byte, v float32) []byte { return strconv.AppendFloat(b, float64(v), 'g', -1, 32) }

type textWriter struct {
	w   *bufio.Writer
	dim int
	buf []byte
}

func (t *textWriter) WriteRows(vals []float32) error {
	for i := 0; i < len(vals); i += t.dim {
		t.buf = t.buf[:0]
		for j, v := range vals[i : i+t.dim] {
			if j > 0 {
				t.buf = append(t.buf, ' ')
			}
			t.buf = AppendFloat(t.buf, v)
		}
		t.buf = append(t.buf, '\n')
		if _, err := t.w.Write(t.buf); err != nil {
			return err
		}
	}
	return nil
}

func (t *textWriter) Flush() error { return t.w.Flush() }
func (t *textWriter) Close() error { return t.w.Flush() }

type jsonWriter struct {
	w    *bufio.Writer
	dim  int
	rows int64
	buf  []byte
}

func (j *jsonWriter) WriteRows(vals []float32) error {
	for i := 0; i < len(vals); i += j.dim {
		j.buf = j.buf[:0]
		if j.rows == 0 {
			j.buf = append(j.buf, '[')
		} else {
			j.buf = append(j.buf, ",\n"...)
		}
		j.buf = append(j.buf, '[')
		for k, v := range vals[i : i+j.dim] {
			if k > 0 {
				j.buf = append(j.buf, ',')
			}
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				j.buf = append(j.buf, "null"...)
				continue
			}
			j.buf = AppendFloat(j.buf, v)
		}
		j.buf = append(j.buf, ']')
		j.rows++
		if _, err := j.w.Write(j.buf); err != nil {
			return err
		}
	}
	return nil
}

func (j *jsonWriter) Flush() error { return j.w.Flush() }

func (j *jsonWriter) Close() error {
	if j.rows == 0 {
		j.w.WriteString("[")
	}
	j.w.WriteString("]\n")
	return j.w.Flush()
}

type rawWriter struct {
	w        *bufio.Writer
	buf      []byte
	rowsLeft int64 // values still expected, when counted
	counted  bool
}

func (r *rawWriter) WriteRows(vals []float32) error {
	if r.counted {
		if int64(len(vals)) > r.rowsLeft {
			return fmt.Errorf("more rows than the .npy header announced")
		}
		r.rowsLeft -= int64(len(vals))
	}
	if cap(r.buf) < 4*len(vals) {
		r.buf = make([]byte, 4*len(vals))
	}
	b := r.buf[:4*len(vals)]
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	_, err := r.w.Write(b)
	return err
}

func (r *rawWriter) Flush() error { return r.w.Flush() }

func (r *rawWriter) Close() error {
	if r.counted && r.rowsLeft != 0 {
		return fmt.Errorf("%d values fewer than the .npy header announced", r.rowsLeft)
	}
	return r.w.Flush()
}

// writeNpyHeader writes a version 1.0 .npy header for a little-endian
// float32 C-order array of shape (rows, dim), padded so that the data starts
// on a 64-byte boundary, as numpy itself writes it.
func writeNpyHeader(w io.Writer, rows int64, dim int) error {
	if rows < 0 {
		return fmt.Errorf("npy output needs the number of rows")
	}
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, dim)
	const preamble = 10 // magic (6), version (2), header length (2)
	total := preamble + len(dict) + 1
	pad := (64 - total%64) % 64
	header := dict + strings.Repeat(" ", pad) + "\n"
	if len(header) > math.MaxUint16 {
		return fmt.Errorf("npy header too long")
	}
	b := []byte("\x93NUMPY\x01\x00")
	b = binary.LittleEndian.AppendUint16(b, uint16(len(header)))
	b = append(b, header...)
	_, err := w.Write(b)
	return err
}
