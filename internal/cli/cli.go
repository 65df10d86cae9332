// Package cli holds what embpack and embquery share: the version, usage
// errors and exit codes, flag sets that report errors the same way (and
// print boolean flags as plain --name), parsing of id lists, and the process
// rules of Main: standard output checked (a failed write fails the command,
// a closed pipe ends it quietly), and interrupts that remove temporary files
// before the process ends by the signal.
package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"strconv"
	"strings"

	"github.com/embstore/embstore/format"
	"github.com/spf13/pflag"
)

// Version is the embstore release the commands report.
const Version = "0.1.0"

// VersionLine returns what --version prints for program prog.
func VersionLine(prog string) string {
	return fmt.Sprintf("%s %s (table format %d.%d, %s %s/%s)", prog, Version, format.Major, format.Minor,
		runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// Exit codes of both commands.
const (
	ExitOK    = 0 // success, --help and --version included
	ExitFail  = 1 // the command ran and failed: bad file, id out of range, I/O error
	ExitUsage = 2 // the command line is wrong: unknown flag, missing or invalid value
)

// A UsageError is a mistake on the command line; commands exit with
// ExitUsage for it and point at --help.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a *UsageError with a formatted message.
func Usagef(format string, args ...any) error { return &UsageError{Msg: fmt.Sprintf(format, args...)} }

// errHelp is returned by Parse when --help was asked for and printed.
var errHelp = errors.New("help requested")

// Report prints err as one line on stderr, prefixed with the command name
// (e.g. "embpack init"), and returns the exit code for it. A nil error is
// ExitOK, and so is the help request Parse returns.
func Report(stderr io.Writer, cmd string, err error) int {
	switch {
	case err == nil, errors.Is(err, errHelp):
		return ExitOK
	}
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	var pe *fs.PathError
	if errors.Is(err, fs.ErrExist) && errors.As(err, &pe) {
		msg = fmt.Sprintf("%s exists; add --force to replace it", pe.Path)
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "%s: %s\nRun '%s --help' for usage.\n", cmd, msg, cmd)
		return ExitUsage
	}
	fmt.Fprintf(stderr, "%s: %s\n", cmd, msg)
	return ExitFail
}

// A Command describes one subcommand for NewFlagSet: its name as typed
// ("embpack init"), a synopsis line and a description for --help.
type Command struct {
	Name     string
	Synopsis string // e.g. "embpack init --rows N --dim D --seed S [flags] -o FILE"
	Help     string // paragraphs printed after the synopsis
}

// NewFlagSet returns a flag set for c that keeps flags in declaration order
// and reports errors instead of exiting.
func NewFlagSet(c Command) *pflag.FlagSet {
	fs := pflag.NewFlagSet(c.Name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(io.Discard)
	fs.BoolP("help", "h", false, "show this help")
	return fs
}

// Parse parses args with fs. It prints c's help to stdout and returns an
// error that Report treats as success when --help is given, and turns flag
// errors into a *UsageError.
func Parse(fs *pflag.FlagSet, c Command, args []string, stdout io.Writer) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			PrintHelp(stdout, fs, c)
			return errHelp
		}
		return &UsageError{Msg: err.Error()}
	}
	if h, _ := fs.GetBool("help"); h {
		PrintHelp(stdout, fs, c)
		return errHelp
	}
	return nil
}

// PrintHelp writes c's synopsis, description and flags.
func PrintHelp(w io.Writer, fs *pflag.FlagSet, c Command) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", c.Synopsis, strings.TrimSpace(c.Help))
	if fs.HasFlags() {
		fmt.Fprintf(w, "\nFlags:\n%s", FlagUsages(fs))
	}
}

// FlagUsages lists the flags of fs, one per line, as pflag does, except
// that a boolean flag shows as plain --name (pflag writes
// --name[=true|false]).
func FlagUsages(fs *pflag.FlagSet) string {
	type line struct{ left, right string }
	var lines []line
	width := 0
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		left := "      --" + f.Name
		if f.Shorthand != "" {
			left = "  -" + f.Shorthand + ", --" + f.Name
		}
		varname, usage := pflag.UnquoteUsage(f)
		if f.Value.Type() != "bool" && varname != "" {
			left += " " + varname
		}
		if f.Value.Type() != "bool" && f.DefValue != "" && f.DefValue != "0" && f.DefValue != "[]" {
			if f.Value.Type() == "string" {
				usage += fmt.Sprintf(" (default %q)", f.DefValue)
			} else {
				usage += fmt.Sprintf(" (default %s)", f.DefValue)
			}
		}
		lines = append(lines, line{left, usage})
		width = max(width, len(left))
	})
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%-*s   %s\n", width, l.left, l.right)
	}
	return b.String()
}

// A onceValue is a string flag that may be given only once: for lists (ids,
// offsets, weights), where a second occurrence would silently replace the
// first.
type onceValue struct {
	s   *string
	set bool
}

func (v *onceValue) String() string {
	if v.s == nil {
		return ""
	}
	return *v.s
}

func (v *onceValue) Set(s string) error {
	if v.set {
		return errors.New("given more than once; give the whole list in one comma-separated value")
	}
	*v.s, v.set = s, true
	return nil
}

func (v *onceValue) Type() string { return "string" }

// ListFlag defines a string flag holding a comma-separated list that may be
// given once: repeating it is a usage error, not a silent replacement.
func ListFlag(fs *pflag.FlagSet, name, usage string) *string {
	s := new(string)
	fs.Var(&onceValue{s: s}, name, usage)
	return s
}

// IsHelp reports whether err is the help request Parse returns; the caller
// should stop and exit successfully.
func IsHelp(err error) bool { return errors.Is(err, errHelp) }

// ParseIDList parses a comma-separated list of int64 ids, such as
// "2,3,5,1". Spaces around ids are allowed.
func ParseIDList(s string) ([]int64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty id list")
	}
	parts := strings.Split(s, ",")
	ids := make([]int64, len(parts))
	for i, p := range parts {
		id, err := ParseID(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("id %d of the list: %w", i+1, err)
		}
		ids[i] = id
	}
	return ids, nil
}

// ParseID parses one id, a decimal int64.
func ParseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, fmt.Errorf("id %q does not fit in an int64", s)
		}
		return 0, fmt.Errorf("%q is not an integer id", s)
	}
	return id, nil
}
