//go:build unix

package format

import (
	"io/fs"
	"syscall"
)

// allocatedBytes returns the bytes of disk the file st describes occupies.
func allocatedBytes(st fs.FileInfo) int64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return int64(s.Blocks) * 512
	}
	return 0
}
