package pack

import (
	"context"
	"io"
	"strconv"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/atomicfile"
	"github.com/embstore/embstore/internal/safetensors"
)

// Default tensor names of exported tables that were not imported (imported
// tables get their original names back).
const (
	ExportTokenName    = "embeddings.weight"
	ExportPositionName = "position_embeddings.weight"
)

// ExportInfo says what Export wrote.
type ExportInfo struct {
	TokenTensor    string       // the token table's tensor name
	PositionTensor string       // the positional table's, "" if none
	DType          format.DType // the token tensor's dtype: F32, F16 or BF16
	// MaxAbsError is the largest absolute difference between a token value
	// of the table and the value exported (0 unless exported in a narrower
	// dtype than the table's values).
	MaxAbsError float64
}

// Export writes the token table (and the positional table, if any) of the
// table at src as a safetensors file at dst, atomically, with token values
// stored as dtype (F32, F16 or BF16; zero means the table's own dtype, or F32
// for an int8 table), rounded as torch's .to() rounds. The positional table
// is F32, as tables keep it, so it round-trips exactly. Tensors get the
// names they were imported under, if the table was imported, else
// ExportTokenName and ExportPositionName. The __metadata__ holds "format":
// "pt", the table's provenance, and the position offset, token scale and
// compute dtype, which Import reads back, so that export then import gives
// the same lookups. The file loads with safetensors.torch.load_file.
//
// dst must not be src. Options.Progress counts the rows written.
func Export(ctx context.Context, dst, src string, dtype format.DType, o *Options) (*ExportInfo, error) {
	o = opts(o)
	return export(ctx, src, dtype, o, func(meta map[string]string, tensors []safetensors.WriteTensor) error {
		return safetensors.WriteFileWith(dst, meta, tensors, &atomicfile.Options{NoReplace: o.NoReplace, Inputs: []string{src}})
	})
}

// ExportTo writes what Export writes to w, as a stream (the safetensors
// header comes first, and its size is known before any row is read).
// Options.NoReplace does not apply.
func ExportTo(ctx context.Context, w io.Writer, src string, dtype format.DType, o *Options) (*ExportInfo, error) {
	return export(ctx, src, dtype, opts(o), func(meta map[string]string, tensors []safetensors.WriteTensor) error {
		_, err := safetensors.Write(w, meta, tensors)
		return err
	})
}

// export prepares the tensors of the table at src and hands them to write.
func export(ctx context.Context, src string, dtype format.DType, o *Options, write func(map[string]string, []safetensors.WriteTensor) error) (*ExportInfo, error) {
	if dtype != 0 && dtype != format.F32 && dtype != format.F16 && dtype != format.BF16 {
		return nil, &SpecError{Field: "dtype", Value: dtype, Problem: "safetensors has no row-wise int8 type; want F32, F16 or BF16"}
	}
	in, err := format.Open(src)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	if dtype == 0 {
		dtype = in.DType
		if dtype == format.Int8 {
			dtype = format.F32
		}
	}
	st := map[format.DType]safetensors.DType{format.F32: safetensors.F32, format.F16: safetensors.F16, format.BF16: safetensors.BF16}[dtype]
	info := &ExportInfo{TokenTensor: ExportTokenName, DType: dtype}
	posName := ExportPositionName
	if p, err := ReadProvenance(in.Metadata()); err == nil && p.Import != nil {
		info.TokenTensor = p.Import.Tensor
		if p.Import.PositionsTensor != "" {
			posName = p.Import.PositionsTensor
		}
	}
	meta := map[string]string{"format": "pt"}
	if md := in.Metadata(); md != nil {
		meta["embstore.metadata"] = string(md)
	}
	if in.PositionOffset != 0 {
		meta[metaPositionOffset] = strconv.FormatInt(in.PositionOffset, 10)
	}
	if in.TokenScale != 1 {
		meta[metaTokenScale] = strconv.FormatFloat(float64(in.TokenScale), 'g', -1, 32)
	}
	meta[metaComputeDType] = "f32"
	if in.ComputeDType != 0 {
		meta[metaComputeDType] = in.ComputeDType.String()
	}
	count := o.counter(in.Rows + in.Positions())
	tensors := []safetensors.WriteTensor{{
		Name: info.TokenTensor, DType: st, Shape: []int64{in.Rows, int64(in.Dim)},
		Data: func(w io.Writer) error {
			e, err := writeSection(ctx, w, in.Reader, in.Tokens(), dtype, count.add)
			info.MaxAbsError = e
			return err
		},
	}}
	if s, ok := in.Section(format.SectionPositions); ok {
		info.PositionTensor = posName
		tensors = append(tensors, safetensors.WriteTensor{
			Name: posName, DType: safetensors.F32, Shape: []int64{s.Rows, int64(in.Dim)},
			Data: func(w io.Writer) error {
				_, err := writeSection(ctx, w, in.Reader, s, format.F32, count.add)
				return err
			},
		})
	}
	if err := write(meta, tensors); err != nil {
		return nil, err
	}
	return info, nil
}

// writeSection writes the rows of section s, decoded to float32 and encoded
// as dtype (F32, F16 or BF16: values with no row parameters, so that a
// chunk of rows encodes as one run of values), little-endian, row after
// row, and returns the largest error the encoding made.
func writeSection(ctx context.Context, w io.Writer, r *format.Reader, s format.Section, dtype format.DType, done func(int64)) (float64, error) {
	var out []byte
	maxErr := 0.0
	err := copyRows(ctx, r, s, func(v []float32) error {
		n := int(dtype.RowSize(len(v)))
		if cap(out) < n {
			out = make([]byte, n)
		}
		e, err := format.EncodeRow(out[:n], v, dtype)
		if err != nil {
			return err
		}
		maxErr = max(maxErr, e)
		_, err = w.Write(out[:n])
		return err
	}, done)
	return maxErr, err
}
