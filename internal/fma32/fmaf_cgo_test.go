//go:build cgo

package fma32

import "github.com/embstore/embstore/internal/testing/cref"

// With cgo, the comparisons take the C library's fmaf as the reference and
// check the math/big oracle against it on a sample.
func init() { libcFmaf = cref.FmafSlice }
