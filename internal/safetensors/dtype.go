package safetensors

import (
	"github.com/embstore/embstore/internal/floatconv"
)

// A DType is a tensor's element type exactly as the header spells it
// ("F32", "BF16", ...). A file may carry dtype strings this package does not
// know; they are kept as they are and only refused when such a tensor is
// read (see DType.Known).
type DType string

// The dtypes of the safetensors format.
const (
	BOOL   DType = "BOOL"    // 8-bit boolean
	U8     DType = "U8"      // unsigned 8-bit integer
	I8     DType = "I8"      // signed 8-bit integer
	U16    DType = "U16"     // unsigned 16-bit integer
	I16    DType = "I16"     // signed 16-bit integer
	U32    DType = "U32"     // unsigned 32-bit integer
	I32    DType = "I32"     // signed 32-bit integer
	U64    DType = "U64"     // unsigned 64-bit integer
	I64    DType = "I64"     // signed 64-bit integer
	F16    DType = "F16"     // IEEE 754 binary16
	BF16   DType = "BF16"    // bfloat16
	F32    DType = "F32"     // IEEE 754 binary32
	F64    DType = "F64"     // IEEE 754 binary64
	C64    DType = "C64"     // complex, two binary32 parts
	F8E4M3 DType = "F8_E4M3" // float8_e4m3fn: no infinities, max 448
	F8E5M2 DType = "F8_E5M2" // float8_e5m2
	F8E8M0 DType = "F8_E8M0" // OCP MX scale: 8-bit exponent only
	F6E2M3 DType = "F6_E2M3" // OCP MX 6-bit float, packed
	F6E3M2 DType = "F6_E3M2" // OCP MX 6-bit float, packed
	F4     DType = "F4"      // OCP MX 4-bit float (E2M1), packed
)

// dtypeInfo describes a known dtype: its width in bits and its rank in the
// reference writer's ordering (the declaration order of its Dtype enum,
// which is by increasing alignment).
type dtypeInfo struct {
	bits int
	rank int
}

var dtypes = map[DType]dtypeInfo{
	BOOL: {8, 0}, F4: {4, 1}, F6E2M3: {6, 2}, F6E3M2: {6, 3}, U8: {8, 4}, I8: {8, 5},
	F8E5M2: {8, 6}, F8E4M3: {8, 7}, F8E8M0: {8, 8}, I16: {16, 9}, U16: {16, 10},
	F16: {16, 11}, BF16: {16, 12}, I32: {32, 13}, U32: {32, 14}, F32: {32, 15},
	C64: {64, 16}, F64: {64, 17}, I64: {64, 18}, U64: {64, 19},
}

// Known reports whether d is one of the dtypes defined by the format.
func (d DType) Known() bool {
	_, ok := dtypes[d]
	return ok
}

// Bits returns the width of one element in bits (4 and 6 for the packed
// OCP MX types), or 0 if d is not Known.
func (d DType) Bits() int { return dtypes[d].bits }

// converters widen one run of little-endian elements to float32.
var converters = map[DType]struct {
	size int
	fn   func([]float32, []byte) int
}{
	F32:    {4, floatconv.F32LEToF32},
	F16:    {2, floatconv.F16ToF32},
	BF16:   {2, floatconv.BF16ToF32},
	F64:    {8, floatconv.F64ToF32},
	F8E4M3: {1, floatconv.F8E4M3ToF32},
	F8E5M2: {1, floatconv.F8E5M2ToF32},
}

// Float32Convertible reports whether tensors of dtype d can be read as
// float32 rows: F32, F16, BF16, F64, F8_E4M3 and F8_E5M2.
func (d DType) Float32Convertible() bool {
	_, ok := converters[d]
	return ok
}

// whyNotConvertible says why a dtype cannot be read as float32.
func whyNotConvertible(d DType) string {
	switch d {
	case BOOL:
		return "BOOL is a boolean type"
	case U8, I8, U16, I16, U32, I32, U64, I64:
		return string(d) + " is an integer type"
	case C64:
		return "C64 is a complex type"
	case F8E8M0, F6E2M3, F6E3M2, F4:
		return string(d) + " is an OCP MX microscaling type, meaningful only with its block scales"
	}
	return "dtype " + quote(string(d)) + " is not a safetensors dtype this reader knows"
}
