//go:build !unix

package store

// Without a mapping read in place, Open refuses Options.Prefetch, so these
// are never called.

func vectoredAdviceWorks() bool { return false }

func adviseWillNeedVec(data []byte, rs []pageRun, page int) bool { return false }

func adviseWillNeed(b []byte) {}

func allResident(b, vec []byte) bool { return false }
