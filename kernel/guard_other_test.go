//go:build !linux

package kernel

import "testing"

// guarded returns n bytes; only Linux builds add a guard page after them.
func guarded(t testing.TB, n int) []byte { return make([]byte, n) }

// bigBuffer returns n bytes for a benchmark table; huge is ignored.
func bigBuffer(t testing.TB, n int, huge bool) ([]byte, func()) { return make([]byte, n), func() {} }
