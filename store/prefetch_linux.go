package store

import (
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// selfPidfd is a pidfd of this process, for process_madvise, opened once;
// -1 if the kernel has none (before Linux 5.3).
var selfPidfd = sync.OnceValue(func() int {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return -1
	}
	return fd
})

// vectoredAdviceWorks reports whether process_madvise(MADV_WILLNEED) on this
// process works (Linux 5.10 and later; some kernels require CAP_SYS_NICE),
// trying it on an empty vector (which passes every check but does nothing).
func vectoredAdviceWorks() bool {
	fd := selfPidfd()
	if fd < 0 {
		return false
	}
	var iov unix.Iovec
	_, _, errno := unix.Syscall6(unix.SYS_PROCESS_MADVISE, uintptr(fd), uintptr(unsafe.Pointer(&iov)), 0, unix.MADV_WILLNEED, 0, 0)
	return errno == 0
}

// adviseWillNeedVec advises MADV_WILLNEED on every run of data (in pages of
// page bytes) with one process_madvise call, and reports whether it did.
func adviseWillNeedVec(data []byte, rs []pageRun, page int) bool {
	var iov [prefetchChunk]unix.Iovec
	n := 0
	for _, r := range rs {
		lo, hi := r.first*page, min(len(data), (r.last+1)*page)
		iov[n].Base = &data[lo]
		iov[n].SetLen(hi - lo)
		n++
	}
	_, _, errno := unix.Syscall6(unix.SYS_PROCESS_MADVISE, uintptr(selfPidfd()), uintptr(unsafe.Pointer(&iov[0])), uintptr(n), unix.MADV_WILLNEED, 0, 0)
	return errno == 0
}

// allResident reports whether every page of b (which starts on a page
// boundary) is in memory, by mincore into vec (a byte per page); false if
// it cannot tell.
func allResident(b, vec []byte) bool {
	if len(b) == 0 {
		return false
	}
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		return false
	}
	for _, v := range vec {
		if v&1 == 0 {
			return false
		}
	}
	return true
}

// adviseWillNeed advises MADV_WILLNEED on b; the advice's errors are ignored.
func adviseWillNeed(b []byte) { _ = unix.Madvise(b, unix.MADV_WILLNEED) }
