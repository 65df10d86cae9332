package pack

import (
	"errors"
	"fmt"
	"strings"

	"github.com/embstore/embstore/internal/safetensors"
)

// A SpecError says that a field of a spec, or an argument, cannot be used:
// which, its value and why.
type SpecError struct {
	Field   string // e.g. "SeedSpec.Rows", "ImportSpec.Shape", "dtype"
	Value   any    // the value given
	Problem string // what is wrong with it
	Err     error  // the error behind it, if any (ErrNotMatrix for ImportSpec.Shape)
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("pack: %s %v: %s", e.Field, e.Value, e.Problem)
}

// Unwrap returns the error behind the problem, if any.
func (e *SpecError) Unwrap() error { return e.Err }

// ErrNotMatrix is wrapped by the *SpecError (ImportSpec.Shape) Import
// returns for a tensor that is not 2-D when ImportSpec.Shape does not say
// how to read it as rows, or does not fit its element count.
var ErrNotMatrix = safetensors.ErrNotMatrix

// ErrNoTable is wrapped by a *ChoiceError, returned when the token or
// positional table cannot be found unambiguously.
var ErrNoTable = errors.New("cannot choose the table to import")

// A ChoiceError says why the token or positional table of a checkpoint could
// not be chosen: the named tensor does not exist, no tensor has a known name,
// the tensors with a known name cannot be used (Rejected says why), or
// several could be. It wraps ErrNoTable.
type ChoiceError struct {
	Table      string   // "token" or "positional"
	Problem    string   // what went wrong
	Rejected   []string // tensors with a known name that were refused, each with the reason
	Candidates string   // the checkpoint's 2-D tensors, for choosing one
}

func (e *ChoiceError) Error() string {
	msg := fmt.Sprintf("%v: %s", ErrNoTable, e.Problem)
	if len(e.Rejected) > 0 {
		msg += " (" + strings.Join(e.Rejected, "; ") + ")"
	}
	if e.Candidates != "" {
		msg += "; " + e.Candidates
	}
	return msg
}

// Unwrap returns ErrNoTable.
func (e *ChoiceError) Unwrap() error { return ErrNoTable }

// A ConventionError says that a model convention does not fit the table
// being imported: a position offset past the positional table (or with no
// positional table), a token scale that is not a finite, non-zero float32,
// a value in the source's metadata that does not parse, a config.json that
// calls for a scale it gives no size for.
type ConventionError struct {
	Convention string // "position offset", "token scale" or "compute dtype"
	Source     string // where it came from, as recorded in the metadata; "" if not known
	Problem    string
}

func (e *ConventionError) Error() string {
	if e.Source == "" {
		return fmt.Sprintf("pack: %s: %s", e.Convention, e.Problem)
	}
	return fmt.Sprintf("pack: %s (%s): %s", e.Convention, e.Source, e.Problem)
}

// A ConfigError says that config.json beside a checkpoint is needed (for the
// conventions in Needed, which nothing else gave) and cannot be read.
type ConfigError struct {
	Err    error    // why config.json cannot be read
	Needed []string // "position offset", "token scale", "compute dtype"
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("the %s must come from config.json, which cannot be used: %v", strings.Join(e.Needed, ", "), e.Err)
}

// Unwrap returns why config.json cannot be read.
func (e *ConfigError) Unwrap() error { return e.Err }
