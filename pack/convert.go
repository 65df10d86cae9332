package pack

import (
	"context"
	"encoding/json"

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
// dtype (F32, F16, BF16 or Int8). The positional table, position offset,
// token scale, compute dtype and provenance carry over; the metadata records
// the conversion and the largest error it made. Values are rounded as
// torch's .to() does (see format.EncodeRow). dst must not be src.
func Convert(ctx context.Context, dst, src string, dtype format.DType, o *Options) (*ConversionInfo, error) {
	o = opts(o)
	if !dtype.Valid() {
		return nil, &SpecError{Field: "dtype", Value: dtype, Problem: "want F32, F16, BF16 or Int8"}
	}
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
	count := o.counter(in.Rows + in.Positions())
	if err := copyRows(ctx, in.Reader, in.Tokens(), fw.WriteTokens, count.add); err != nil {
		return nil, err
	}
	if s, ok := in.Section(format.SectionPositions); ok {
		if err := copyRows(ctx, in.Reader, s, fw.WritePositions, count.add); err != nil {
			return nil, err
		}
	}
	info := &ConversionInfo{From: in.DType.String(), To: dtype.String(), MaxAbsError: fw.MaxError(), Original: in.Metadata()}
	if err := setProvenance(fw, &Provenance{Creator: o.creator(), Source: "convert", Conversion: info}); err != nil {
		return nil, err
	}
	return info, fw.Commit()
}

// copyRows decodes the rows of section s of r to float32 in chunks and
// hands them to write, reporting each chunk's row count to done.
func copyRows(ctx context.Context, r *format.Reader, s format.Section, write func([]float32) error, done func(int64)) error {
	dim := int64(r.Dim)
	err := stream(ctx, s.Rows, rowsStep(dim), dim,
		func(buf []float32, first, n int64) error { return r.ReadRows(s, first, n, buf) },
		write, done)
	return errctx.In("embstore", s.Kind.String(), err)
}
