package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// Env is what a command reads and writes besides its arguments.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// A Sub is one subcommand of a program.
type Sub struct {
	Command
	Summary string // one line for the program's usage
	Run     func(e Env, args []string) error
	// OwnSignals says that the command handles SIGINT and SIGTERM itself
	// (a server shutting down gracefully). Otherwise Main's handler removes
	// the temporary files of unfinished writes and ends the process.
	OwnSignals bool
}

// Main runs the subcommand named by the process's arguments, as Dispatch
// does, on the process's standard streams, and returns the exit status.
// Unless the subcommand handles signals itself, an interrupt (SIGINT,
// SIGTERM, SIGHUP) removes the temporary files of unfinished writes and of
// OnInterrupt, then ends the process by the same signal (exit status 128 +
// the signal's number in the shell: 130 for SIGINT, 143 for SIGTERM). A
// closed pipe on standard output ends the command quietly with status 0.
func Main(prog, about string, subs []Sub) int {
	ignoreSIGPIPE()
	return dispatch(prog, about, subs, os.Args[1:], Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}, true)
}

// Dispatch runs the subcommand args[0] of program prog (described by about)
// and returns the exit code. It handles --help, help CMD, --version and
// unknown commands itself, and checks every write to standard output: a
// command whose output could not be written (a full disk) fails with one
// line saying so, and one whose reader went away (a closed pipe) stops and
// exits quietly with ExitOK.
func Dispatch(prog, about string, subs []Sub, args []string, e Env) int {
	return dispatch(prog, about, subs, args, e, false)
}

func dispatch(prog, about string, subs []Sub, args []string, e Env, signals bool) int {
	out := &Output{w: e.Stdout}
	e.Stdout = out
	code := func() int {
		usage := func(w io.Writer) {
			fmt.Fprintf(w, "usage: %s <command> [flags] [arguments]\n\n%s\n\nCommands:\n", prog, about)
			for _, c := range subs {
				fmt.Fprintf(w, "  %-8s %s\n", strings.TrimPrefix(c.Name, prog+" "), c.Summary)
			}
			fmt.Fprintf(w, "\nRun '%s <command> --help' for a command's flags; '%s --version' for the version.\n", prog, prog)
		}
		if len(args) == 0 {
			usage(e.Stderr)
			return ExitUsage
		}
		switch args[0] {
		case "-h", "--help":
			usage(e.Stdout)
			return ExitOK
		case "help":
			if len(args) == 1 {
				usage(e.Stdout)
				return ExitOK
			}
			args = []string{args[1], "--help"}
		case "--version", "version":
			fmt.Fprintln(e.Stdout, VersionLine(prog))
			return ExitOK
		}
		for _, c := range subs {
			if c.Name == prog+" "+args[0] {
				if signals && !c.OwnSignals {
					stop := handleInterrupts(e.Stderr, c.Name)
					defer stop()
				}
				err := c.Run(e, args[1:])
				awaitInterrupt()
				if out.closedPipe() {
					return ExitOK // the reader has what it wanted
				}
				return Report(e.Stderr, c.Name, out.check(err))
			}
		}
		msg := fmt.Sprintf("unknown command %q", args[0])
		if strings.HasPrefix(args[0], "-") {
			msg = fmt.Sprintf("unknown flag %q (flags go after the command)", args[0])
		}
		return Report(e.Stderr, prog, Usagef("%s", msg))
	}()
	if out.closedPipe() {
		return ExitOK
	}
	if out.err != nil && code == ExitOK {
		return Report(e.Stderr, prog, out.check(nil))
	}
	return code
}
