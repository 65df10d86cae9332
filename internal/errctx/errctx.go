// Package errctx keeps error messages in the one style every embstore error
// follows: lowercase, one line, what went wrong, where (a file, a tensor, an
// argument) and the offending value, with a package prefix ("embstore: ",
// "safetensors: ", "kernel: ") at most once, at the start. A layer that adds
// context to an error from a layer below inserts it after the prefix instead
// of stacking a second prefix in front:
//
//	embstore: t.emb: not an embstore table (bad magic): magic at byte 0
//
// rather than "t.emb: embstore: not an embstore table ..." or
// "embstore: metadata: embstore: invalid metadata".
package errctx

import "strings"

// prefixes are the package prefixes error messages may start with.
var prefixes = []string{"embstore: ", "safetensors: ", "kernel: ", "pack: "}

// Strip returns msg without its package prefix, if it has one.
func Strip(msg string) string {
	for _, p := range prefixes {
		if rest, ok := strings.CutPrefix(msg, p); ok {
			return rest
		}
	}
	return msg
}

type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// In returns err as an error of package pkg ("embstore") about where: its
// message is "pkg: where: " followed by err's message without its prefix.
// errors.Is and errors.As see err. In(pkg, "", err) only replaces the
// prefix. A nil err gives nil.
func In(pkg, where string, err error) error {
	if err == nil {
		return nil
	}
	msg := pkg + ": "
	if where != "" {
		msg += where + ": "
	}
	return &wrapped{msg: msg + Strip(err.Error()), err: err}
}
