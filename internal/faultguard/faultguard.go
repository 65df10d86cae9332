// Package faultguard turns a memory fault into an error. Reading a mapped
// file that another process truncated raises SIGBUS, which kills a Go
// program unless the faulting goroutine has asked
// (runtime/debug.SetPanicOnFault) for a panic instead, which can then be
// recovered. Every reader of a mapping in this module (the store's lookups
// and workers, the safetensors reader) runs its reads under Run.
package faultguard

import (
	"fmt"
	"runtime/debug"
)

// A Fault is a memory fault that Run caught: a read (or write) of mapped
// memory that the operating system refused.
type Fault struct {
	Addr uintptr // the address that faulted
}

func (f *Fault) Error() string { return fmt.Sprintf("memory fault at address %#x", f.Addr) }

// Run runs fn with faults on memory turned into a *Fault instead of a
// crash, and returns what fn returned. The setting is per goroutine: it
// covers what fn does on the calling goroutine, and is restored when fn
// returns. Panics that are not memory faults propagate unchanged.
func Run(fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			if f, ok := r.(interface{ Addr() uintptr }); ok {
				err = &Fault{Addr: f.Addr()}
				return
			}
			panic(r)
		}
	}()
	return fn()
}
