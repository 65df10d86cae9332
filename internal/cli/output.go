package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/term"
)

// Output is a command's standard output: it passes writes on and keeps the
// first error, so that a command that could not write its output fails even
// where it ignored the error of one write (a full disk, /dev/full), and one
// whose reader has gone (a closed pipe) stops quietly.
type Output struct {
	w   io.Writer
	err error
}

// Write writes p, or fails at once after an earlier write failed.
func (o *Output) Write(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.w.Write(p)
	if err != nil {
		o.err = err
	}
	return n, err
}

// closedPipe reports whether a write failed because the reader closed the
// pipe.
func (o *Output) closedPipe() bool { return o.err != nil && errors.Is(o.err, syscall.EPIPE) }

// check returns the error a command ends with: its own, unless standard
// output failed, which is what the user needs to know.
func (o *Output) check(err error) error {
	if o.err == nil || o.closedPipe() {
		return err
	}
	var pe *fs.PathError
	cause := o.err
	if errors.As(o.err, &pe) {
		cause = pe.Err
	}
	return fmt.Errorf("write standard output: %w", cause)
}

// IsTerminal reports whether w, a command's standard output or error, is a
// terminal.
func IsTerminal(w io.Writer) bool {
	if o, ok := w.(*Output); ok {
		w = o.w
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// TableOutput checks the value of a command's --output flag when it names
// a table file: tables are memory-mapped by their readers, so they go to
// regular files, never to standard output ("-").
func TableOutput(path string) error {
	switch path {
	case "":
		return Usagef("--output is required")
	case "-":
		return Usagef("--output -: a table must be written to a file (its readers map it), not to standard output")
	}
	return nil
}
