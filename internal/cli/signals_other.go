//go:build !unix

package cli

import (
	"fmt"
	"io"
	"os"
	"os/signal"
)

func ignoreSIGPIPE() {}

// handleInterrupts starts the handler of os.Interrupt for command cmd; the
// returned function stops it.
func handleInterrupts(stderr io.Writer, cmd string) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt)
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
			if cleanUp() {
				fmt.Fprintf(stderr, "%s: interrupted; temporary files removed\n", cmd)
			}
			os.Exit(130)
		case <-done:
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}
