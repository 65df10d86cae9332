package cli

import (
	"sync"
	"sync/atomic"

	"github.com/embstore/embstore/internal/atomicfile"
)

var cleanups struct {
	sync.Mutex
	next int
	fns  map[int]func()
}

// OnInterrupt registers fn to run if the command is interrupted by a signal
// (for a temporary directory, say), and returns a function that
// unregisters it.
func OnInterrupt(fn func()) (cancel func()) {
	cleanups.Lock()
	defer cleanups.Unlock()
	if cleanups.fns == nil {
		cleanups.fns = make(map[int]func())
	}
	id := cleanups.next
	cleanups.next++
	cleanups.fns[id] = fn
	return func() {
		cleanups.Lock()
		delete(cleanups.fns, id)
		cleanups.Unlock()
	}
}

// runCleanups runs the functions OnInterrupt registered and returns how
// many; it keeps the lock so that none is unregistered (or registered)
// while the process ends.
func runCleanups() int {
	cleanups.Lock()
	for _, fn := range cleanups.fns {
		fn()
	}
	return len(cleanups.fns)
}

// interrupting is set once a signal handler has begun to end the process:
// the command's own goroutine then leaves the ending to it (see
// awaitInterrupt).
var interrupting atomic.Bool

// awaitInterrupt blocks for good if the process is being ended by a
// signal. A command whose writes the handler has just failed (the
// temporary file is gone) returns an error; reporting it and exiting with
// status 1 would race the handler, which ends the process by the signal
// after one line of its own.
func awaitInterrupt() {
	if interrupting.Load() {
		select {}
	}
}

// cleanUp removes the temporary files of unfinished writes and runs the
// OnInterrupt functions; it reports whether there was anything to remove.
func cleanUp() bool {
	interrupting.Store(true)
	n := atomicfile.Interrupt()
	return runCleanups()+n > 0
}
