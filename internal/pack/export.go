package pack

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/atomicfile"
	"github.com/embstore/embstore/internal/floatconv"
	"github.com/embstore/embstore/internal/safetensors"
)

// Default tensor names of exported tables that were not imported (imported
// tables get their original names back).
const (
	ExportTokenName    = "embeddings.weight"
	ExportPositionName = "position_embeddings.weight"
)

// Export writes the token table (and the positional table, if any) of the
// table at src as a safetensors file at dst, atomically, with token values
// stored as dtype (F32, F16 or BF16; zero means the table's own dtype, or F32
// for an int8 table). The positional table is F32, as tables keep it, so it
// round-trips exactly. Tensors get the names they were imported under, if the table
// was imported, else ExportTokenName and ExportPositionName. The __metadata__
// holds "format": "pt", the table's provenance, and the position offset,
// token scale and compute dtype, which Import reads back, so that export then import gives the
// same lookups.
//
// dst must not be src; o says whether an existing dst is replaced.
func Export(dst, src string, dtype format.DType, o WriteOptions) error {
	return export(src, dtype, func(meta map[string]string, tensors []safetensors.WriteTensor) error {
		return safetensors.WriteFileWith(dst, meta, tensors, &atomicfile.Options{NoReplace: o.NoReplace, Inputs: []string{src}})
	})
}

// ExportTo writes what Export writes to w, as a stream (the safetensors
// header comes first, and its size is known before any row is read).
func ExportTo(w io.Writer, src string, dtype format.DType) error {
	return export(src, dtype, func(meta map[string]string, tensors []safetensors.WriteTensor) error {
		_, err := safetensors.Write(w, meta, tensors)
		return err
	})
}

// export prepares the tensors of the table at src and hands them to write.
func export(src string, dtype format.DType, write func(map[string]string, []safetensors.WriteTensor) error) error {
	in, err := format.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if dtype == 0 {
		dtype = in.DType
		if dtype == format.Int8 {
			dtype = format.F32
		}
	}
	var st safetensors.DType
	switch dtype {
	case format.F32:
		st = safetensors.F32
	case format.F16:
		st = safetensors.F16
	case format.BF16:
		st = safetensors.BF16
	default:
		return fmt.Errorf("cannot export as %s: safetensors has no row-wise int8 type; use f32, f16 or bf16", dtype)
	}
	tokName, posName := ExportTokenName, ExportPositionName
	var prov struct {
		Import *ImportInfo `json:"import"`
	}
	if json.Unmarshal(in.Metadata(), &prov) == nil && prov.Import != nil {
		tokName = prov.Import.Tensor
		if prov.Import.PositionsTensor != "" {
			posName = prov.Import.PositionsTensor
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
	tensors := []safetensors.WriteTensor{{
		Name: tokName, DType: st, Shape: []int64{in.Rows, int64(in.Dim)},
		Data: func(w io.Writer) error { return writeSection(w, in.Reader, in.Tokens(), dtype) },
	}}
	if s, ok := in.Section(format.SectionPositions); ok {
		tensors = append(tensors, safetensors.WriteTensor{
			Name: posName, DType: safetensors.F32, Shape: []int64{s.Rows, int64(in.Dim)},
			Data: func(w io.Writer) error { return writeSection(w, in.Reader, s, format.F32) },
		})
	}
	return write(meta, tensors)
}

// writeSection writes the rows of section s, decoded to float32 and encoded
// as dtype, little-endian, row after row.
func writeSection(w io.Writer, r *format.Reader, s format.Section, dtype format.DType) error {
	size := 4
	if dtype != format.F32 {
		size = 2
	}
	var out []byte
	return copyRows(r, s, func(v []float32) error {
		if cap(out) < len(v)*size {
			out = make([]byte, len(v)*size)
		}
		b := out[:len(v)*size]
		switch dtype {
		case format.F32:
			floatconv.F32ToF32LE(b, v)
		case format.F16:
			floatconv.F32ToF16(b, v)
		case format.BF16:
			floatconv.F32ToBF16(b, v)
		}
		_, err := w.Write(b)
		return err
	}, func(int64) {})
}
