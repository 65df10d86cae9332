//go:build !linux

// Command cold needs Linux: memory cgroups, posix_fadvise and the kernel's
// page-fault counters. Elsewhere it only says so.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "cold: needs Linux (memory cgroups, posix_fadvise)")
	os.Exit(1)
}
