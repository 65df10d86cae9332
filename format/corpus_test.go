package format

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// update rewrites the generated test files under the repository's testdata
// (the defect-named fixtures of testdata/format and the seed corpora of
// testdata/fuzz) instead of comparing them with what the tests generate.
var update = flag.Bool("update", false, "rewrite the generated fixtures and fuzz seed corpora in testdata")

// repoTestdata is the repository's testdata directory, seen from this
// package.
var repoTestdata = filepath.Join("..", "testdata")

// corpusDir returns the directory of the seed corpus of fuzz target name:
// testdata/fuzz/<name> at the root of the repository. A corpus grown by a
// long `go test -fuzz` run (in the Go build cache, under fuzz/<import
// path>/<name>) can be copied there as is; every short run then starts from
// it.
func corpusDir(name string) string { return filepath.Join(repoTestdata, "fuzz", name) }

// loadCorpus returns the entries of the seed corpus of fuzz target name, each
// as the list of its arguments. A missing directory is an empty corpus.
func loadCorpus(tb testing.TB, name string) [][]any {
	tb.Helper()
	entries, err := os.ReadDir(corpusDir(name))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]any
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(corpusDir(name), e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		vals, err := parseCorpusFile(string(b))
		if err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		out = append(out, vals)
	}
	return out
}

// corpusArg returns argument i of a corpus entry as a T, failing if it has
// another type.
func corpusArg[T any](tb testing.TB, args []any, i int) T {
	tb.Helper()
	v, ok := args[i].(T)
	if !ok {
		var want T
		tb.Fatalf("corpus entry argument %d is a %T, the fuzz target takes a %T", i, args[i], want)
	}
	return v
}

// parseCorpusFile decodes a corpus file in the format `go test -fuzz` writes
// ("go test fuzz v1", then one T(literal) line per argument) for the argument
// types the fuzz targets of this repository use.
func parseCorpusFile(s string) ([]any, error) {
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
		typ, lit := line[:open], line[open+1:len(line)-1]
		v, err := parseCorpusValue(typ, lit)
		if err != nil {
			return nil, fmt.Errorf("line %q: %v", line, err)
		}
		vals = append(vals, v)
	}
	return vals, nil
}

func parseCorpusValue(typ, lit string) (any, error) {
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
	case "uint64":
		return strconv.ParseUint(lit, 0, 64)
	}
	return nil, fmt.Errorf("argument type %s is not used by this repository's fuzz targets", typ)
}

// marshalCorpusFile encodes arguments as `go test -fuzz` writes a corpus
// file.
func marshalCorpusFile(vals ...any) []byte {
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

// syncGenerated writes files (name to content) into dir with -update, and
// otherwise checks that dir holds those files with that content, so that
// generated testdata cannot drift from the code that generates it. With
// exclusive, files of dir ending in ext that are not generated are errors
// (-update removes them); without, they are left alone, as the entries a
// fuzzing run adds to a seed corpus are.
func syncGenerated(t *testing.T, dir, ext string, exclusive bool, files map[string][]byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		old, _ := filepath.Glob(filepath.Join(dir, "*"+ext))
		for _, p := range old {
			if _, ok := files[filepath.Base(p)]; !ok && exclusive {
				os.Remove(p)
			}
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%v (run go test ./format/ -run %s -update)", err, t.Name())
			continue
		}
		if string(got) != string(want) {
			t.Errorf("%s differs from what %s generates (run go test ./format/ -run %s -update)", filepath.Join(dir, name), t.Name(), t.Name())
		}
	}
	on, _ := filepath.Glob(filepath.Join(dir, "*"+ext))
	for _, p := range on {
		if _, ok := files[filepath.Base(p)]; !ok && exclusive {
			t.Errorf("%s is not generated by %s: remove it or add its case", p, t.Name())
		}
	}
}

// TestCorpusFileFormat checks the corpus codec against a file as `go test
// -fuzz` writes one, and against itself.
func TestCorpusFileFormat(t *testing.T) {
	goWrites := "go test fuzz v1\n[]byte(\"\\x00a\\xff\")\nint64(-5)\nbool(true)\nbyte('\\u0080')\nint(7)\nuint64(18446744073709551615)\nstring(\"x\\n\")\n"
	want := []any{[]byte("\x00a\xff"), int64(-5), true, byte(0x80), 7, uint64(math.MaxUint64), "x\n"}
	got, err := parseCorpusFile(goWrites)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
		t.Fatalf("parsed %#v; want %#v", got, want)
	}
	if again := string(marshalCorpusFile(want...)); again != goWrites {
		t.Fatalf("marshalled\n%s\nwant\n%s", again, goWrites)
	}
	if v, err := parseCorpusValue("byte", `'\x80'`); err != nil || v != byte(0x80) {
		t.Fatalf("byte('\\x80') parsed as %v, %v", v, err)
	}
	for _, bad := range []string{"", "go test fuzz v2\nint(1)\n", "go test fuzz v1\nfloat64(1)\n", "go test fuzz v1\nint64 5\n"} {
		if _, err := parseCorpusFile(bad); err == nil {
			t.Errorf("parseCorpusFile(%q) accepted", bad)
		}
	}
}
