package pack

import (
	"encoding/json"
	"fmt"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/errctx"
)

// ConversionInfo is the "conversion" metadata of a converted table.
type ConversionInfo struct {
	From string `json:"from"` // dtype converted from
	To   string `json:"to"`   // dtype converted to
	// MaxAbsError is the largest absolute difference between a token value
	// before and after conversion, measured while converting.
	MaxAbsError float64 `json:"max_abs_error"`
	// Original is the metadata of the table converted from.
	Original json.RawMessage `json:"original,omitempty"`
}

// Convert writes the table at src again at dst with token rows stored as
// dtype. The positional table, position offset, token scale and provenance
// carry over; the metadata records the conversion and the largest error it
// made. Values are rounded as torch's .to() does (see format.EncodeRow). dst
// must not be src.
func Convert(dst, src string, dtype format.DType, progress Progress, o WriteOptions) (*ConversionInfo, error) {
	in, err := format.Open(src)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	l := format.Layout{
		Rows: in.Rows, Dim: in.Dim, DType: dtype, Positions: in.Positions(), PositionOffset: in.PositionOffset,
		TokenScale: in.TokenScale, ComputeDType: in.ComputeDType, Alignment: in.Alignment,
	}
	fw, err := create(dst, l, o, src)
	if err != nil {
		return nil, err
	}
	defer fw.Abort()
	total := in.Rows + in.Positions()
	done := int64(0)
	if err := copyRows(in.Reader, in.Tokens(), fw.WriteTokens, func(n int64) {
		done += n
		progress.report(done, total)
	}); err != nil {
		return nil, err
	}
	if s, ok := in.Section(format.SectionPositions); ok {
		if err := copyRows(in.Reader, s, fw.WritePositions, func(n int64) {
			done += n
			progress.report(done, total)
		}); err != nil {
			return nil, err
		}
	}
	info := &ConversionInfo{From: in.DType.String(), To: dtype.String(), MaxAbsError: fw.MaxError(), Original: in.Metadata()}
	if err := setProvenance(fw, &format.Provenance{Creator: Creator, Source: "convert", Conversion: info}); err != nil {
		return nil, err
	}
	return info, fw.Commit()
}

// copyRows decodes the rows of section s of r in chunks and hands them to
// write, reporting each chunk's row count to done.
func copyRows(r *format.Reader, s format.Section, write func([]float32) error, done func(int64)) error {
	step := max(1, int64(chunkValues/r.Dim))
	buf := make([]float32, step*int64(r.Dim))
	for first := int64(0); first < s.Rows; first += step {
		n := min(step, s.Rows-first)
		vals := buf[:n*int64(r.Dim)]
		if err := r.ReadRows(s, first, n, vals); err != nil {
			return err
		}
		if err := write(vals); err != nil {
			return errctx.In("embstore", fmt.Sprintf("%s rows %d to %d", s.Kind, first, first+n), err)
		}
		done(n)
	}
	return nil
}
