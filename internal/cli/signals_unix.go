//go:build unix

package cli

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// ignoreSIGPIPE asks for SIGPIPE, so that a write to a closed pipe on
// standard output returns EPIPE (which Dispatch turns into a quiet exit)
// instead of killing the process.
func ignoreSIGPIPE() { signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE) }

// handleInterrupts starts the handler of SIGINT, SIGTERM and SIGHUP for
// command cmd; the returned function stops it.
func handleInterrupts(stderr io.Writer, cmd string) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			interrupted(stderr, cmd, sig)
		case <-done:
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

// interrupted removes temporary files (saying so, if there were any), then
// ends the process by sig, as a process without a handler would have ended,
// so that the shell sees it (status 128+n) and a shell loop stops.
func interrupted(stderr io.Writer, cmd string, sig os.Signal) {
	if cleanUp() {
		fmt.Fprintf(stderr, "%s: interrupted (%v); temporary files removed\n", cmd, sig)
	}
	s := sig.(syscall.Signal)
	signal.Reset(s)
	syscall.Kill(os.Getpid(), s)
	time.Sleep(time.Second) // the signal ends the process; this is a fallback
	os.Exit(128 + int(s))
}
