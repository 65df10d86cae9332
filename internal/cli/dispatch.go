package cli

import (
	"fmt"
	"io"
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
}

// Dispatch runs the subcommand args[0] of program prog (described by about)
// and returns the exit code. It handles --help, help CMD, --version and
// unknown commands itself.
func Dispatch(prog, about string, subs []Sub, args []string, e Env) int {
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
			return Report(e.Stderr, c.Name, c.Run(e, args[1:]))
		}
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if strings.HasPrefix(args[0], "-") {
		msg = fmt.Sprintf("unknown flag %q (flags go after the command)", args[0])
	}
	return Report(e.Stderr, prog, Usagef("%s", msg))
}
