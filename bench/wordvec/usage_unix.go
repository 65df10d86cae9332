//go:build unix

package main

import "syscall"

// usage returns the CPU seconds (user and system) the process has used and
// its peak resident set size in MB.
func usage() (cpu, maxRSSMB float64) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	rss := float64(ru.Maxrss) / 1024 // kilobytes on Linux
	if runtimeGOOS == "darwin" {
		rss = float64(ru.Maxrss) / (1 << 20) // bytes on macOS
	}
	return tv(ru.Utime) + tv(ru.Stime), rss
}
