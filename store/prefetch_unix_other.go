//go:build unix && !linux

package store

import "golang.org/x/sys/unix"

// vectoredAdviceWorks is false: only Linux has process_madvise.
func vectoredAdviceWorks() bool { return false }

func adviseWillNeedVec(data []byte, rs []pageRun, page int) bool { return false }

// allResident is false: residency is read on Linux only, so every batch
// is advised.
func allResident(b, vec []byte) bool { return false }

// adviseWillNeed advises MADV_WILLNEED on b; the advice's errors are ignored.
func adviseWillNeed(b []byte) { _ = unix.Madvise(b, unix.MADV_WILLNEED) }
