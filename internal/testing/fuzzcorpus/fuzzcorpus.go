// Package fuzzcorpus reads and writes seed corpora in the file format that
// `go test -fuzz` uses ("go test fuzz v1", then one T(literal) line per
// argument), for the fuzz tests of this repository.
//
// The repository keeps every fuzz target's corpus in testdata/fuzz/<name> at
// its root, so that a corpus grown by a long `go test -fuzz` run (Go keeps it
// in the build cache, under fuzz/<import path>/<name>) can be copied there as
// it is: bench/fuzz.sh -grow does that. A target that does not load its
// corpus through this package keeps it where go test reads it by itself,
// <package>/testdata/fuzz/<name>, and the script copies there instead. Only
// tests import this package.
package fuzzcorpus

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Dir returns the corpus directory of fuzz target name, seen from a package
// directory depth levels below the repository root.
func Dir(depth int, name string) string {
	return filepath.Join(strings.Repeat("../", depth)+"testdata", "fuzz", name)
}

// Load returns the entries of the corpus in dir, each as the list of its
// arguments, in file name order. A missing directory is an empty corpus.
func Load(dir string) ([][]any, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out [][]any
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		vals, err := Parse(string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", filepath.Join(dir, e.Name()), err)
		}
		out = append(out, vals)
	}
	return out, nil
}

// Parse decodes one corpus file, for the argument types this repository's
// fuzz targets use: []byte, string, bool, byte, int, int64, uint16, uint32
// and uint64.
func Parse(s string) ([]any, error) {
	lines := strings.Split(s, "\n")
	if strings.TrimSuffix(lines[0], "\r") != "go test fuzz v1" {
		return nil, fmt.Errorf("not a go test fuzz v1 file")
	}
	var vals []any
	for _, line := range lines[1:] {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		open := strings.IndexByte(line, '(')
		if open < 0 || !strings.HasSuffix(line, ")") {
			return nil, fmt.Errorf("malformed line %q", line)
		}
		v, err := parseValue(line[:open], line[open+1:len(line)-1])
		if err != nil {
			return nil, fmt.Errorf("line %q: %v", line, err)
		}
		vals = append(vals, v)
	}
	return vals, nil
}

func parseValue(typ, lit string) (any, error) {
	switch typ {
	case "[]byte":
		s, err := strconv.Unquote(lit)
		return []byte(s), err
	case "string":
		return strconv.Unquote(lit)
	case "bool":
		return strconv.ParseBool(lit)
	case "byte", "uint8":
		if len(lit) >= 3 && lit[0] == '\'' && lit[len(lit)-1] == '\'' {
			r, _, tail, err := strconv.UnquoteChar(lit[1:len(lit)-1], '\'')
			if err == nil && (tail != "" || r > 0xff) {
				err = fmt.Errorf("%s is not a byte", lit)
			}
			return byte(r), err
		}
		v, err := strconv.ParseUint(lit, 0, 8)
		return byte(v), err
	case "int", "int64":
		v, err := strconv.ParseInt(lit, 0, 64)
		if typ == "int" {
			return int(v), err
		}
		return v, err
	case "uint16":
		v, err := strconv.ParseUint(lit, 0, 16)
		return uint16(v), err
	case "uint32":
		v, err := strconv.ParseUint(lit, 0, 32)
		return uint32(v), err
	case "uint64":
		return strconv.ParseUint(lit, 0, 64)
	}
	return nil, fmt.Errorf("argument type %s is not used by this repository's fuzz targets", typ)
}

// Marshal encodes arguments as `go test -fuzz` writes a corpus file.
func Marshal(vals ...any) []byte {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case string:
			fmt.Fprintf(&b, "string(%q)\n", v)
		case byte:
			fmt.Fprintf(&b, "byte(%q)\n", v)
		default:
			fmt.Fprintf(&b, "%T(%v)\n", v, v)
		}
	}
	return []byte(b.String())
}

// Arg returns argument i of a corpus entry as a T, or an error naming both
// types if it has another type.
func Arg[T any](args []any, i int) (T, error) {
	var want T
	if i >= len(args) {
		return want, fmt.Errorf("corpus entry has %d arguments, the fuzz target takes more", len(args))
	}
	v, ok := args[i].(T)
	if !ok {
		return want, fmt.Errorf("corpus entry argument %d is a %T, the fuzz target takes a %T", i, args[i], want)
	}
	return v, nil
}
