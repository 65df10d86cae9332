package store

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// residency returns how many bytes of the mapping b are in memory (mincore)
// and how many this process maps with huge pages (/proc/self/smaps), each -1
// if it cannot be read.
func residency(b []byte) (resident, huge int64) {
	resident, huge = -1, -1
	page := os.Getpagesize()
	vec := make([]byte, (len(b)+page-1)/page)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
	if errno == 0 {
		resident = 0
		for i, v := range vec {
			if v&1 != 0 {
				resident += int64(min(page, len(b)-i*page))
			}
		}
	}
	if h, ok := smapsHugeBytes(uintptr(unsafe.Pointer(&b[0])), uintptr(len(b))); ok {
		huge = h
	}
	return resident, huge
}

// smapsHugeBytes sums the huge-page-mapped bytes (AnonHugePages,
// FilePmdMapped, ShmemPmdMapped) of the memory areas of /proc/self/smaps that
// overlap [start, start+n). An area the kernel merged with a neighbour may
// count some of the neighbour's pages; the total is capped at n.
func smapsHugeBytes(start, n uintptr) (int64, bool) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var total int64
	inside := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if lo, hi, ok := parseRange(line); ok {
			inside = lo < start+n && hi > start
			continue
		}
		if !inside {
			continue
		}
		for _, key := range []string{"AnonHugePages:", "FilePmdMapped:", "ShmemPmdMapped:"} {
			if v, ok := strings.CutPrefix(line, key); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				if err == nil {
					total += kb << 10
				}
			}
		}
	}
	return min(total, int64(n)), sc.Err() == nil
}

// parseRange parses the "start-end perms ..." line that opens an area in
// smaps.
func parseRange(line string) (lo, hi uintptr, ok bool) {
	addr, _, found := strings.Cut(line, " ")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(addr, "-")
	if !found {
		return 0, 0, false
	}
	l, err1 := strconv.ParseUint(a, 16, 64)
	h, err2 := strconv.ParseUint(b, 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uintptr(l), uintptr(h), true
}
