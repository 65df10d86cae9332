//go:build cgo

package fma32

import "github.com/embstore/embstore/internal/cref"

// With cgo, every comparison also checks the math/big oracle against the C
// library's fmaf.
func init() { libcFmaf = cref.FmafSlice }
