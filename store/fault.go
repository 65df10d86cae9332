package store

import "github.com/embstore/embstore/internal/faultguard"

// guard runs fn with faults on mapped memory turned into a *FaultError
// instead of a crash (see package faultguard): reading a mapped file that
// another process truncated raises SIGBUS. The setting is per goroutine,
// so every goroutine that reads the mapping runs under guard. Panics that
// are not memory faults propagate unchanged.
func guard(fn func() error) error {
	err := faultguard.Run(fn)
	if f, ok := err.(*faultguard.Fault); ok {
		return &FaultError{Addr: f.Addr}
	}
	return err
}
