package store

import "runtime/debug"

// guard runs fn with faults on mapped memory turned into a *FaultError
// instead of a crash. Reading a mapped file that another process truncated
// raises SIGBUS, which kills a Go program unless the faulting goroutine has
// asked (debug.SetPanicOnFault) for a panic instead. The setting is per
// goroutine, so every goroutine that reads the mapping runs under guard.
// Panics that are not memory faults propagate unchanged.
func guard(fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			if f, ok := r.(interface{ Addr() uintptr }); ok {
				err = &FaultError{Addr: f.Addr()}
				return
			}
			panic(r)
		}
	}()
	return fn()
}
